"""The metrics of the contract, made from the apps' own counters: a snapshot, then its text.

The names and labels are a contract (docs/reference.md, "Metrics"): dashboards are built on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from resumer.engine.app import DURATION_BUCKETS, App


@dataclass(frozen=True, slots=True)
class AppSnapshot:
    """One app's counters at one moment, copied on the loop."""

    sdkappid: int
    requests: tuple[tuple[str, int, int], ...]  # (outcome, code, count)
    statuses: tuple[tuple[str, int], ...]  # (status, rooms), "skipped" included
    pending: int
    rate: float
    margin: float
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
                margin=app.pacer.margin,
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
    margin = GaugeMetricFamily(
        "resumer_pacing_margin_ratio",
        "The part of the budget the app leaves unused for arrival jitter, as learned now.",
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
        margin.add_metric([label], app.margin)
        durations.add_metric(
            [label], list(_cumulative(app.duration_counts)), sum_value=app.duration_sum
        )
        outage.add_metric([label], float(app.outage))
        stopped.add_metric([label], float(app.stopped))
    return [requests, rooms, pending, rate, margin, durations, outage, stopped]


@dataclass(frozen=True, slots=True)
class Families(Collector):
    """Metric families made from a snapshot, for prometheus-client's writers."""

    families: list[Metric]

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def exposition(apps: Iterable[AppSnapshot]) -> bytes:
    """The text a scrape gets, from a snapshot (on any thread)."""
    return generate_latest(Families(families(apps)))


def _cumulative(counts: Iterable[int]) -> Iterator[tuple[str, float]]:
    """Prometheus buckets (cumulative, `+Inf` last) from counts per bucket."""
    total = 0
    bounds = [*map(floatToGoString, DURATION_BUCKETS), "+Inf"]  # "0.1", "10.0": as Go writes them
    for bound, count in zip(bounds, counts, strict=True):
        total += count
        yield bound, total
