"""What the user sees while and after the run: a live table per app, `progress` events, a summary.

The achieved rate is measured, not assumed: every refresh samples each app's `sent` counter, and
the rate is its growth over the last RATE_SPAN seconds of samples. The ETA is the rooms left (of
those routed so far) at that rate; it counts requests, retries included, so it errs optimistic.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import TextIO, cast

import structlog
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from resumer.engine.app import App, AppCounts
from resumer.engine.summary import Summary
from resumer.humanize import error_codes, hms
from resumer.records import Status

RATE_SPAN = 10.0  # seconds of samples the achieved rate is measured over


class _Progress:
    """Achieved rate and ETA of each app, from samples of its counters taken at each refresh."""

    def __init__(
        self,
        apps: Mapping[int, App],
        *,
        input_done: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.apps = apps
        self.input_done = input_done
        self._clock = clock
        self._samples: dict[int, deque[tuple[float, int]]] = {s: deque() for s in apps}

    def sample(self) -> None:
        """Record every app's `sent` counter now."""
        now = self._clock()
        for sdkappid, app in self.apps.items():
            samples = self._samples[sdkappid]
            samples.append((now, app.stats.sent))
            # Drop the oldest while the next is RATE_SPAN old too: the span stays >= RATE_SPAN.
            while len(samples) > 1 and now - samples[1][0] >= RATE_SPAN:
                samples.popleft()

    def rate(self, sdkappid: int) -> float:
        """Requests/s sent over the sampled window; 0 before there are two samples."""
        samples = self._samples[sdkappid]
        if len(samples) < 2:
            return 0.0
        (first, sent_first), (last, sent_last) = samples[0], samples[-1]
        return (sent_last - sent_first) / (last - first) if last > first else 0.0

    def eta(self, sdkappid: int) -> float | None:
        """Seconds until the rooms routed so far are done; None while the rate is unknown."""
        stats = self.apps[sdkappid].stats
        left = stats.routed - stats.done
        if left <= 0:
            return 0.0
        rate = self.rate(sdkappid)
        return left / rate if rate > 0 else None


