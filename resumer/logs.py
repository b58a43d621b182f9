"""The operational log on stderr: structlog set up once, console at a terminal, JSON otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

import structlog


def use_console(log_format: str, stream: TextIO) -> bool:
    """True for a human-readable log: asked for, or `auto` at a terminal."""
    if log_format == "auto":
        return stream.isatty()
    return log_format == "console"


def configure(log_format: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog for the whole process: the one place global logging state is set."""
    stream = stream or sys.stderr
    console = use_console(log_format, stream)
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
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
