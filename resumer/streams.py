"""Pointing a standard descriptor at /dev/null: for a pipe closed under us, or a terminal gone."""

from __future__ import annotations

import contextlib
import os


def discard(fd: int) -> None:
    """Make `fd` write to /dev/null from now on; nothing if that cannot be done.

    Python flushes stdout again at exit and would print a BrokenPipeError traceback on a closed
    pipe, and writing to a hung-up terminal fails with EIO: pointing the descriptor at /dev/null
    is the fix the Python docs give (signal.SIGPIPE note). It also fills a closed fd 2, so that
    no file opened later is given it.
    """
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
