"""The operational log on stderr: structlog set up once, console at a terminal, JSON otherwise.

A person at a terminal sees the notable events only (a throttle cut, an outage starting and
ending, an app stopped, a UserSig renewed, a stop, and every warning or error): a big incident
retries thousands of times, and those lines would bury the few that matter. The live display
counts the retries instead. `-v` shows every event; `-q` only warnings and errors. The JSON log
keeps every event (machines filter), unless `-q`.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Info events a person at a terminal is shown without -v; warnings and errors always are.
NOTABLE = frozenset({"run_started", "throttled", "usersig_renewed", "redis_back"})
QUIET, NORMAL, VERBOSE = -1, 0, 1


def use_console(log_format: str, stream: TextIO) -> bool:
    """True for a human-readable log: asked for, or `auto` at a terminal."""
    if log_format == "auto":
        return stream.isatty()
    return log_format == "console"


def keep(event: str, level: str, *, console: bool, verbosity: int) -> bool:
    """True if this event is shown at this verbosity, at a terminal or in the JSON log."""
    if level not in ("info", "debug"):
        return True
    if verbosity <= QUIET:
        return False
    return verbosity >= VERBOSE or not console or event in NOTABLE


def _filter(*, console: bool, verbosity: int) -> structlog.typing.Processor:
    def processor(
        _logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not keep(str(event_dict.get("event")), method, console=console, verbosity=verbosity):
            raise structlog.DropEvent
        return event_dict

    return processor


def configure(
    log_format: str = "auto", stream: TextIO | None = None, *, verbosity: int = NORMAL
) -> None:
    """Set up structlog for the whole process: the one place global logging state is set."""
    stream = stream or sys.stderr
    console = use_console(log_format, stream)
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            _filter(console=console, verbosity=verbosity),
            structlog.processors.add_log_level,
            # a person reads the local time of day; a machine gets the full UTC instant
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False)
            if console
            else structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
