"""Pure arithmetic over arrival times (seconds) as the simulator recorded them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ACCEPTED = "0"  # the answer kind of a success envelope


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of `values` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(times: Sequence[float]) -> float:
    """Requests per second from the first arrival to the last: (n - 1) / span."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def grid_lag_ms(times: Sequence[float], pace: float) -> list[float]:
    """How late each arrival is behind an ideal grid of `pace` per second, in ms.

    Slot i of the grid is i / pace after slot 0; the grid is placed so that the earliest
    arrival relative to its slot has lag 0 (a request cannot leave before its slot, so that one
    shows the bare transit time). A schedule that drifts shows as lag growing over the run.
    """
    if not times:
        return []
    offsets = [t - i / pace for i, t in enumerate(times)]
    base = min(offsets)
    return [(o - base) * 1000 for o in offsets]


def max_in_window(times: Sequence[float], span: float = 1.0) -> int:
    """Most arrivals in any half-open window of `span` seconds (times sorted)."""
    best = 0
    first = 0
    for last, t in enumerate(times):
        while times[first] <= t - span:
            first += 1
        best = max(best, last - first + 1)
    return best


def windows_over(times: Sequence[float], budget: int, span: float = 1.0) -> int:
    """How many windows of `span` seconds hold more than `budget` arrivals (times sorted).

    Each such window is counted once, by its last arrival: arrival i closes one when the
    budget-th arrival before it came less than `span` earlier (the half-open windows of
    `max_in_window`), so a burst of 22 in a second counts 2, a lone 21st counts 1.
    """
    return sum(1 for i in range(budget, len(times)) if times[i - budget] > times[i] - span)


def count_between(times: Sequence[float], start: float, end: float) -> int:
    """Arrivals in [start, end)."""
    return sum(1 for t in times if start <= t < end)


def first_at_or_after(times: Sequence[float], kinds: Sequence[str], start: float) -> float | None:
    """The first accepted ("0") arrival at or after `start`, or None."""
    return next(
        (t for t, k in zip(times, kinds, strict=True) if t >= start and k == ACCEPTED), None
    )


def back_to_rate(
    times: Sequence[float], start: float, count: int, span: float = 1.0
) -> float | None:
    """The first moment when `count` arrivals since `start` fell within `span` seconds."""
    first = 0
    for last, t in enumerate(times):
        while times[first] <= t - span or times[first] < start:
            first += 1
            if first > last:
                break
        if t >= start and last - first + 1 >= count:
            return t
    return None


@dataclass(frozen=True, slots=True)
class Crowded:
    """A window of budget + 1 arrivals in less than a second, seen from both ends.

    Arrival k is paired with the k-th send at the wire (both sorted), on clocks aligned by the
    least transit (`transit_offset`): `late_*` is how much longer than that least transit the
    window's first and last requests took to be stamped by the simulator.
    """

    first: int  # the window's first arrival, from 0
    arrival_span: float  # seconds from the first arrival to the last, at the simulator
    wire_span: float  # seconds from the first send to the last, at the client's wire
    late_first: float  # seconds
    late_last: float


def transit_offset(pairs: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """The least arrival − wire time over every (arrivals, wires) pair of sorted times: the two
    clocks' offset plus the quickest transit."""
    return min(
        (a - w for arrivals, wires in pairs for a, w in zip(arrivals, wires, strict=False)),
        default=0.0,
    )


def first_crowded(
    arrivals: Sequence[float], wires: Sequence[float], budget: int, offset: float
) -> Crowded | None:
    """The first window of `budget` + 1 arrivals within a second (sorted times), or None."""
    count = min(len(arrivals), len(wires))
    for i in range(count - budget):
        j = i + budget
        if arrivals[j] - arrivals[i] < 1.0:
            return Crowded(
                first=i,
                arrival_span=arrivals[j] - arrivals[i],
                wire_span=wires[j] - wires[i],
                late_first=arrivals[i] - offset - wires[i],
                late_last=arrivals[j] - offset - wires[j],
            )
    return None
