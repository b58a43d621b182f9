"""The exit codes: errors and summaries mapped in one place, the same ones everywhere."""

from __future__ import annotations

import dataclasses
import signal

import pytest

from resumer import __main__ as entry
from resumer.cli import exits
from resumer.engine.summary import Summary
from resumer.errors import (
    InputBrokeError,
    MetricsError,
    RedisLostError,
    ResultsLogError,
    UsageError,
    UserSigError,
)

CLEAN = Summary(apps={}, stopped={}, duration=1.0, interrupted=False, invalid_unrouted=0)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("x"), 2),
        (UserSigError("x"), 2),
        (MetricsError("x"), 2),
        (ResultsLogError("x"), 4),
        (InputBrokeError("x"), 5),
        (RedisLostError("x"), 3),
    ],
)
def test_each_error_has_its_code(error: Exception, code: int) -> None:
    assert isinstance(error, exits.SAID)
    assert exits.for_error(error) == code


def test_a_failure_is_raised_before_any_other_reason() -> None:
    failed = dataclasses.replace(CLEAN, failure=ResultsLogError("full"), stopped={1: "why"})
    with pytest.raises(ResultsLogError):
        exits.for_run(failed, signal.SIGINT)


@pytest.mark.parametrize(
    ("summary", "stopped_by", "code"),
    [
        (CLEAN, None, 0),
        (dataclasses.replace(CLEAN, stopped={1: "why"}), signal.SIGINT, 3),
        (CLEAN, signal.SIGINT, 130),
        (CLEAN, signal.SIGTERM, 143),
        (CLEAN, signal.SIGHUP, 129),
    ],
)
def test_a_run_s_code(summary: Summary, stopped_by: signal.Signals | None, code: int) -> None:
    assert exits.for_run(summary, stopped_by) == code


def test_the_entry_point_s_own_ctrl_c_code_is_sigint_s() -> None:
    # `resumer.__main__` cannot import this module before it needs the code (a Ctrl-C may land
    # in that very import), so it keeps the number itself: the same one.
    assert exits.EXIT_SIGNAL[signal.SIGINT] == entry.EXIT_INTERRUPTED
