"""Tests for the results-log schema: the line encoder, timestamps, and the one decoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resumer.records import Result, Status
from resumer.results.schema import fields_of, line_bytes, to_line, utc_timestamp

KEYS = [
    "ts",
    "sdkappid",
    "room_id",
    "status",
    "error_code",
    "error_info",
    "request_id",
    "attempts",
    "elapsed_ms",
]


def _result(room_id: str, status: Status = Status.OK, sdkappid: int | None = 1400000001) -> Result:
    return Result(ts="2026-11-24T10:00:00.123Z", sdkappid=sdkappid, room_id=room_id, status=status)


def _from_line(line: bytes) -> Result | None:
    fields = fields_of(line)
    if fields is None:
        return None
    ts, sdkappid, room_id, status, code, info, request_id, attempts, elapsed = fields
    return Result(
        ts=ts,
        sdkappid=sdkappid,
        room_id=room_id,
        status=status,
        error_code=code,
        error_info=info,
        request_id=request_id,
        attempts=attempts,
        elapsed_ms=elapsed,
    )


def _read_back(line: str) -> Result:
    record = json.loads(line)
    return Result(**{**record, "status": Status(record["status"])})


@pytest.mark.parametrize("status", list(Status))
def test_to_line_round_trips_every_status(status: Status) -> None:
    result = Result(
        ts="2026-11-24T10:00:00.123Z",
        sdkappid=1400000001,
        room_id="直播间-1",
        status=status,
        error_code=100001,
        error_info="服务繁忙",
        request_id="Id-8c98",
        attempts=3,
        elapsed_ms=83,
    )
    line = to_line(result)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert " " not in line  # compact
    assert "直播间-1" in line  # UTF-8, not \u escapes
    assert list(json.loads(line)) == KEYS
    assert _read_back(line) == result


def test_to_line_writes_null_for_no_sdkappid() -> None:
    assert '"sdkappid":null' in to_line(_result("a", sdkappid=None))


@given(st.text(), st.text())
def test_to_line_is_always_valid_utf8_json(room_id: str, error_info: str) -> None:
    # st.text() makes no lone surrogates, which a reply's JSON escapes can: add one by hand.
    for rid in (room_id, room_id + "\ud800"):
        result = Result(ts="t", sdkappid=1, room_id=rid, status=Status.OK, error_info=error_info)
        line = to_line(result)
        line.encode("utf-8")
        assert _read_back(line) == result


@pytest.mark.parametrize(
    ("unix", "text"),
    [
        (1795514400.123, "2026-11-24T10:00:00.123Z"),
        (1795514400.0, "2026-11-24T10:00:00.000Z"),
        (1795514400.9999, "2026-11-24T10:00:00.999Z"),  # truncated, not rounded
        (0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_utc_timestamp(unix: float, text: str) -> None:
    assert utc_timestamp(unix) == text


def _datetime_timestamp(unix: float) -> str:
    """utc_timestamp as it was, by datetime: what the table-driven one must equal."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@given(
    st.one_of(
        st.floats(min_value=0, max_value=4102444800, allow_nan=False),  # 1970 to 2100
        st.integers(min_value=1795514400, max_value=1795514500).map(lambda s: s + 0.9999995),
        st.integers(min_value=1795514400, max_value=1795514500).map(lambda s: s - 5e-7),
        st.integers(min_value=0, max_value=4102444800),
    )
)
def test_utc_timestamp_is_the_datetime_text(unix: float) -> None:
    assert utc_timestamp(unix) == _datetime_timestamp(unix)


def test_utc_timestamp_rounds_to_microseconds_as_datetime_does() -> None:
    # the fraction is rounded to microseconds first: .9999996 s is the next second
    for unix in (1795514400.9999996, 1795514400.0009995, 1795514400.0005, 1795514400.9994999):
        assert utc_timestamp(unix) == _datetime_timestamp(unix)


# Any text, lone surrogates and characters JSON escapes included.
_ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.text(alphabet='"\\\x00\x1f\x7f\u2028\ud800\udfffa直'),
)


@given(
    st.builds(
        Result,
        ts=_ANY_TEXT,
        sdkappid=st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63)),
        room_id=_ANY_TEXT,
        status=st.sampled_from(Status),
        error_code=st.integers(),
        error_info=_ANY_TEXT,
        request_id=_ANY_TEXT,
        attempts=st.integers(min_value=0, max_value=10**6),
        elapsed_ms=st.integers(min_value=0, max_value=10**12),
    )
)
def test_to_line_is_the_json_dumps_line_byte_for_byte(result: Result) -> None:
    # the line json.dumps built before the line was built by hand: the log did not change
    fields = {
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
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    before = text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
    assert to_line(result) == before
    assert line_bytes(result) == before.encode("utf-8")


RESULTS = st.builds(
    Result,
    ts=st.text(),
    sdkappid=st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
    room_id=st.text(),
    status=st.sampled_from(Status),
    error_code=st.integers(min_value=-(2**31), max_value=2**40),
    error_info=st.text(),
    request_id=st.text(),
    attempts=st.integers(min_value=0, max_value=1000),
    elapsed_ms=st.integers(min_value=0, max_value=10**9),
)


@given(RESULTS)
def test_fields_of_reads_back_what_to_line_wrote(result: Result) -> None:
    back = _from_line(to_line(result).encode("utf-8"))
    # a lone surrogate is written as its JSON escape, and read back as the same value
    assert back == result


def test_fields_of_fills_in_what_a_minimal_record_leaves_out() -> None:
    line = b'{"sdkappid":1400000001,"room_id":"r1","status":"gave_up"}\n'
    assert _from_line(line) == Result(
        ts="", sdkappid=1400000001, room_id="r1", status=Status.GAVE_UP
    )
    assert _from_line(b'  {"sdkappid":null,"room_id":"r1","status":"invalid"}  \r\n') is not None


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"room-1\n",
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok"',  # torn
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok"} {}\n',  # two values
        b'[{"sdkappid":1400000001,"room_id":"r1","status":"ok"}]\n',
        b'{"event":"run_started","sdkappid":1400000001}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"fine"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":["ok"]}\n',
        b'{"sdkappid":1400000001.0,"room_id":"r1","status":"ok"}\n',
        b'{"sdkappid":true,"room_id":"r1","status":"ok"}\n',
        b'{"sdkappid":1400000001,"room_id":null,"status":"ok"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","error_code":"0"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","attempts":1.5}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","ts":0}\n',
        b'{"sdkappid":1400000001,"room_id":"r\xff","status":"ok"}\n',
        b"[" * 100_000,
    ],
)
def test_fields_of_refuses_what_is_not_a_whole_record(line: bytes) -> None:
    assert _from_line(line) is None