class _ConsoleLines(io.TextIOBase):
    """A text stream whose lines the console prints, above the live display while it runs."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._partial = ""

    def write(self, s: str, /) -> int:
        *lines, self._partial = (self._partial + s).split("\n")
        for line in lines:
            text = Text.from_ansi(line)
            if self._console.is_terminal:
                # A line longer than the terminal is cut with an ellipsis, never folded into the
                # next line's columns (a JSON event on a terminal, a long ErrorInfo).
                self._console.print(text, no_wrap=True, overflow="ellipsis", crop=True)
            else:  # a file or a pipe has no width: the line stays whole, on one line
                self._console.print(text, soft_wrap=True)
        return len(s)

    def isatty(self) -> bool:
        return self._console.is_terminal


def log_stream(console: Console) -> TextIO:
    """The stream for `logs.configure` that prints each log line through `console`.

    While a display runs on that console, the lines go above it instead of through it.
    """
    # cast: structlog only writes and flushes it, and `logs.configure` reads isatty
    return cast(TextIO, _ConsoleLines(console))


class ProgressDisplay(_Progress):
    """The live display at a terminal: one row per app, redrawn until cancelled."""

    def __init__(
        self,
        apps: Mapping[int, App],
        *,
        console: Console,
        input_done: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(apps, input_done=input_done, clock=clock)
        self._console = console

    async def run(self, interval: float = 0.5) -> None:
        """Redraw every `interval` seconds until cancelled; the last frame stays on screen."""
        # Refreshed from this task, not rich's thread, so the counters are read on the loop.
        # stdout is left alone: results written there bypass any proxy.
        with Live(
            self.render(), console=self._console, auto_refresh=False, redirect_stdout=False
        ) as live:
            try:
                while True:
                    await asyncio.sleep(interval)
                    live.update(self.render(), refresh=True)
            finally:
                live.update(self.render(), refresh=True)

    def render(self) -> Table:
        """Sample the counters and build the table."""
        self.sample()
        more = "" if self.input_done() else "+"
        table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
        for name in ("app", "done", "", "rate", "pace", "ETA", "retries", "throttles", ""):
            # Numbers never wrap; on a narrow terminal the bar and the status word give way.
            left = name in ("app", "")
            table.add_column(name, justify="left" if left else "right", no_wrap=bool(name))
        table.columns[2].max_width = 32  # the bar
        for sdkappid, app in self.apps.items():
            stats, eta = app.stats, self.eta(sdkappid)
            table.add_row(
                str(sdkappid),
                f"{stats.done:,}/{stats.routed:,}{more}",
                ProgressBar(total=max(stats.routed, 1), completed=stats.done),
                f"{self.rate(sdkappid):.1f}",
                f"{app.pacer.rate:.1f} −{app.pacer.margin:.1%}",
                "–" if eta is None else hms(eta),
                retries_by_code(stats.retry_codes),
                Text(f"{stats.throttles:,}", style="yellow" if stats.throttles else ""),
                self._status(app, finished=not more and stats.done >= stats.routed),
            )
        return table

    @staticmethod
    def _status(app: App, *, finished: bool) -> Text:
        if app.fatal:  # "error 70009", "HTTP 404", "no reply": the headline before its details
            why = app.fatal.headline.split(" (")[0]
            return Text(f"stopped: {why}", style="bold red")
        if app.halt.is_set():
            return Text("stopping", style="yellow")
        if app.outage.state.active:
            return Text("outage: probing", style="yellow")
        return Text("done", style="green") if finished else Text("")


def retries_by_code(codes: Counter[int], shown: int = 2) -> str:
    """The retries and what they were for, the commonest codes first: "41 (100001×30, 0×9 …)".

    Code 0 is a request that got no reply (a timeout, a connection error).
    """
    total = codes.total()
    if not total:
        return "0"
    common = codes.most_common(shown)
    parts = ", ".join(f"{code}×{count:,}" for code, count in common)
    more = " …" if len(codes) > shown else ""
    return f"{total:,} ({parts}{more})"


class ProgressEvents(_Progress):
    """Periodic `progress` events, one per app, for the JSON log in CI or a pipe."""

    async def run(self, interval: float = 10.0) -> None:
        """Emit every `interval` seconds until cancelled."""
        self.sample()  # the baseline the first event's rate is measured from
        while True:
            await asyncio.sleep(interval)
            self.emit()

    def emit(self) -> None:
        """Sample the counters and log one `progress` event per app."""
        self.sample()
        log = structlog.get_logger("resumer")
        for sdkappid, app in self.apps.items():
            stats, eta = app.stats, self.eta(sdkappid)
            log.info(
                "progress",
                sdkappid=sdkappid,
                done=stats.done,
                total=stats.routed,
                input_done=self.input_done(),
                sent=stats.sent,
                rate=round(self.rate(sdkappid), 2),
                pacing_rate=round(app.pacer.rate, 2),
                margin=round(app.pacer.margin, 4),
                retries=stats.retries,
                throttles=stats.throttles,
                eta_s=None if eta is None else round(eta),
            )


def summary_tables(summary: Summary) -> Group:
    """The closing tables: rooms by status and error code, then requests, per app and in total."""
    rooms = Table(title="rooms", box=box.SIMPLE_HEAD, header_style="bold")
    requests = Table(title="requests", box=box.SIMPLE_HEAD, header_style="bold")
    for table, names in ((rooms, [*Status]), (requests, ["sent", "retries", "throttles", "rate"])):
        table.add_column("app", no_wrap=True)
        for name in names:
            table.add_column(name, justify="right", no_wrap=True)
    rooms.add_column("error codes")

    def row(name: str, stats: AppCounts, style: str = "", *, sent_any: bool = True) -> None:
        counts = (f"{stats.statuses[s]:,}" for s in Status)
        rooms.add_row(name, *counts, error_codes(stats.codes), style=style)
        if sent_any:
            rate = f"{stats.sent / summary.duration:.1f}/s" if summary.duration > 0 else "–"
            sent = (f"{n:,}" for n in (stats.sent, stats.retries, stats.throttles))
            requests.add_row(name, *sent, rate, style=style)

    total = AppCounts()
    for sdkappid, stats in summary.apps.items():
        row(str(sdkappid), stats)
        total.sent += stats.sent
        total.retry_codes.update(stats.retry_codes)
        total.throttles += stats.throttles
        total.statuses.update(stats.statuses)
        total.codes.update(stats.codes)
    if summary.invalid_unrouted:  # lines that named no configured app
        unrouted = AppCounts(statuses=Counter({Status.INVALID: summary.invalid_unrouted}))
        row("no app", unrouted, sent_any=False)
        total.statuses[Status.INVALID] += summary.invalid_unrouted
    if rooms.row_count > 1:
        rooms.add_section()
        requests.add_section()
        row("total", total, style="bold")
    took = f"took {hms(summary.duration)}" + (", interrupted" if summary.interrupted else "")
    if summary.skipped:
        took += f"; {summary.skipped:,} rooms already final in the log were skipped"
    if summary.duplicates:
        took += f"; {summary.duplicates:,} duplicate lines were done once"
    stopped = (Text(line, style="bold red") for line in summary.stopped.values())
    return Group(rooms, requests, Text(took), *stopped)
