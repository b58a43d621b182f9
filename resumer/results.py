"""The results log: the one place that knows its JSON Lines schema, writes it and reads it back."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO, Self

from resumer.errors import UsageError
from resumer.records import Result, Status

_STATUSES = {status.value: status for status in Status}


def utc_timestamp(unix: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-24T10:00:00.123Z."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def to_line(result: Result) -> str:
    """One compact JSON object and a newline, keys in the documented order."""
    record = {
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
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (from a JSON escape in a reply) cannot be written as UTF-8; written as
    # \udNNN it is still inside a JSON string, where that is the JSON escape for the same value.
    return text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"


class ResultsWriter:
    """Appends result lines to a file or stdout, flushing each so a crash loses nothing written."""

    def __init__(self, stream: BinaryIO, *, name: str, owned: bool, torn: bool = False) -> None:
        self._stream = stream
        self._name = name  # for messages: the path, or "stdout"
        self._owned = owned  # a file we opened and close; stdout is only flushed
        self._torn = torn  # the file's last line has no "\n": end it before our first line
        self._broken = False

    @property
    def to_stdout(self) -> bool:
        """True if the results go to standard output."""
        return self._name == "stdout"

    @classmethod
    def open(cls, path: str | None) -> ResultsWriter:
        """Open `path` for appending (created if missing, never truncated); None means stdout."""
        if path is None:
            sys.stdout.flush()  # anything printed before goes out before our bytes
            return cls(sys.stdout.buffer, name="stdout", owned=False)
        try:
            stream = open(path, "ab")  # noqa: SIM115 - the writer owns it; close() closes it
        except OSError as exc:
            raise UsageError(_cannot_write(path, exc)) from exc
        try:
            torn = _ends_torn(path, stream)
        except OSError as exc:
            stream.close()
            raise UsageError(_cannot_write(path, exc)) from exc
        return cls(stream, name=path, owned=True, torn=torn)

    def write(self, result: Result) -> None:
        """Write one result line and flush it."""
        if self._broken:
            raise UsageError(f"the results log ({self._name}) can no longer be written")
        data = to_line(result).encode("utf-8")
        if self._torn:
            data = b"\n" + data  # keeps a line torn by a crash alone, where --resume skips it
        try:
            self._stream.write(data)
            self._stream.flush()
        except OSError as exc:
            raise self._failed(exc) from exc
        self._torn = False

    def close(self) -> None:
        """Flush and, for a file, sync and close it. Closing twice is harmless."""
        if self._stream.closed:
            return
        try:
            if not self._broken:
                self._stream.flush()
                if self._owned and _is_regular(self._stream):
                    os.fsync(self._stream.fileno())  # cheap once; survives a power cut too
        except OSError as exc:
            raise self._failed(exc) from exc
        finally:
            if self._owned:
                self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _failed(self, exc: OSError) -> UsageError:
        self._broken = True
        if isinstance(exc, BrokenPipeError):
            _silence(self._stream)
            return UsageError(
                f"the results output ({self._name}) was closed by the program reading it: "
                "write the results to a file with -o instead"
            )
        return UsageError(_cannot_write(self._name, exc))


def _ends_torn(path: str, stream: BinaryIO) -> bool:
    """True if the regular file `stream` is not empty and its last byte is not a newline."""
    if not _is_regular(stream) or os.fstat(stream.fileno()).st_size == 0:
        return False  # a pipe or a device (-o /dev/stdout) has no last line to repair
    with open(path, "rb") as reader:  # `stream` is write-only: O_APPEND works with pipes too
        reader.seek(-1, os.SEEK_END)
        return reader.read(1) != b"\n"


def _is_regular(stream: BinaryIO) -> bool:
    return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)


def _silence(stream: BinaryIO) -> None:
    # Python flushes stdout again at exit and would print a BrokenPipeError traceback; pointing
    # the descriptor at /dev/null is the fix the Python docs give (signal.SIGPIPE note).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # a stream without a descriptor: nothing will flush it
        pass


def _cannot_write(path: str, exc: OSError) -> str:
    where = f"cannot write the results log {path!r}"
    if isinstance(exc, FileNotFoundError):
        directory = os.path.dirname(os.path.abspath(path))
        return f"{where}: directory {directory!r} does not exist: create it or fix the path"
    if isinstance(exc, IsADirectoryError):
        return f"{where}: it is a directory: name a file"
    if isinstance(exc, PermissionError):
        return f"{where}: permission denied"
    return f"{where}: {exc.strerror or exc}"


@dataclass(frozen=True, slots=True)
class FinalRooms:
    """Rooms whose last record in a results log is final, per sdkappid: what --resume skips."""

    rooms: Mapping[int | None, Set[str]] = field(default_factory=dict)
    skipped_lines: int = 0  # torn or garbage lines, tolerated

    def contains(self, sdkappid: int | None, room_id: str) -> bool:
        """True if this room of this app already reached a final outcome."""
        return room_id in self.rooms.get(sdkappid, ())

    @property
    def count(self) -> int:
        """How many rooms are final, over every app."""
        return sum(len(ids) for ids in self.rooms.values())


def read_final(path: str) -> FinalRooms:
    """Stream a results log; the last record of each room decides. A missing file is empty."""
    rooms: dict[int | None, set[str]] = {}
    skipped = 0
    try:
        with open(path, "rb") as stream:
            for line in stream:
                if not line.strip():
                    continue
                record = _parse_record(line)
                if record is None:
                    skipped += 1
                    continue
                sdkappid, room_id, status = record
                ids = rooms.setdefault(sdkappid, set())
                if status.is_final:
                    ids.add(room_id)
                else:
                    ids.discard(room_id)  # e.g. ok, then gave_up in a later run: do it again
    except FileNotFoundError:
        return FinalRooms()
    except OSError as exc:
        raise UsageError(_cannot_read(path, exc)) from exc
    return FinalRooms(rooms=rooms, skipped_lines=skipped)


def has_records(path: str) -> bool:
    """True if `path` exists and holds at least one non-blank line."""
    try:
        with open(path, "rb") as stream:
            return any(line.strip() for line in stream)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UsageError(_cannot_read(path, exc)) from exc


def _parse_record(line: bytes) -> tuple[int | None, str, Status] | None:
    """The (sdkappid, room_id, status) of one line, or None if it is not a whole record."""
    fields = fields_of(line)
    return None if fields is None else (fields[1], fields[2], fields[3])


def _cannot_read(path: str, exc: OSError) -> str:
    where = f"cannot read the results log {path!r}"
    if isinstance(exc, IsADirectoryError):
        return f"{where}: it is a directory: name a file"
    if isinstance(exc, PermissionError):
        return f"{where}: permission denied"
    return f"{where}: {exc.strerror or exc}"


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


def from_line(line: bytes) -> Result | None:
    """The Result one results-log line holds, or None if it is not a record (see fields_of)."""
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
