"""Tests for the results-log file checks: regular files only, and the lock's holder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from resumer.errors import UsageError
from resumer.results.resume import has_records, read_final
from resumer.results.writer import ResultsWriter


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (os.mkfifo, "a named pipe"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/full"), "a device"),
        (lambda p: p.symlink_to("/dev/null"), "a device"),
    ],
    ids=["fifo", "directory", "dev-full", "dev-null"],
)
def test_only_a_regular_file_can_be_the_log(
    tmp_path: Path, make: Callable[[Path], object], kind: str
) -> None:
    path = tmp_path / "results.jsonl"
    make(path)
    message = (
        f"cannot use {str(path)!r} as the results log: it is {kind}: name a regular file, or "
        "omit -o to write the results to stdout"
    )
    for attempt in (ResultsWriter.open, read_final, has_records):  # never opened, so no hang
        with pytest.raises(UsageError) as caught:
            attempt(str(path))
        assert str(caught.value) == message


def test_a_second_writer_on_the_same_file_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsWriter.open(str(path)):
        with pytest.raises(UsageError) as caught:
            ResultsWriter.open(str(tmp_path / "." / "results.jsonl"))  # another spelling
        # The holder is this process: named a resumer run if its command line says "resumer"
        # (under `pytest --cov=resumer`, or from a checkout whose path holds the word).
        ours = b"resumer" in Path("/proc/self/cmdline").read_bytes()[:4096]
        holder = "another resumer run" if ours else "another process"
        assert str(caught.value) == (
            f"the results log {str(tmp_path / '.' / 'results.jsonl')!r} is in use by {holder} "
            f"(PID {os.getpid()}): wait for it to finish or stop it, or give another -o"
        )
    ResultsWriter.open(str(path)).close()  # closing released it
