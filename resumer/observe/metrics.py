"""Prometheus metrics of a run: served at /metrics (`--metrics`) or pushed (`--metrics-push`).

Nothing is counted for metrics alone. When Prometheus scrapes or a push is due, the apps' own
counters (`AppCounts`, the ones the summary and the progress display read) are copied into a
frozen snapshot, so the hot path pays nothing for metrics and their counters agree exactly with
the summary and the results log. The copy is taken on the run's event loop, the only thread
that changes those counters, so it never holds half an update, and it costs microseconds; the
text of the exposition (milliseconds of Python at 50 apps) is made from it in a worker thread,
so a scrape does not stall the loop that paces the requests.

The names and labels are a contract (docs/reference.md, "Metrics"): dashboards are built on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import generate_latest, push_to_gateway
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from resumer.engine.app import DURATION_BUCKETS, App
from resumer.errors import MetricsError

PUSH_EVERY = 15.0  # seconds between pushes to a Pushgateway; one more at the end
PUSH_TIMEOUT = 5.0  # seconds one push may take before it is given up (the run goes on)
LAST_SCRAPE_WAIT = 5.0  # seconds /metrics stays up after the run, unless scraped once before then
JOB = "resumer"  # the Pushgateway's job label


@dataclass(frozen=True, slots=True)
class AppSnapshot:
    """One app's counters at one moment, copied on the loop."""

    sdkappid: int
    requests: tuple[tuple[str, int, int], ...]  # (outcome, code, count)
    statuses: tuple[tuple[str, int], ...]  # (status, rooms), "skipped" included
    pending: int
    rate: float
    duration_counts: tuple[int, ...]
    duration_sum: float
    outage: bool
    stopped: bool


def snapshot(apps: Mapping[int, App]) -> tuple[AppSnapshot, ...]:
    """Every app's counters now; call it on the run's loop."""
    now = []
    for sdkappid, app in apps.items():
        stats = app.stats
        statuses = sorted(stats.statuses.items())
        if stats.skipped:
            statuses.append(("skipped", stats.skipped))
        now.append(
            AppSnapshot(
                sdkappid=sdkappid,
                requests=tuple((a, c, n) for (a, c), n in sorted(stats.requests.items())),
                statuses=tuple(statuses),
                pending=max(stats.routed - stats.done, 0),
                rate=app.pacer.rate,
                duration_counts=tuple(stats.duration_counts),
                duration_sum=stats.duration_sum,
                outage=app.outage.state.active,
                stopped=app.fatal is not None,
            )
        )
    return tuple(now)


def families(apps: Iterable[AppSnapshot]) -> list[Metric]:
    """The metrics of the contract, from a snapshot (on any thread)."""
    requests = CounterMetricFamily(
        "resumer_requests",
        "Requests sent, by how they were answered (code: ErrorCode, HTTP status, or 0).",
        labels=["sdkappid", "outcome", "code"],
    )
    rooms = CounterMetricFamily(
        "resumer_rooms", "Rooms that reached an outcome, by status.", labels=["sdkappid", "status"]
    )
    pending = GaugeMetricFamily(
        "resumer_rooms_pending",
        "Rooms read and routed, without an outcome yet.",
        labels=["sdkappid"],
    )
    rate = GaugeMetricFamily(
        "resumer_pacing_rate", "The rate the app is paced at now, requests/s.", labels=["sdkappid"]
    )
    durations = HistogramMetricFamily(
        "resumer_request_duration_seconds",
        "Time from sending a request to its reply (or its failure).",
        labels=["sdkappid"],
    )
    outage = GaugeMetricFamily(
        "resumer_outage", "1 while the app is probing an outage, else 0.", labels=["sdkappid"]
    )
    stopped = GaugeMetricFamily(
        "resumer_app_stopped", "1 once the app was stopped by a fatal error.", labels=["sdkappid"]
    )
    for app in apps:
        label = str(app.sdkappid)
        for action, code, count in app.requests:
            requests.add_metric([label, action, str(code)], count)
        for status, count in app.statuses:
            rooms.add_metric([label, status], count)
        pending.add_metric([label], app.pending)
        rate.add_metric([label], app.rate)
        durations.add_metric(
            [label], list(_cumulative(app.duration_counts)), sum_value=app.duration_sum
        )
        outage.add_metric([label], float(app.outage))
        stopped.add_metric([label], float(app.stopped))
    return [requests, rooms, pending, rate, durations, outage, stopped]


