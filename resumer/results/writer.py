"""The results-log writer: one whole line per outcome, spilled to stderr if the log fails.

A results log is a regular file, or stdout. The run holds an exclusive lock on the file from
before it is read for --resume until the run is over, so two runs never share one log. If the
log cannot be written mid-run, the writer sends every outcome it could not record to stderr as
a JSON line instead and reports the failure, so the run can stop: nothing is lost in silence.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import sys
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, Self, TextIO

from resumer.errors import ResultsLogError, UsageError
from resumer.records import Result, Status
from resumer.results.files import (
    FileId,
    cannot_write,
    check_path,
    lock,
    not_a_log,
    regular_id,
    standard_streams,
)
from resumer.results.resume import FinalRooms, final_records_in, final_rooms_in, has_records_in
from resumer.results.schema import ascii_line, line_bytes
from resumer.streams import discard

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


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
            return regular_id(os.fstat(self._stream.fileno()))
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
        standard = standard_streams()  # before our open: a closed fd 1 could be reused by it
        check_path(path, standard)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
        try:  # O_NONBLOCK: a FIFO put there since the check must not hang the open
            fd = os.open(path, flags, 0o666)
        except OSError as exc:
            raise UsageError(cannot_write(path, exc)) from exc
        try:
            info = os.fstat(fd)
            if problem := not_a_log(info, standard):  # the path changed since the check
                raise UsageError(f"cannot use {path!r} as the results log: {problem}")
            os.set_blocking(fd, True)
            lock(fd, path, info)
            size = os.fstat(fd).st_size  # now that no other run can be writing it
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            stream = open(fd, "ab", buffering=0, closefd=True)  # noqa: SIM115 - close() closes it
        except OSError as exc:
            os.close(fd)
            raise UsageError(cannot_write(path, exc)) from exc
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
            return has_records_in(stream)

    def final_rooms(self) -> FinalRooms:
        """The rooms already final in the log file, read through the locked descriptor."""
        with self._reader() as stream:
            return final_rooms_in(stream)

    def final_records(
        self, final: Callable[[int | None, str], bool]
    ) -> Iterator[tuple[int, str, Status]]:
        """`resume.final_records_in` over the log file, read through the locked descriptor
        when iterated; to be read to its end before the run writes (they share the offset)."""
        with self._reader() as stream:
            yield from final_records_in(stream, final)

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
        line = ascii_line(result)
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


def _silence(stream: BinaryIO) -> None:
    with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor: nothing to do
        discard(stream.fileno())
