"""Launch a run: the HTTP session, signal handling and what the user sees, around `run.Run`.

Shared by `resumer run` and `resumer demo`, so the demo shows exactly what a real run does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator

import structlog
from rich.console import Console

from resumer import logs
from resumer.client import AiohttpTransport
from resumer.config import RunConfig
from resumer.progress import ProgressDisplay, ProgressEvents, log_stream, summary_tables
from resumer.results import ResultsWriter
from resumer.routing import Entry
from resumer.run import Run
from resumer.summary import Summary

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
EVENTS_EVERY = 10.0  # seconds between `progress` events in the JSON log


async def execute(
    config: RunConfig,
    entries: Iterator[Entry],
    writer: ResultsWriter,
    *,
    skip: Callable[[int | None, str], bool],
    log_format: str,
    progress: bool,
) -> tuple[Summary, signal.Signals | None]:
    """Resume every room; the summary and the signal that stopped the run, if one did."""
    console = Console(stderr=True)
    interactive = logs.use_console(log_format, sys.stderr)
    # Results written to this same terminal would tear a live display: show it only when the
    # results go to a file or a pipe.
    display = progress and console.is_terminal and not (writer.to_stdout and sys.stdout.isatty())
    log = structlog.get_logger("resumer")
    connections = config.concurrency * len(config.apps)
    async with AiohttpTransport.new_session(connections=connections) as session:
        transport = AiohttpTransport(session, timeout=config.timeout)
        run = Run(config, transport=transport, writer=writer, skip=skip)
        received: list[signal.Signals] = []
        _install_signal_handlers(run, received, console)
        shows: ProgressDisplay | ProgressEvents | None = None
        if display:
            shows = ProgressDisplay(run.apps, console=console, input_done=lambda: run.input_done)
            logs.configure(log_format, log_stream(console))  # log lines go above the display
        elif not interactive:
            shows = ProgressEvents(run.apps, input_done=lambda: run.input_done)
        log.info(
            "run_started",
            apps=[a.sdkappid for a in config.apps],
            endpoint=config.shown_endpoint,
            rate=config.rate,
            concurrency=config.concurrency,
        )
        showing = asyncio.create_task(
            shows.run(EVENTS_EVERY) if isinstance(shows, ProgressEvents) else _show(shows)
        )
        try:
            summary = await run.execute(entries)
        finally:
            showing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await showing
            logs.configure(log_format)
    stopped_by = received[0] if received else None
    if interactive:
        console.print(summary_tables(summary))  # the table says it all to a person
    else:
        signal_name = stopped_by.name if stopped_by else None
        log.info("run_finished", **summary.as_dict(), signal=signal_name)
    return summary, stopped_by


async def _show(display: ProgressDisplay | None) -> None:
    if display is not None:
        await display.run()


def _install_signal_handlers(run: Run, received: list[signal.Signals], console: Console) -> None:
    """First SIGINT/SIGTERM: stop cleanly. Second: exit at once (the log is flushed per line)."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        if received:
            console.show_cursor(True)  # the live display hid it
            os._exit(EXIT_SIGNAL[signum])
        received.append(signum)
        structlog.get_logger("resumer").warning(
            "stopping", signal=signum.name, hint="requests in flight may finish; again to quit now"
        )
        run.stop()

    for signum in EXIT_SIGNAL:
        loop.add_signal_handler(signum, on_signal, signum)
