"""The results-log file: its path checks, identity, lock, and the sentences for each refusal."""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import stat
import sys
from collections.abc import Mapping
from typing import BinaryIO

from resumer.errors import UsageError

FileId = tuple[int, int]  # (st_dev, st_ino): the same file, however its path is spelled


def standard_streams() -> dict[str, FileId]:
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
    if problem := not_a_log(info, standard_streams() if standard is None else standard):
        raise UsageError(f"cannot use {path!r} as the results log: {problem}")


def not_a_log(info: os.stat_result, standard: Mapping[str, FileId]) -> str | None:
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
    return regular_id(info)


def regular_id(info: os.stat_result) -> FileId | None:
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def lock(fd: int, path: str, info: os.stat_result) -> None:
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
            ours = is_resumer_command(cmdline.read(4096))
    except OSError:
        ours = False
    return f"another resumer run (PID {pid})" if ours else f"another process (PID {pid})"


def is_resumer_command(cmdline: bytes) -> bool:
    """True if a NUL-separated command line runs resumer: `resumer ...`, `python -m resumer ...`
    or `python .../bin/resumer ...`; the word elsewhere (a path, a pytest flag) does not count.
    """
    args = cmdline.split(b"\0")
    if os.path.basename(args[0]) == b"resumer":
        return True
    if any(before == b"-m" and arg == b"resumer" for before, arg in itertools.pairwise(args)):
        return True
    return len(args) > 1 and os.path.basename(args[1]) == b"resumer"


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


def cannot_write(path: str, exc: OSError) -> str:
    where = f"cannot write the results log {path!r}"
    if isinstance(exc, FileNotFoundError):
        directory = os.path.dirname(os.path.abspath(path))
        return f"{where}: directory {directory!r} does not exist: create it or fix the path"
    if isinstance(exc, IsADirectoryError):
        return f"{where}: it is a directory: name a file"
    if isinstance(exc, PermissionError):
        return f"{where}: permission denied"
    return f"{where}: {exc.strerror or exc}"


def open_regular(path: str) -> BinaryIO:
    """Open `path` for reading; UsageError if it is not a regular file (never read a FIFO)."""
    check_path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    if (problem := not_a_log(os.fstat(fd), {})) is not None:
        os.close(fd)
        raise UsageError(f"cannot use {path!r} as the results log: {problem}")
    return open(fd, "rb", closefd=True)


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
