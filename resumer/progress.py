"""What the user sees while and after the run: a live table per app, `progress` events, a summary.

The achieved rate is measured, not assumed: every refresh samples each app's `sent` counter, and
the rate is its growth over the last WINDOW seconds of samples. The ETA is the rooms left (of
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
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from resumer.records import Status
from resumer.run import App, Summary, app_stopped_sentence

WINDOW = 10.0  # seconds of samples the achieved rate is measured over


def _hms(seconds: float) -> str:
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Progress:
    """Achieved rate and ETA of each app, from samples of its counters taken at each refresh."""

    def __init__(
        self,
        apps: Mapping[int, App],
        *,
        input_done: Callable[[], bool],
        clock: Callable[[], float],
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
            # Keep the newest sample at least WINDOW old: the span then covers the whole window.
            while len(samples) > 1 and now - samples[1][0] >= WINDOW:
                samples.popleft()

    def rate(self, sdkappid: int) -> float:
        """Requests/s sent over the sampled window; 0 before there are two samples."""
        samples = self._samples[sdkappid]
        if len(samples) < 2:
            return 0.0
        (first, sent_first), (last, sent_last) = samples[0], samples[-1]
        return (sent_last - sent_first) / (last - first) if last > first else 0.0

    def eta(self, app: App) -> float | None:
        """Seconds until the rooms routed so far are done; None while the rate is unknown."""
        left = app.stats.routed - app.stats.done
        if left <= 0:
            return 0.0
        rate = self.rate(app.sdkappid)
        return left / rate if rate > 0 else None


class _ConsoleLines(io.TextIOBase):
    """A text stream whose lines the console prints, above the live display while it runs."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._partial = ""

    def write(self, s: str, /) -> int:
        *lines, self._partial = (self._partial + s).split("\n")
        for line in lines:
            # soft_wrap: the terminal folds a long line, so a JSON event stays one line
            self._console.print(Text.from_ansi(line), soft_wrap=True)
        return len(s)

    def isatty(self) -> bool:
        return self._console.is_terminal


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
        # For `logs.configure`: structlog only writes and flushes it, and reads isatty.
        self.stream = cast(TextIO, _ConsoleLines(console))

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
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in ("app", "done", "", "req/s", "pace", "ETA", "retries", "throttles", ""):
            table.add_column(name, justify="left" if name in ("app", "") else "right")
        for sdkappid, app in self.apps.items():
            stats, eta = app.stats, self.eta(app)
            table.add_row(
                str(sdkappid),
                f"{stats.done:,}/{stats.routed:,}{more}",
                ProgressBar(total=max(stats.routed, 1), completed=stats.done, width=24),
                f"{self.rate(sdkappid):.1f}",
                f"{app.pacer.rate:.1f}",
                "–" if eta is None else _hms(eta),
                f"{stats.retries:,}",
                Text(f"{stats.throttles:,}", style="yellow" if stats.throttles else ""),
                self._status(app, finished=not more and stats.done >= stats.routed),
            )
        return table

    @staticmethod
    def _status(app: App, *, finished: bool) -> Text:
        if app.fatal:
            return Text(f"stopped: error {app.fatal.code}", style="bold red")
        if app.halt.is_set():
            return Text("stopping", style="yellow")
        return Text("done", style="green") if finished else Text("")


class ProgressEvents(_Progress):
    """Periodic `progress` events, one per app, for the JSON log in CI or a pipe."""

    def __init__(
        self,
        apps: Mapping[int, App],
        *,
        input_done: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(apps, input_done=input_done, clock=clock)
        self._log = structlog.get_logger("resumer")
        self.sample()  # the baseline the first event's rate is measured from

    async def run(self, interval: float = 10.0) -> None:
        """Emit every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self.emit()

    def emit(self) -> None:
        """Sample the counters and log one `progress` event per app."""
        self.sample()
        for sdkappid, app in self.apps.items():
            stats, eta = app.stats, self.eta(app)
            self._log.info(
                "progress",
                sdkappid=sdkappid,
                done=stats.done,
                total=stats.routed,
                input_done=self.input_done(),
                sent=stats.sent,
                rate=round(self.rate(sdkappid), 2),
                pacing_rate=round(app.pacer.rate, 2),
                retries=stats.retries,
                throttles=stats.throttles,
                eta_s=None if eta is None else round(eta),
            )


def _codes(codes: Counter[str]) -> str:
    shown = [f"{'no code' if c == '0' else c}×{n:,}" for c, n in codes.most_common(4)]
    return ", ".join(shown + (["…"] if len(codes) > 4 else []))


def summary_table(summary: Summary) -> Table:
    """The closing table: rooms by status and error code per app, then the run's totals."""
    duration = summary.duration

    def per_s(sent: int) -> str:
        return f"{sent / duration:.1f}" if duration > 0 else "–"

    table = Table(title="resumer: summary", caption_justify="left", header_style="bold")
    table.add_column("app")
    for status in Status:
        table.add_column(status.value, justify="right")
    for name in ("requests", "retries", "throttles", "req/s"):
        table.add_column(name, justify="right")
    table.add_column("error codes (rooms not ok)")
    codes: Counter[str] = Counter()
    for sdkappid, stats in summary.apps.items():
        codes.update(stats.codes)
        table.add_row(
            str(sdkappid),
            *(f"{stats.statuses[s]:,}" for s in Status),
            *(f"{n:,}" for n in (stats.sent, stats.retries, stats.throttles)),
            per_s(stats.sent),
            _codes(stats.codes),
        )
    if summary.invalid_unrouted:  # lines that named no configured app
        unrouted = (f"{summary.invalid_unrouted:,}" if s is Status.INVALID else "" for s in Status)
        table.add_row("no app", *unrouted)
    sent = sum(a.sent for a in summary.apps.values())
    table.add_section()
    table.add_row(
        "total",
        *(f"{summary.count(s):,}" for s in Status),
        f"{sent:,}",
        f"{sum(a.retries for a in summary.apps.values()):,}",
        f"{sum(a.throttles for a in summary.apps.values()):,}",
        per_s(sent),
        _codes(codes),
        style="bold",
    )
    lines = [f"took {_hms(duration)}" + (", interrupted" if summary.interrupted else "")]
    lines += [app_stopped_sentence(s, v.code) for s, v in summary.fatal.items()]
    table.caption = Text("\n".join(lines))
    return table
