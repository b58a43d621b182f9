"""What the simulator saw, per app: answers by kind, peak rates, rooms, outages; O(1) per event.

The JSON of `SimModel.stats` (and of GET /stats); times are seconds since the simulator started:

    {"uptime_s": 12.5, "rate": 20, "window_s": 1.0,
     "apps": {"1400000001": {
         "requests": 250,                       client requests that named this app
         "by_code": {"0": 230, "100422": 3, "http502": 1, "html": 1, "hang": 1, ...},
         "accepted": 247,                       client requests the window let through
         "max_arrivals_1s": 20,                 most client requests in any 1 s, all answers
         "max_accepted_1s": 20,                 most accepted in any 1 s, neighbour included
         "neighbour_accepted": 0, "neighbour_throttled": 0,
         "during_outage": 0,                    client requests that arrived during an outage
         "slow_replies": 1,                     answers delayed by latency.slow_ms
         "first_arrival_s": 0.01, "last_arrival_s": 12.4,
         "rooms_seen": 240,
         "rooms": {"room-1": 2, ...}}},         requests per RoomId (GET /stats?rooms=0: left out)
     "unrouted": {"60012": 1, "70020": 2}}      by code, requests of no configured app

`by_code` keys are ErrorCodes as text, or the kind of a reply that is not an envelope (see
resumer.sim.config).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from resumer.sim.window import SlidingWindow

PEAK_SPAN = 1.0  # peaks are measured over any 1-second sliding window, whatever the budget's


class AppTraffic:
    """Counters of one app. Times are seconds since the simulator started."""

    def __init__(self) -> None:
        self.by_kind: Counter[str] = Counter()  # answers sent to the client, by kind
        self.rooms: Counter[str] = Counter()  # requests per RoomId that passed verification
        self.accepted = 0  # client requests that the window let through
        self.neighbour_accepted = 0
        self.neighbour_throttled = 0
        self.during_outage = 0
        self.slow_replies = 0
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self.max_arrivals = 0  # client arrivals in any 1 s, whatever they were answered
        self.max_accepted = 0  # accepted in any 1 s, the neighbour's included
        self._arrivals = SlidingWindow(PEAK_SPAN)
        self._accepted = SlidingWindow(PEAK_SPAN)

    def arrival(self, t: float, *, in_outage: bool) -> None:
        """A client request arrived."""
        if self.first_arrival is None:
            self.first_arrival = t
        self.last_arrival = t
        self.max_arrivals = max(self.max_arrivals, self._arrivals.add(t))
        self.during_outage += in_outage

    def admitted(self, t: float, *, neighbour: bool) -> None:
        """A request, the client's or the neighbour's, was let through the window."""
        if neighbour:
            self.neighbour_accepted += 1
        else:
            self.accepted += 1
        self.max_accepted = max(self.max_accepted, self._accepted.add(t))

    def as_json(self, *, rooms: bool) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        out: dict[str, Any] = {
            "requests": self.by_kind.total(),
            "by_code": dict(sorted(self.by_kind.items())),
            "accepted": self.accepted,
            "max_arrivals_1s": self.max_arrivals,
            "max_accepted_1s": self.max_accepted,
            "neighbour_accepted": self.neighbour_accepted,
            "neighbour_throttled": self.neighbour_throttled,
            "during_outage": self.during_outage,
            "slow_replies": self.slow_replies,
            "first_arrival_s": _round(self.first_arrival),
            "last_arrival_s": _round(self.last_arrival),
            "rooms_seen": len(self.rooms),
        }
        if rooms:
            out["rooms"] = dict(self.rooms)
        return out


def _round(t: float | None) -> float | None:
    return None if t is None else round(t, 6)
