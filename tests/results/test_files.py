"""Tests for the results-log file checks: regular files only, and the lock's holder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from resumer.errors import UsageError
from resumer.results.files import is_resumer_command
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
        assert str(caught.value) == (
            f"the results log {str(tmp_path / '.' / 'results.jsonl')!r} is in use by another "
            f"process (PID {os.getpid()}): wait for it to finish or stop it, or give another -o"
        )
    ResultsWriter.open(str(path)).close()  # closing released it


@pytest.mark.parametrize(
    ("cmdline", "ours"),
    [
        (b"resumer\0run\0-o\0out.jsonl\0", True),
        (b"/opt/venv/bin/resumer\0run\0", True),
        (b"python3\0-m\0resumer\0run\0", True),
        (b"/usr/bin/python3\0/opt/venv/bin/resumer\0run\0", True),
        (b"python3\0-m\0pytest\0--cov=resumer\0", False),
        (b"/home/resumer/.venv/bin/python\0-m\0pytest\0", False),
        (b"vim\0resumer.toml\0", False),
        (b"", False),
    ],
)
def test_a_resumer_run_is_known_by_its_command_not_a_word_in_it(cmdline: bytes, ours: bool) -> None:
    assert is_resumer_command(cmdline) is ours
