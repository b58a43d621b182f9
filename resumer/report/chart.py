"""`resumer report --chart`: rooms finished per second per app over the incident, as a PNG.

`chart_data` turns a Report into the series to draw (pure, tested on its numbers); `draw` hands
them to matplotlib, an optional extra (`resumer[report]`), imported only here and only when used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from resumer.config.model import MAX_RATE
from resumer.errors import UsageError
from resumer.records import Status
from resumer.report.merge import AppReport, Report
from resumer.report.view import app_name

INSTALL = "pip install 'resumer[report]'"
WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100
MAX_BINS = 600  # a 14-hour incident is drawn in bins wide enough to stay readable
BIN_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_APPS = 6  # apps drawn one by one (the busiest); the rest are summed as one series
MIN_GAP_BINS = 2  # this many bins in a row with no room finished are shaded: an outage shows
_MARKERS = "vs^Do*P"


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One app's rooms finished per second, in each bin: ended ok, and ended otherwise."""

    label: str
    ok: tuple[float, ...]
    not_ok: tuple[float, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartData:
    """What the chart shows, ready to draw."""

    start: int  # unix second of the first record: x = 0
    bin_seconds: int
    unit: str  # of the x axis: "s", "min" or "h"
    edges: tuple[float, ...]  # bin edges in `unit`s since `start`, one more than the bins
    series: tuple[Series, ...]
    gaps: tuple[tuple[float, float], ...]  # (from, to) in `unit`s: no room of any app finished
    title: str
    caption: str


def require_matplotlib() -> None:
    """Raise UsageError, saying how to install it, unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        raise UsageError(f"--chart needs matplotlib, an optional extra: {INSTALL}") from None


def chart_data(report: Report) -> ChartData:
    """The series of the chart: every record at the second of its timestamp, per app."""
    seconds = [s for per_app in report.per_second.values() for s in per_app]
    if not seconds:
        raise UsageError("the logs hold no record with a timestamp: there is nothing to chart")
    start, end = min(seconds), max(seconds)
    span = end - start + 1
    width = next((b for b in BIN_SECONDS if b * MAX_BINS >= span), BIN_SECONDS[-1])
    bins = math.ceil(span / width)
    unit, scale = ("s", 1) if span <= 900 else ("min", 60) if span <= 3 * 3600 else ("h", 3600)
    edges = tuple(i * width / scale for i in range(bins + 1))

    busiest = sorted(report.apps, key=lambda a: -a.records)
    shown, rest = busiest[:MAX_APPS], busiest[MAX_APPS:]
    if len(rest) == 1:
        shown, rest = busiest, []
    groups = [(f"app {app_name(a.sdkappid)}", [a]) for a in shown]
    if rest:
        groups.append((f"{len(rest)} other apps", rest))
    series = []
    for label, apps in groups:
        ok, not_ok = [0] * bins, [0] * bins
        for app in apps:
            for second, (n_ok, n_not_ok) in report.per_second.get(app.sdkappid, {}).items():
                ok[(second - start) // width] += n_ok
                not_ok[(second - start) // width] += n_not_ok
        series.append(
            Series(
                label=label,
                ok=tuple(n / width for n in ok),
                not_ok=tuple(n / width for n in not_ok),
            )
        )
    total = report.total
    idle = [not any(s.ok[i] or s.not_ok[i] for s in series) for i in range(bins)]
    first = (total.first_ts or "")[:19].replace("T", " ")
    last = (total.last_ts or "")[11:19]
    return ChartData(
        start=start,
        bin_seconds=width,
        unit=unit,
        edges=edges,
        series=tuple(series),
        gaps=tuple((edges[a], edges[b]) for a, b in _runs(idle) if b - a >= MIN_GAP_BINS),
        title=f"Rooms finished per second, by app: {first} to {last} UTC",
        caption=_caption(total, width),
    )


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """[start, end) of each run of True in `flags`."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _caption(total: AppReport, width: int) -> str:
    counts = ", ".join(f"{total.statuses[s]:,} {s.value.replace('_', ' ')}" for s in Status)
    rate = "" if total.rate is None else f", {total.rate:.1f} finished/s on average"
    took = "" if total.seconds is None else f" in {total.seconds:,.0f} s"
    bins = "each second" if width == 1 else f"bins of {width} s"
    return (
        f"{total.rooms:,} rooms (last record of each): {counts}. "
        f"{total.records:,} records, {total.attempts:,} attempts{took}{rate}; {bins}."
    )


def draw(data: ChartData, path: str) -> None:
    """Write the chart to `path` as a PNG of WIDTH_PX × HEIGHT_PX."""
    # A bare Figure, not pyplot: no global state, no GUI backend; savefig renders with Agg
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = figure.add_subplot()
    centres = [(a + b) / 2 for a, b in zip(data.edges, data.edges[1:], strict=False)]
    for n, (start, end) in enumerate(data.gaps):
        label = (
            f"no room finished ({MIN_GAP_BINS * data.bin_seconds} s or more)" if n == 0 else None
        )
        axes.axvspan(start, end, color="0.85", zorder=0, label=label)
    # no app can finish rooms faster than its budget for long
    budget = f"API budget: {MAX_RATE:g}/s per app"
    axes.axhline(MAX_RATE, color="0.4", linestyle="--", linewidth=1, label=budget)
    for i, series in enumerate(data.series):
        colour = f"C{i}"
        axes.stairs(series.ok, data.edges, fill=True, alpha=0.25, color=colour)
        axes.stairs(series.ok, data.edges, color=colour, linewidth=1.4, label=f"{series.label}: ok")
        marked = [(x, y) for x, y in zip(centres, series.not_ok, strict=True) if y > 0]
        if marked:
            xs, ys = zip(*marked, strict=True)
            axes.plot(
                xs,
                ys,
                linestyle="none",
                marker=_MARKERS[i % len(_MARKERS)],
                markersize=6,
                markerfacecolor="red",
                markeredgecolor=colour if len(data.series) > 1 else "darkred",
                label=f"{series.label}: not ok (rejected, invalid, gave up, aborted)",
            )
    axes.set_title(data.title)
    axes.set_xlabel(f"time since the first record ({data.unit})")
    axes.set_ylabel("rooms finished per second (rooms/s)")
    axes.set_xlim(data.edges[0], data.edges[-1])
    axes.set_ylim(0, max([MAX_RATE, *(max(s.ok + s.not_ok) for s in data.series)]) * 1.25)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize="small")
    figure.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.2)
    figure.text(0.07, 0.03, data.caption, fontsize="small", wrap=True)
    try:
        figure.savefig(path, format="png", dpi=DPI)
    except OSError as exc:
        raise UsageError(f"cannot write the chart {path!r}: {exc.strerror or exc}") from exc