@dataclass(frozen=True, slots=True)
class _Families(Collector):
    """Metric families made from a snapshot, for prometheus-client's writers."""

    families: list[Metric]

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def exposition(apps: Iterable[AppSnapshot]) -> bytes:
    """The text a scrape gets, from a snapshot (on any thread)."""
    return generate_latest(_Families(families(apps)))


def _cumulative(counts: Iterable[int]) -> Iterator[tuple[str, float]]:
    """Prometheus buckets (cumulative, `+Inf` last) from counts per bucket."""
    total = 0
    bounds = [*map(floatToGoString, DURATION_BUCKETS), "+Inf"]  # "0.1", "10.0": as Go writes them
    for bound, count in zip(bounds, counts, strict=True):
        total += count
        yield bound, total


class MetricsServer:
    """Serves /metrics on the run's own loop (aiohttp), so a scrape reads the counters in step."""

    def __init__(self, apps: Mapping[int, App]) -> None:
        self._apps = apps
        self._runner: web.AppRunner | None = None
        self._final = False  # the run is over: the counters will not change again
        self._final_scraped = asyncio.Event()

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; MetricsError with a sentence if that cannot be done."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise MetricsError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}): "
                "give a free port with --metrics HOST:PORT"
            ) from None

    async def stop(self, *, linger: float = LAST_SCRAPE_WAIT) -> None:
        """Stop serving once the final state was scraped, or after `linger` seconds."""
        if self._runner is None:
            return
        self._final = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(linger):
                await self._final_scraped.wait()
        await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        final = self._final  # read before the copy: this scrape then sees the final state
        body = await asyncio.to_thread(exposition, snapshot(self._apps))
        if final:
            self._final_scraped.set()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class MetricsPusher:
    """Pushes the run's metrics to a Pushgateway every PUSH_EVERY seconds and at the end."""

    def __init__(self, apps: Mapping[int, App], url: str) -> None:
        self._apps = apps
        self.url = url
        self._grouping = {"instance": socket.gethostname()}
        self.failures = 0
        self.last_error = ""

    async def run(self, every: float = PUSH_EVERY) -> None:
        """Push periodically until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.push()

    async def push(self) -> bool:
        """One push of the metrics as they are now; False (and counted) if it failed."""
        now = snapshot(self._apps)  # taken on the loop
        try:
            await asyncio.to_thread(self._push, now)
        except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
            self.failures += 1
            self.last_error = str(getattr(exc, "reason", None) or exc)
            return False
        return True

    def _push(self, apps: tuple[AppSnapshot, ...]) -> None:
        push_to_gateway(
            self.url,
            job=JOB,
            registry=_Families(families(apps)),
            grouping_key=self._grouping,
            timeout=PUSH_TIMEOUT,
        )


@asynccontextmanager
async def exported(
    apps: Mapping[int, App], *, listen: tuple[str, int] | None, push: str | None
) -> AsyncIterator[MetricsPusher | None]:
    """Serve and/or push the run's metrics while the block runs; the final state at its end.

    The server lingers after the block until one scrape has read the final state, at most
    LAST_SCRAPE_WAIT seconds; the pusher pushes once more. The pusher is returned so the caller
    can say whether pushes failed (a Pushgateway that is down never stops the run).
    """
    server = MetricsServer(apps) if listen else None
    pusher = MetricsPusher(apps, push) if push else None
    if server is not None and listen is not None:
        await server.start(*listen)
    pushing = asyncio.create_task(pusher.run()) if pusher else None
    try:
        yield pusher
    finally:
        if pushing is not None and pusher is not None:
            await stop_quietly(pushing)
            await pusher.push()
        if server is not None:
            await server.stop()


async def stop_quietly(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
