"""Launch a run: the HTTP session, signal handling and what the user sees, around `run.Run`.

Shared by `resumer run` and `resumer demo`, so the demo shows exactly what a real run does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import structlog
from rich.console import Console

from resumer.api.client import AiohttpTransport
from resumer.cli.exits import EXIT_SIGNAL
from resumer.config.model import RunConfig
from resumer.config.redact import mask_endpoint
from resumer.engine.handover import ReaderThread
from resumer.engine.routing import Entry
from resumer.engine.run import Run
from resumer.engine.sharing import Alone, Sharing
from resumer.engine.summary import Summary
from resumer.errors import InputBrokeError
from resumer.loading import collector_paused
from resumer.observe import logs
from resumer.observe.progress import ProgressDisplay, ProgressEvents, log_stream, summary_tables
from resumer.records import Status
from resumer.results.writer import ResultsWriter
from resumer.streams import discard

if TYPE_CHECKING:
    from resumer.observe.metrics import MetricsPusher

EVENTS_EVERY = 10.0  # seconds between `progress` events in the JSON log
# A stop signal this soon after the first is the same request delivered twice, not a second
# one: GNU timeout signals its child and then its process group, and so do CI runners.
REPEAT_WINDOW = 1.0


async def resume_all(
    config: RunConfig,
    entries: Iterator[Entry],
    writer: ResultsWriter,
    *,
    skip: Callable[[int | None, str], bool],
    log_format: str,
    progress: bool,
    verbosity: int = logs.NORMAL,
    finished: Iterable[tuple[int, str, Status]] | None = None,
) -> tuple[Summary, signal.Signals | None]:
    """Resume every room; the summary and the signal that stopped the run, if one did.

    `finished`: with --resume, the final records of the log, for the Redis ledgers (--redis).
    """
    console = Console(stderr=True)
    interactive = logs.use_console(log_format, sys.stderr)
    # Results written to this same terminal would tear a live display: show it only when the
    # results go to a file or a pipe.
    display = progress and console.is_terminal and not (writer.to_stdout and sys.stdout.isatty())
    log = structlog.get_logger("resumer")
    connections = config.concurrency * len(config.apps)
    async with (
        _sharing(config, finished) as sharing,
        AiohttpTransport.new_session(connections=connections) as session,
    ):
        transport = AiohttpTransport(session, timeout=config.timeout)
        run = Run(config, transport=transport, writer=writer, skip=skip, sharing=sharing)
        sharing.watch(run.lose_sharing)
        stopper = Stopper(run, console)
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNAL:
            loop.add_signal_handler(signum, stopper, signum)
        shows: ProgressDisplay | ProgressEvents | None = None
        if display:
            shows = ProgressDisplay(run.apps, console=console, input_done=lambda: run.input_done)
        elif not interactive:
            shows = ProgressEvents(run.apps, input_done=lambda: run.input_done)
        if interactive:  # through the console: lines go above the display, cut to its width
            logs.configure(log_format, log_stream(console), verbosity=verbosity)
        log.info(
            "run_started",
            apps=[a.sdkappid for a in config.apps],
            endpoint=config.shown_endpoint,
            rate=config.rate,
            concurrency=config.concurrency,
            **_optional_settings(config),
        )
        showing = asyncio.create_task(
            shows.run(EVENTS_EVERY) if isinstance(shows, ProgressEvents) else _show(shows)
        )
        try:
            async with _metrics(run, config) as pusher:
                summary = _advised(await run.resume(ReaderThread(entries)), writer)
        finally:
            showing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await showing
            logs.configure(log_format, verbosity=verbosity)
        if pusher is not None and pusher.failures:
            log.warning(
                "metrics_push_failed",
                url=mask_endpoint(pusher.url),
                failures=pusher.failures,
                error=pusher.last_error,
                hint="the run was not affected; check that the Pushgateway is up at that URL",
            )
    stopped_by = stopper.first
    if interactive:
        console.print(summary_tables(summary))  # the table says it all to a person
    else:
        signal_name = stopped_by.name if stopped_by else None
        log.info("run_finished", **summary.as_dict(), signal=signal_name)
    return summary, stopped_by


def _advised(summary: Summary, writer: ResultsWriter) -> Summary:
    """The summary, with how to go on added to an input that broke after requests were sent."""
    if not isinstance(summary.failure, InputBrokeError):
        return summary
    what = (
        "the results printed hold what was done: save them to a file and, once the "
        "input is fixed, run again with -o FILE --resume"
        if writer.to_stdout
        else "the results log holds what was done: once the input is fixed, run the "
        "same command again with --resume"
    )
    advice = InputBrokeError(f"{summary.failure}; requests were already sent and {what}")
    return dataclasses.replace(summary, failure=advice)


def _metrics(run: Run, config: RunConfig) -> AbstractAsyncContextManager[MetricsPusher | None]:
    """The metrics served and pushed while the run lasts, if asked for (loaded only then)."""
    if config.metrics is None and config.metrics_push is None:
        return contextlib.nullcontext()
    from resumer.observe.metrics import exported  # noqa: PLC0415  (prometheus-client loads when used)

    return exported(run.apps, listen=config.metrics, push=config.metrics_push)


def _sharing(
    config: RunConfig, finished: Iterable[tuple[int, str, Status]] | None
) -> AbstractAsyncContextManager[Sharing]:
    """What the run shares with others: alone, or every run on the same Redis (--redis)."""
    if config.sharing is None:
        return contextlib.nullcontext(Alone())
    with collector_paused():
        from resumer.fleet.sharing import RedisSharing  # noqa: PLC0415  (redis-py is an extra)

    return RedisSharing.open(
        config.sharing,
        sdkappids=[a.sdkappid for a in config.apps],
        finished=finished,
        request_timeout=config.timeout,
    )


def _optional_settings(config: RunConfig) -> dict[str, object]:
    """The settings a run may have, for `run_started`: only those it has."""
    settings: dict[str, object] = {}
    if config.codes:  # the overrides in force: what the run did and why
        settings["codes"] = {
            str(code): action.value for code, action in sorted(config.codes.items())
        }
    if config.metrics is not None:
        settings["metrics"] = "{}:{}".format(*config.metrics)
    if config.metrics_push is not None:
        settings["metrics_push"] = mask_endpoint(config.metrics_push)
    if config.sharing is not None:
        settings["redis"] = config.sharing.shown_redis
        if config.sharing.ledger is not None:
            settings["ledger"] = config.sharing.ledger
    return settings


async def _show(display: ProgressDisplay | None) -> None:
    if display is not None:
        await display.run()


class Stopper:
    """What SIGINT, SIGTERM and SIGHUP do during a run (called on the loop, not in a handler).

    The first stops the run cleanly: nothing new is sent, requests in flight get the grace
    period, every one gets its record. The same signal again within REPEAT_WINDOW seconds is the
    same request delivered twice (GNU `timeout` and CI runners signal the command and then its
    process group) and is ignored. Any other signal, or the same one later, is a separate
    request to quit now (an operator's Ctrl-C right after a CI's SIGTERM is heard): every
    room with a request sent and no record yet is recorded `aborted` (synchronously: records
    are written in this thread, so none is half-written), then the process exits with the
    first signal's code.
    """

    def __init__(
        self, run: Run, console: Console, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._run = run
        self._console = console
        self._clock = clock
        self._log = structlog.get_logger("resumer")
        self.first: signal.Signals | None = None
        self._first_at = 0.0
        # Asked now: once the terminal hangs up, isatty() on it fails like any other call.
        self._stderr_is_terminal = _isatty(2)

    def __call__(self, signum: signal.Signals) -> None:
        now = self._clock()
        if self.first is None:
            self.first, self._first_at = signum, now
            if signum is signal.SIGHUP and self._stderr_is_terminal:
                _leave_hung_up_terminal()
            self._log.warning(
                "stopping",
                signal=signum.name,
                hint="requests in flight may finish; again (a second later) to quit now",
            )
            self._run.stop()
        elif signum is not self.first or now - self._first_at >= REPEAT_WINDOW:
            self._force(signum)

    def _force(self, signum: signal.Signals) -> None:
        assert self.first is not None  # noqa: S101  (only called after a first signal)
        try:
            aborted = self._run.abort_in_flight()
            self._log.warning("quitting", signal=signum.name, aborted_in_flight=aborted)
            self._console.show_cursor(True)  # the live display hid it
            sys.stderr.flush()
        except Exception:  # noqa: S110  (quitting now is what was asked for)
            pass
        os._exit(EXIT_SIGNAL[self.first])


def _leave_hung_up_terminal() -> None:
    """After a SIGHUP, point stderr (a terminal) at /dev/null: the terminal is likely gone.

    Writing to a hung-up terminal fails (EIO), which must not break the stop; the results log
    and its records are not on stderr.
    """
    discard(2)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
