"""The JSON Lines schema of the results log: the one place that spells its nine keys."""

from __future__ import annotations

import functools
import json
import json.encoder
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from resumer.records import Result, Status

_STATUSES = {status.value: status for status in Status}


def utc_timestamp(unix: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-24T10:00:00.123Z.

    Every record gets one, so it is cheap: the second is formatted once (`_utc_second`) and
    the milliseconds come from a table. The arithmetic is `datetime.fromtimestamp`'s own (the
    fraction rounded half-even to microseconds, a carry into the next second), so the text is
    the one a datetime would give, to the byte (tests/test_results.py checks it against one).
    """
    fraction, whole = math.modf(unix)
    micros = round(fraction * 1_000_000)
    second = int(whole)
    if micros >= 1_000_000:
        micros -= 1_000_000
        second += 1
    elif micros < 0:  # before 1970: modf's fraction is negative
        micros += 1_000_000
        second -= 1
    return _utc_second(second) + _MILLIS[micros // 1000]


@functools.lru_cache(maxsize=4)  # the records of one second share it; 4: a late one or two
def _utc_second(second: int) -> str:
    return f"{datetime.fromtimestamp(second, tz=UTC):%Y-%m-%dT%H:%M:%S}"


_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
# The JSON text of each status, and of a string: the C function json.dumps itself uses
# (ensure_ascii=False), so a line built by hand is the line json.dumps would build.
_STATUS_JSON = {status: json.encoder.encode_basestring(status.value) for status in Status}
_string = json.encoder.encode_basestring


def to_line(result: Result) -> str:
    """One compact JSON object and a newline, keys in the documented order."""
    return line_bytes(result).decode("utf-8")


def line_bytes(result: Result) -> bytes:
    """`to_line` as the UTF-8 bytes the writer writes, built without a json.dumps per record.

    Byte for byte what `json.dumps(_fields(result), ensure_ascii=False, separators=(",", ":"))`
    gives (tests/test_results.py checks it over random records): this runs once per room.
    """
    r = result
    text = (
        f'{{"ts":{_string(r.ts)},"sdkappid":{"null" if r.sdkappid is None else r.sdkappid},'
        f'"room_id":{_string(r.room_id)},"status":{_STATUS_JSON[r.status]},'
        f'"error_code":{r.error_code},"error_info":{_string(r.error_info)},'
        f'"request_id":{_string(r.request_id)},"attempts":{r.attempts},'
        f'"elapsed_ms":{r.elapsed_ms}}}\n'
    )
    # A lone surrogate (from a JSON escape in a reply) cannot be written as UTF-8; written as
    # \udNNN it is still inside a JSON string, where that is the JSON escape for the same value.
    return text.encode("utf-8", "backslashreplace")


def ascii_line(result: Result) -> str:
    """The same record as ASCII JSON and a newline: safe on any terminal and stderr encoding."""
    return json.dumps(_fields(result), separators=(",", ":")) + "\n"


def _fields(result: Result) -> dict[str, object]:
    return {
        "ts": result.ts,
        "sdkappid": result.sdkappid,
        "room_id": result.room_id,
        "status": result.status.value,
        "error_code": result.error_code,
        "error_info": result.error_info,
        "request_id": result.request_id,
        "attempts": result.attempts,
        "elapsed_ms": result.elapsed_ms,
    }


# The fields of one record in Result's order: ts, sdkappid, room_id, status, error_code,
# error_info, request_id, attempts, elapsed_ms. A plain tuple, because building a frozen Result
# costs as much as parsing the line: `resumer report` reads a million of them.
Fields = tuple[str, int | None, str, Status, int, str, str, int, int]
# json's C scanner, (text, index) -> (value, end); typeshed does not list the attribute
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def fields_of(line: bytes) -> Fields | None:
    """The fields of one results-log line, or None if the line is not a whole record.

    A record needs `room_id` (a string), `status` (one of the five) and `sdkappid` (an integer,
    or null for a line that named no app); the other keys may be missing (they default as in
    Result) but not of another type. Torn lines, foreign JSON and garbage are all None.
    """
    try:
        text = line.decode("utf-8").strip()
        # json.loads without its Python layers (bytes sniffing, raw_decode): the C scanner
        record, end = _SCAN(text, 0)
    except (ValueError, RecursionError, StopIteration):  # UnicodeDecodeError is a ValueError
        return None
    if end != len(text) or type(record) is not dict:
        return None
    get = record.get
    sdkappid, room_id, status = get("sdkappid"), get("room_id"), get("status")
    ts, info, request_id = get("ts", ""), get("error_info", ""), get("request_id", "")
    code, attempts, elapsed = get("error_code", 0), get("attempts", 0), get("elapsed_ms", 0)
    if (
        type(room_id) is not str
        or type(status) is not str
        or status not in _STATUSES
        or (sdkappid is not None and type(sdkappid) is not int)
        or not (type(ts) is type(info) is type(request_id) is str)
        or not (type(code) is type(attempts) is type(elapsed) is int)
    ):
        return None
    return (ts, sdkappid, room_id, _STATUSES[status], code, info, request_id, attempts, elapsed)
