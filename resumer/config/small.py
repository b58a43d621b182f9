"""Reading a small file whole, bounded, regular files only: a FIFO never blocks the read."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class SmallFile:
    """What was read: at most `limit` + 1 bytes (more means the file is too large), its mode."""

    data: bytes
    mode: int


class NotRegularError(Exception):
    """The path names a FIFO, a device, a directory or a socket: nothing was read from it."""

    def __init__(self, path: str, mode: int) -> None:
        super().__init__(path)
        self.mode = mode


def read_small(path: str | Path, limit: int) -> SmallFile:
    """Up to `limit` + 1 bytes of the regular file `path`; NotRegularError, or an OSError."""
    # O_NONBLOCK: opening a FIFO without a writer would block until one came; it is refused
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularError(str(path), mode)
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, 65536)):
            data += chunk
    finally:
        os.close(fd)
    return SmallFile(data=data, mode=mode)
