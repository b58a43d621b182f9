"""Standard error for the CLI: pointed at /dev/null if closed, and where the one sentence goes."""

from __future__ import annotations

import contextlib
import os
import sys

from resumer.streams import discard


def open_stderr() -> None:
    """Point a closed stderr (fd 2: a cron line's `2>&-`, a supervisor) at /dev/null.

    The log then goes nowhere, as asked, instead of failing on a None stderr, of falling back to
    stdout (where the results may go), or of a file opened later being given fd 2.
    """
    if sys.stderr is not None:
        return
    try:
        os.fstat(2)
    except OSError:
        discard(2)
    with contextlib.suppress(OSError):
        sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115


def say(exc: Exception) -> None:
    """The one sentence, on stderr; if stderr is gone too there is nowhere left to say it."""
    if sys.stderr is not None:  # print(file=None) would write to stdout, the results
        with contextlib.suppress(OSError, ValueError):
            print(f"resumer: {exc}", file=sys.stderr)
