"""The exit codes, and the one place that maps errors and a run's summary to them.

0 every room ok; 1 some room rejected, invalid or gave up; 2 usage, config or input error
(nothing sent); 3 an app stopped by a fatal error; 4 the results log could not be written (the
run stopped; the outcomes it could not write are on stderr); 5 the input broke after requests
were sent (the log holds what was done: fix the input, rerun with --resume); 130 / 143 / 129
interrupted by SIGINT / SIGTERM / SIGHUP; 141 `report`'s reader closed the pipe first.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from resumer.errors import InputBrokeError, RedisLostError, ResultsLogError, UsageError
from resumer.records import Status

if TYPE_CHECKING:
    from resumer.engine.summary import Summary

EXIT_OK, EXIT_FAILED_ROOMS, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3
EXIT_RESULTS_LOG, EXIT_INPUT_BROKE = 4, 5
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
EXIT_PIPE_CLOSED = 141  # `resumer report` into a pipe closed early, as a shell reports cat's

# The errors a command ends with in one sentence, and their codes (UserSigError is a UsageError).
ERROR_EXITS: dict[type[Exception], int] = {
    UsageError: EXIT_USAGE,
    ResultsLogError: EXIT_RESULTS_LOG,
    InputBrokeError: EXIT_INPUT_BROKE,
    RedisLostError: EXIT_FATAL,
}
SAID = tuple(ERROR_EXITS)

# The end of `resumer run --help`: what each exit asks of the operator.
RUN_EXITS_HELP = """\
exit status:
  0        every room ok (or already final)
  1        some room rejected, invalid or gave_up: the results log says which
  2        usage, config, input or credential error, or -o held by another run: nothing sent
  3        an app stopped by a fatal error (auth, plan, region, a 5-minute outage), or Redis
           gone for --redis-timeout: fix the cause, run again with --resume
  4        the results log could not be written: the outcomes not written are on stderr
  5        an input broke after requests were sent: fix it, run again with --resume
  130/143/129  stopped by SIGINT/SIGTERM/SIGHUP: run again with --resume
"""
FAILED = (Status.REJECTED, Status.INVALID, Status.GAVE_UP, Status.ABORTED)


def for_error(exc: Exception) -> int:
    """The exit code of a command that ended with `exc`, one of `SAID`."""
    return next(code for kind, code in ERROR_EXITS.items() if isinstance(exc, kind))


def for_stop(summary: Summary, stopped_by: signal.Signals | None) -> int | None:
    """The exit code of a run cut short, or None if it went through every room.

    A run cut short by its results log or its input raises that error here, after the summary
    was shown, so the CLI says it last and maps it with `for_error`.
    """
    if summary.failure is not None:
        raise summary.failure
    if summary.stopped:
        return EXIT_FATAL
    if stopped_by is not None:
        return EXIT_SIGNAL[stopped_by]
    return None


def for_run(summary: Summary, stopped_by: signal.Signals | None) -> int:
    """The exit code of a run: why it stopped, else whether every room came out ok."""
    stop = for_stop(summary, stopped_by)
    if stop is not None:
        return stop
    return EXIT_FAILED_ROOMS if any(summary.count(s) for s in FAILED) else EXIT_OK
