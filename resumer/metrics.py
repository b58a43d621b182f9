"""Prometheus metrics of a run: served at /metrics (`--metrics`) or pushed (`--metrics-push`).

Nothing is counted for metrics alone. A collector reads the apps' own counters (`AppStats`, the
ones the summary and the progress display read) when Prometheus scrapes or a push is due, so
the hot path pays nothing for metrics and their counters agree exactly with the summary and the
results log. Both the scrape and the push's snapshot run on the run's event loop, the only
thread that changes those counters, so a scrape never sees half an update; only the push's HTTP
request, which blocks, goes to a worker thread, carrying a snapshot already taken.

The names and labels are a contract (README, "Watching a long run"): dashboards are built on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from resumer.app import DURATION_BUCKETS, App
from resumer.errors import MetricsError

PUSH_EVERY = 15.0  # seconds between pushes to a Pushgateway; one more at the end
PUSH_TIMEOUT = 5.0  # seconds one push may take before it is given up (the run goes on)
LINGER = 5.0  # seconds /metrics stays up after the run, unless scraped once before then
JOB = "resumer"  # the Pushgateway's job label


class RunCollector(Collector):
    """Reads every app's counters into Prometheus metric families, at each collection."""

    def __init__(self, apps: Mapping[int, App]) -> None:
        self._apps = apps

    def collect(self) -> Iterator[Metric]:
        """The metrics of the contract, built fresh from the apps' counters."""
        requests = CounterMetricFamily(
            "resumer_requests",
            "Requests sent, by how they were answered (code: ErrorCode, HTTP status, or 0).",
            labels=["sdkappid", "outcome", "code"],
        )
        rooms = CounterMetricFamily(
            "resumer_rooms",
            "Rooms that reached an outcome, by status.",
            labels=["sdkappid", "status"],
        )
        pending = GaugeMetricFamily(
            "resumer_rooms_pending",
            "Rooms read and routed, without an outcome yet.",
            labels=["sdkappid"],
        )
        rate = GaugeMetricFamily(
            "resumer_pacing_rate",
            "The rate the app is paced at now, requests/s.",
            labels=["sdkappid"],
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
            "resumer_app_stopped",
            "1 once the app was stopped by a fatal error.",
            labels=["sdkappid"],
        )
        for sdkappid, app in self._apps.items():
            label = str(sdkappid)
            stats = app.stats
            for (action, code), count in sorted(stats.requests.items()):
                requests.add_metric([label, action, str(code)], count)
            for status, count in sorted(stats.statuses.items()):
                rooms.add_metric([label, status], count)
            if stats.skipped:
                rooms.add_metric([label, "skipped"], stats.skipped)
            pending.add_metric([label], max(stats.routed - stats.done, 0))
            rate.add_metric([label], app.pacer.rate)
            durations.add_metric(
                [label], list(_cumulative(stats.duration_counts)), sum_value=stats.duration_sum
            )
            outage.add_metric([label], 1.0 if app.outage.state.active else 0.0)
            stopped.add_metric([label], 1.0 if app.fatal else 0.0)
        yield from (requests, rooms, pending, rate, durations, outage, stopped)


def _cumulative(counts: Iterable[int]) -> Iterator[tuple[str, float]]:
    """Prometheus buckets (cumulative, `+Inf` last) from counts per bucket."""
    total = 0
    bounds = [*map(floatToGoString, DURATION_BUCKETS), "+Inf"]  # "0.1", "10.0": as Go writes them
    for bound, count in zip(bounds, counts, strict=True):
        total += count
        yield bound, total


def registry_of(apps: Mapping[int, App]) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding only the run's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(apps))
    return registry


@dataclass(frozen=True, slots=True)
class _Snapshot(Collector):
    """Metric families collected earlier, handed to a worker thread to push."""

    families: tuple[Metric, ...]

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class MetricsServer:
    """Serves /metrics on the run's own loop (aiohttp), so a scrape reads the counters in step."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
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

    async def stop(self, *, linger: float = LINGER) -> None:
        """Stop serving once the final state was scraped, or after `linger` seconds."""
        if self._runner is None:
            return
        self._final = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(linger):
                await self._final_scraped.wait()
        await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        final = self._final  # read before collecting: this scrape then sees the final state
        body = generate_latest(self._registry)
        if final:
            self._final_scraped.set()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class MetricsPusher:
    """Pushes the run's metrics to a Pushgateway every PUSH_EVERY seconds and at the end."""

    def __init__(self, registry: CollectorRegistry, url: str) -> None:
        self._registry = registry
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
        snapshot = _Snapshot(tuple(self._registry.collect()))  # taken on the loop
        try:
            await asyncio.to_thread(
                push_to_gateway,
                self.url,
                job=JOB,
                registry=snapshot,
                grouping_key=self._grouping,
                timeout=PUSH_TIMEOUT,
            )
        except OSError as exc:  # urllib's URLError and HTTPError are OSErrors
            self.failures += 1
            self.last_error = str(getattr(exc, "reason", None) or exc)
            return False
        return True


@asynccontextmanager
async def exported(
    apps: Mapping[int, App], *, listen: tuple[str, int] | None, push: str | None
) -> AsyncIterator[MetricsPusher | None]:
    """Serve and/or push the run's metrics while the block runs; the final state at its end.

    The server lingers after the block until one scrape has read the final state, at most
    LINGER seconds; the pusher pushes once more. The pusher is returned so the caller can say
    whether pushes failed (a Pushgateway that is down never stops the run).
    """
    registry = registry_of(apps)
    server = MetricsServer(registry) if listen else None
    pusher = MetricsPusher(registry, push) if push else None
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
