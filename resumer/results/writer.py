"""The results log: the one place that knows its JSON Lines schema, writes it and reads it back.

A results log is a regular file, or stdout. The run holds an exclusive lock on the file from
before it is read for --resume until the run is over, so two runs never share one log. If the
log cannot be written mid-run, the writer sends every outcome it could not record to stderr as
a JSON line instead and reports the failure, so the run can stop: nothing is lost in silence.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import json.encoder
import math
import os
import select
import stat
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, BinaryIO, Self, TextIO

from resumer.errors import ResultsLogError, UsageError
from resumer.records import Result, Status
from resumer.seen import SeenRooms, tag
from resumer.streams import discard

_STATUSES = {status.value: status for status in Status}
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
FileId = tuple[int, int]  # (st_dev, st_ino): the same file, however its path is spelled


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


class ResultsWriter:
    """Appends result lines to a file or stdout, each line whole in one write, no buffer.

    A failed write does not raise: the writer marks itself broken, and that outcome and every
    later one go to stderr (`spill`) instead; `write` returns False so the run can stop, and
    `error` is then the sentence for the operator.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        name: str,
        owned: bool,
        torn: bool = False,
        spill: TextIO | None = None,
    ) -> None:
        self._stream = stream
        self._name = name  # for messages: the path, or "stdout"
        self._owned = owned  # a file we opened, locked, and close; stdout is never closed
        self._torn = torn  # the file's last line has no "\n": end it before our first line
        self._spill = spill  # None: sys.stderr as it is at the time (a live display wraps it)
        self._failure: OSError | None = None
        self._written = 0
        self._spilled = 0
        self._closed = False
        # Where the log ends, if it is a regular file: a failed write is cut back to it. Kept
        # by adding what each write wrote (the lock keeps other writers out), not asked of the
        # file before every write: that would be a syscall more per record.
        self._end = self._end_of_file()

    @property
    def to_stdout(self) -> bool:
        """True if the results go to standard output."""
        return self._name == "stdout"

    @property
    def identity(self) -> FileId | None:
        """The (device, inode) of the log if it is a regular file, else None."""
        try:
            return _regular_id(os.fstat(self._stream.fileno()))
        except (OSError, ValueError):  # a stream without a descriptor (tests)
            return None

    @classmethod
    def open(cls, path: str | None) -> ResultsWriter:
        """Open and lock `path` for appending (created if missing, never truncated).

        None means stdout. Anything but a regular file is refused, and so is a file another
        run holds, all with a sentence (UsageError): nothing was sent yet.
        """
        if path is None:
            return cls(_stdout(), name="stdout", owned=False)
        standard = _standard_streams()  # before our open: a closed fd 1 could be reused by it
        check_path(path, standard)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
        try:  # O_NONBLOCK: a FIFO put there since the check must not hang the open
            fd = os.open(path, flags, 0o666)
        except OSError as exc:
            raise UsageError(_cannot_write(path, exc)) from exc
        try:
            info = os.fstat(fd)
            if problem := _not_a_log(info, standard):  # the path changed since the check
                raise UsageError(f"cannot use {path!r} as the results log: {problem}")
            os.set_blocking(fd, True)
            _lock(fd, path, info)
            size = os.fstat(fd).st_size  # now that no other run can be writing it
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            stream = open(fd, "ab", buffering=0, closefd=True)  # noqa: SIM115 - close() closes it
        except OSError as exc:
            os.close(fd)
            raise UsageError(_cannot_write(path, exc)) from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(stream, name=path, owned=True, torn=torn)

    def write(self, result: Result) -> bool:
        """Write one result line; False if the log cannot be written (the line went to stderr)."""
        data = line_bytes(result)
        if self._failure is None:
            try:
                if self._torn:
                    data = b"\n" + data  # keeps a line torn by a crash alone; --resume skips it
                written = self._stream.write(data)
                if written != len(data):  # a raw stream may take part of it (a signal, a pipe)
                    _write_rest(self._stream, data, written or 0)
                self._stream.flush()  # a no-op on the raw streams `open` makes; tests pass others
            except OSError as exc:
                self._failed(exc)
                self._cut_back(self._end)
            else:
                self._torn = False
                self._written += 1
                if self._end is not None:
                    self._end += len(data)
                return True
        self._spill_line(result)
        return False

    @property
    def error(self) -> ResultsLogError | None:
        """Why the log could not be written, as one sentence for the operator; None if it could."""
        if self._failure is None:
            return None
        exc = self._failure
        if isinstance(exc, BrokenPipeError):
            cause = "the program reading the results on stdout closed the pipe"
        elif self.to_stdout:
            cause = f"the results could not be written to stdout ({exc.strerror or exc})"
        else:
            cause = f"the results log {self._name!r} could not be written ({exc.strerror or exc})"
        remedy = "free some space" if exc.errno in _FULL else "fix the disk or the file"
        if isinstance(exc, BrokenPipeError):
            fix = "write the results to a file with -o"
        elif self.to_stdout:
            fix = (
                f"{remedy}, append those lines to the results, then run again with -o FILE --resume"
            )
        else:
            fix = f"{remedy}, append those lines to the log, then run again with --resume"
        spilled = "the outcome" if self._spilled == 1 else f"the {self._spilled} outcomes"
        return ResultsLogError(
            f"{cause} after {_records(self._written)}: the run stopped sending, and {spilled} "
            f"it could not write {'is' if self._spilled == 1 else 'are'} on stderr above as "
            f"JSON lines: {fix}"
        )

    def has_records(self) -> bool:
        """True if the log file holds at least one non-blank line."""
        with self._reader() as stream:
            return _has_records(stream)

    def final_rooms(self) -> FinalRooms:
        """The rooms already final in the log file, read through the locked descriptor."""
        with self._reader() as stream:
            return _final_rooms(stream)

    def close(self) -> None:
        """Sync and close a file (releasing its lock); stdout stays open. Twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._failure is None:
                self._stream.flush()
                if self._owned:
                    os.fsync(self._stream.fileno())  # cheap once; survives a power cut too
        except OSError as exc:
            self._failed(exc)
            raise ResultsLogError(
                f"the results log {self._name!r} could not be saved to disk "
                f"({exc.strerror or exc}): check the disk, then run again with --resume"
            ) from exc
        finally:
            if self._owned:
                with contextlib.suppress(OSError):  # nothing is buffered: nothing is lost
                    self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(ResultsLogError):  # the error on its way says more
            self.close()

    def _reader(self) -> BinaryIO:
        # A second descriptor on the same open file: the very file that is locked, read from
        # the start; closing it keeps the lock (the lock belongs to the open file).
        if not self._owned:
            raise ValueError("only a results log file can be read back")  # a bug, not a user's
        reader = open(os.dup(self._stream.fileno()), "rb", closefd=True)  # noqa: SIM115
        reader.seek(0)
        return reader

    def _end_of_file(self) -> int | None:
        """The size of the log if it is a regular file (where a failed write is cut back to)."""
        try:
            info = os.fstat(self._stream.fileno())
        except (OSError, ValueError):  # a stream without a descriptor (tests)
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def _cut_back(self, end: int | None) -> None:
        # A failed write can leave part of its line (a full disk takes what fits). The operator
        # appends the spilled lines after it, so the log must end at the last whole line: a
        # fragment would glue onto the first of them and --resume would skip that record.
        if end is None:
            return
        with contextlib.suppress(OSError, ValueError):  # best effort: the disk is failing
            fd = self._stream.fileno()
            if os.fstat(fd).st_size > end:
                os.ftruncate(fd, end)

    def _failed(self, exc: OSError) -> None:
        self._failure = exc
        if isinstance(exc, BrokenPipeError) and self.to_stdout:
            _silence(self._stream)

    def _spill_line(self, result: Result) -> None:
        # ASCII JSON: the same record, safe on any terminal and in any stderr encoding.
        line = json.dumps(_fields(result), separators=(",", ":")) + "\n"
        stream = self._spill or sys.stderr
        self._spilled += 1
        if stream is None:
            return  # stderr is closed too: there is nowhere left to say anything
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):
            pass  # the same: stderr is gone


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"


def _write_rest(stream: BinaryIO, data: bytes, done: int) -> None:
    """Write data[done:] to a raw stream that took only part of it."""
    view = memoryview(data)
    while done < len(data):
        written = stream.write(view[done:])
        if written is None:  # a non-blocking stdout that is full: wait until it takes more
            select.select([], [stream.fileno()], [])
            continue
        done += written


def _stdout() -> BinaryIO:
    """A raw stream on the descriptor of stdout; UsageError if stdout is closed."""
    if sys.stdout is None:  # Python found descriptor 1 closed at start-up
        raise UsageError(
            "standard output is closed and the results go there without -o: "
            "give -o FILE, or run with stdout open"
        )
    sys.stdout.flush()  # anything printed before goes out before our bytes
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real descriptor (a test, an embedding program)
        return sys.stdout.buffer
    return open(fd, "wb", buffering=0, closefd=False)


def _standard_streams() -> dict[str, FileId]:
    """The files behind this process's stdout and stderr, to refuse -o naming one of them."""
    found = {}
    for name, stream in (("standard output", sys.stdout), ("standard error", sys.stderr)):
        try:
            if stream is not None:
                info = os.fstat(stream.fileno())
                found[name] = (info.st_dev, info.st_ino)
        except (OSError, ValueError):
            continue
    return found


