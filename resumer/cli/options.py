"""Flags more than one command has: -v / -q."""

from __future__ import annotations

import argparse

from resumer.observe import logs


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v / -q: every event in the log, or only warnings and errors."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_const",
        dest="verbosity",
        const=logs.VERBOSE,
        default=logs.NORMAL,
        help="log every event, every retry included",
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        dest="verbosity",
        const=logs.QUIET,
        help="log only warnings and errors",
    )
