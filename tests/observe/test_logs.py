"""The operational log: what a person at a terminal sees, at each verbosity, and what CI gets."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from resumer.observe import logs
from resumer.observe.logs import NORMAL, QUIET, VERBOSE, keep


@pytest.mark.parametrize(
    ("event", "level", "console", "verbosity", "shown"),
    [
        ("retrying", "info", True, NORMAL, False),  # a retry is not notable at a terminal
        ("retrying", "info", True, VERBOSE, True),  # -v shows every retry
        ("retrying", "info", False, NORMAL, True),  # the JSON log keeps every event
        ("throttled", "info", True, NORMAL, True),
        ("usersig_renewed", "info", True, NORMAL, True),
        ("outage_started", "warning", True, NORMAL, True),
        ("app_aborted", "error", True, QUIET, True),  # -q keeps warnings and errors
        ("throttled", "info", True, QUIET, False),
        ("progress", "info", False, QUIET, False),
    ],
)
def test_which_events_are_shown(
    event: str, level: str, console: bool, verbosity: int, shown: bool
) -> None:
    assert keep(event, level, console=console, verbosity=verbosity) is shown


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_notable_lines_and_ci_gets_every_event() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    try:
        for stream in (terminal, pipe):
            logs.configure("auto", stream)
            log = structlog.get_logger("resumer")
            log.info("retrying", room_id="r1", code=100001)
            log.info("throttled", rate=15.8)
    finally:
        structlog.reset_defaults()  # not bound to this test's captured stderr, which will close
    assert "retrying" not in terminal.getvalue()
    assert "throttled" in terminal.getvalue()
    assert [json.loads(line)["event"] for line in pipe.getvalue().splitlines()] == [
        "retrying",
        "throttled",
    ]