def check_path(path: str, standard: Mapping[str, FileId] | None = None) -> None:
    """UsageError unless `path` is missing or a regular file that is not stdout or stderr.

    Checked without opening it: opening a FIFO or a terminal can block or have effects.
    """
    try:
        info = os.stat(path)
    except OSError:
        return  # missing (it will be created) or unreachable: the open says which
    if problem := _not_a_log(info, _standard_streams() if standard is None else standard):
        raise UsageError(f"cannot use {path!r} as the results log: {problem}")


def _not_a_log(info: os.stat_result, standard: Mapping[str, FileId]) -> str | None:
    """Why a file with this stat cannot be a results log; None if it can."""
    for name, identity in standard.items():
        if (info.st_dev, info.st_ino) == identity:
            return f"it is this run's {name}: omit -o to write the results to stdout"
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "not a regular file"
    return f"it is {kind}: name a regular file, or omit -o to write the results to stdout"


def regular_file_id(path: str | int) -> FileId | None:
    """The (device, inode) of a path or descriptor if it is a regular file, else None."""
    try:
        info = os.fstat(path) if isinstance(path, int) else os.stat(path)
    except (OSError, ValueError):
        return None
    return _regular_id(info)


def _regular_id(info: os.stat_result) -> FileId | None:
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _lock(fd: int, path: str, info: os.stat_result) -> None:
    """Take the run's exclusive lock on the log, or refuse with the holder's PID."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UsageError(
            f"the results log {path!r} is in use by {_holder(info)}: wait for it to finish "
            "or stop it, or give another -o"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        raise UsageError(
            f"cannot lock the results log {path!r} ({exc.strerror}), which keeps two runs from "
            "writing one log: put it on a local disk"
        ) from None


def _holder(info: os.stat_result) -> str:
    """Who holds the flock on this file, from /proc/locks (flock itself does not say)."""
    pid = _lock_holder_pid(info)
    if pid is None:
        return "another process"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            ours = b"resumer" in cmdline.read(4096)
    except OSError:
        ours = False
    return f"another resumer run (PID {pid})" if ours else f"another process (PID {pid})"


def _lock_holder_pid(info: os.stat_result) -> int | None:
    """The PID of the flock holder on the file with this stat, from /proc/locks; None if unknown.

    A line reads `1: FLOCK  ADVISORY  WRITE 4242 fe:00:2146466 0 EOF`: the device as hex
    major:minor, then the inode. Waiters (`1: -> FLOCK ...`) are skipped.
    """
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
                    pid = int(fields[4]) if fields[4].isdigit() else 0
                    return pid if pid > 0 else None  # 0: a holder in another PID namespace
    except OSError:
        pass
    return None


def _silence(stream: BinaryIO) -> None:
    with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor: nothing to do
        discard(stream.fileno())


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
    """Rooms whose last record in a results log is final, per sdkappid: what --resume skips.

    Kept as fingerprints (resumer.seen): about 10 B per room, where a set of room IDs per app
    cost over 100; a room is taken for final by mistake with odds at most n^2/2^66 over n rooms.
    """

    rooms: SeenRooms = field(default_factory=SeenRooms)
    skipped_lines: int = 0  # torn or garbage lines: tolerated, and counted for a warning

    def contains(self, sdkappid: int | None, room_id: str) -> bool:
        """True if this room of this app already reached a final outcome."""
        return self.rooms.contains(tag(sdkappid), room_id)

    @property
    def count(self) -> int:
        """How many rooms are final, over every app."""
        return len(self.rooms)


def read_final(path: str) -> FinalRooms:
    """Stream a results log; the last record of each room decides. A missing file is empty."""
    try:
        with _open_regular(path) as stream:
            return _final_rooms(stream)
    except FileNotFoundError:
        return FinalRooms()
    except OSError as exc:
        raise UsageError(cannot_read(path, exc)) from exc


def has_records(path: str) -> bool:
    """True if `path` exists and holds at least one non-blank line."""
    try:
        with _open_regular(path) as stream:
            return _has_records(stream)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UsageError(cannot_read(path, exc)) from exc


def _open_regular(path: str) -> BinaryIO:
    """Open `path` for reading; UsageError if it is not a regular file (never read a FIFO)."""
    check_path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    if (problem := _not_a_log(os.fstat(fd), {})) is not None:
        os.close(fd)
        raise UsageError(f"cannot use {path!r} as the results log: {problem}")
    return open(fd, "rb", closefd=True)


def _has_records(lines: Iterable[bytes]) -> bool:
    return any(line.strip() for line in lines)


def _final_rooms(lines: Iterable[bytes]) -> FinalRooms:
    rooms = SeenRooms()
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        record = _parse_record(line)
        if record is None:
            skipped += 1
            continue
        sdkappid, room_id, status = record
        if status.is_final:
            rooms.add(tag(sdkappid), room_id)
        else:
            rooms.discard(tag(sdkappid), room_id)  # e.g. ok, then gave_up later: do it again
    return FinalRooms(rooms=rooms, skipped_lines=skipped)


def _parse_record(line: bytes) -> tuple[int | None, str, Status] | None:
    """The (sdkappid, room_id, status) of one line, or None if it is not a whole record."""
    fields = fields_of(line)
    return None if fields is None else (fields[1], fields[2], fields[3])


def cannot_read(path: str, exc: OSError) -> str:
    """The sentence for a results log that cannot be read (--resume, `resumer report`)."""
    where = f"cannot read the results log {path!r}"
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return f"{where}: it does not exist: check the path"
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
