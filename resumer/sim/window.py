"""A sliding window of event times: how many events fell in the last `span` seconds."""

from __future__ import annotations

from collections import deque

# Float rounding must not decide: 13/12 - 1 < 1/12 in floats, so without this an event pace of
# exactly `limit` per span would be seen as one over. A nanosecond is far below any clock's
# real precision here.
EDGE = 1e-9


class SlidingWindow:
    """Counts events in the half-open window (now - span, now]; O(1) amortised per event.

    An event exactly `span` seconds old (to within EDGE) has left the window, so events at t
    and t + span are never counted together. Times must be added in non-decreasing order.
    """

    __slots__ = ("_times", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self._times: deque[float] = deque()

    def count(self, now: float) -> int:
        """Events in (now - span, now]."""
        times = self._times
        horizon = now - self.span + EDGE
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    def add(self, now: float) -> int:
        """Record an event at `now`; the count including it."""
        count = self.count(now) + 1
        self._times.append(now)
        return count

    def admit(self, now: float, limit: int) -> bool:
        """Record an event at `now` only if fewer than `limit` are in the window."""
        if self.count(now) >= limit:
            return False
        self._times.append(now)
        return True

    def clear(self) -> None:
        """Forget every event."""
        self._times.clear()
