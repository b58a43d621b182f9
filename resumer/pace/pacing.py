"""Pacing arithmetic, pure: a drift-free send schedule, the CUBIC rate, and the learned margin.

Nothing here reads a clock or sleeps; every method takes `now` in seconds (the event loop's
monotonic time in production, a number chosen by hand in tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Both tuned on a budget shared with a steady neighbour (bench scenario 3, swept on virtual
# time): CUBIC and the AWS SDKs' adaptive mode use 0.7 and 0.4, but they must guess the rate
# that overshot; here the pacer measures the app's share of the API's window, so a shallower
# cut and a slower climb (fewer probes above the share) keep more of it with fewer throttles.
BETA = 0.8  # multiplicative cut on a throttle
SCALE = 0.05  # CUBIC's C, in (requests/s) per s³: how fast the rate climbs back
MIN_RATE = 0.5  # never pace slower than one request every 2 s; throttles then stop cutting
# Seconds past its slot a send may still claim it (asyncio's timers wake ~1 ms late). A send
# later than that gives the slot up: the grid restarts at the send, so the slots a stalled loop
# missed are lost rather than sent together when it comes back (the shared budget does the same).
LATE = 0.005

# The margin below the budget, kept as the arrival jitter it covers: paced at budget / (1 + J),
# budget + 1 sends span 1 + J seconds, so arrivals up to J late never put budget + 1 in one
# second of the API's window. Tuned on virtual time (tests/test_jitter.py's setting) and then
# measured in bench scenario 7 (the jitter sweep); see docs/design.md, "Pacing".
LEAST_MARGIN = 0.015  # never pace above 98.5 % of the budget: 15.2 ms covered
LEAST_COVER = LEAST_MARGIN / (1 - LEAST_MARGIN)  # seconds of jitter the least margin covers
WIDEST_COVER = 0.1  # seconds: a margin of 9.1 %; a jitter throttle past it is a neighbour's
STEP = 0.012  # seconds of cover a jitter throttle adds while learning (throttles come quickly)
NUDGE = 0.004  # seconds of cover it adds once the margin held for QUIET seconds
QUIET = 60.0  # seconds without a jitter throttle before the cover starts to shrink
SHRINK = 0.0002  # seconds of cover lost per quiet second, back down to LEAST_COVER


class Schedule:
    """Send slots on a fixed grid: slot k+1 is one interval after slot k, not after the send.

    Measuring from the planned slot instead of from the moment a send really happened keeps
    the schedule from drifting: a send woken 1 ms late does not push every later one back.
    A send later than LATE (the loop stalled, or there was no demand) gives its slot up: the
    grid restarts at `now`, so missed slots are never caught up, which would send them closer
    together than the pace and bunch their arrivals at the API.
    """

    def __init__(self) -> None:
        self._next = -math.inf  # time of the next free slot

    def slot(self, now: float, interval: float) -> float:
        """When the next send may leave, given the current interval."""
        if now - self._next <= LATE:
            return self._next  # on time, early (wait for it), or only a little late
        return now  # missed (a stall) or idle: give the slot up and restart the grid here

    def restart(self, at: float) -> None:
        """Start the grid afresh: the next slot is at `at`."""
        self._next = at

    def delay(self, seconds: float) -> None:
        """Move the next slot (and so the whole grid after it) `seconds` later."""
        self._next += seconds

    def take(self, now: float, interval: float) -> float:
        """Claim the next slot (which must have come: slot <= now) and return it."""
        claimed = self.slot(now, interval)
        self._next = claimed + interval
        return claimed


@dataclass(slots=True)
class CubicRate:
    """The app's sending rate: cut by BETA on a throttle, then a cubic climb back to the ceiling.

    The climb is r(t) = SCALE·(t − K)³ + r_max with K = ∛(r_max·(1 − BETA)/SCALE): it starts at
    BETA·r_max, flattens out near r_max (where the last throttle happened, so it lingers just
    below it), and only then probes above it. Sharing the budget with another client, the rate
    therefore settles just under what is left instead of oscillating between half and full.
    """

    ceiling: float  # the most this app may send, requests/s (the budget less a margin)
    rate_max: float = 0.0  # the rate when last throttled
    cut_at: float | None = None  # when it was last throttled; None: never, run at the ceiling

    def rate(self, now: float) -> float:
        """The rate to pace at, at time `now`."""
        if self.cut_at is None:
            return self.ceiling
        k = math.cbrt(self.rate_max * (1 - BETA) / SCALE)
        climbed = SCALE * (now - self.cut_at - k) ** 3 + self.rate_max
        if climbed >= self.ceiling:
            self.cut_at = None  # back at the ceiling: forget the cut
            return self.ceiling
        return max(climbed, MIN_RATE)

    def cut(self, now: float, measured: float | None = None) -> None:
        """A throttle signal: remember the rate it happened at and drop below it at once.

        `measured` is the app's share of the API's window when it refused (see `Pacer`); when
        the budget is shared, that is what is left of it, a better r_max than the rate that
        overshot it.
        """
        current = self.rate(now)
        self.rate_max = max(current if measured is None else min(current, measured), MIN_RATE)
        self.cut_at = now


@dataclass(slots=True)
class Margin:
    """How far below the budget to pace: learned from throttles that arrival jitter caused.

    Kept as the jitter it covers, J seconds: the pace is budget / (1 + J), at which budget + 1
    sends span 1 + J seconds, so only arrivals more than J late (relative to the request sent
    one window earlier) can fill the API's window. A jitter throttle proves the path's jitter
    was more than J: `widen` adds STEP. When no such throttle came for QUIET seconds, J shrinks
    by SHRINK per second, never below LEAST_COVER (today's 1.5 %). So J rises until throttles
    are rare (about one per STEP / SHRINK seconds at the equilibrium) and sinks when the path
    calms: it ends up covering the path's jitter, not a guess of it.
    """

    cover: float = LEAST_COVER  # seconds of jitter covered at `widened_at`
    widened_at: float | None = None  # when a jitter throttle last widened it; None: never

    def jitter(self, now: float) -> float:
        """The arrival jitter the pace covers at `now`, seconds."""
        if self.widened_at is None:
            return self.cover
        quiet = max(0.0, now - self.widened_at - QUIET)
        shrunk = self.cover - SHRINK * quiet
        if shrunk <= LEAST_COVER:
            self.cover, self.widened_at = LEAST_COVER, None  # calm again: forget the widening
            return LEAST_COVER
        return shrunk

    def share(self, now: float) -> float:
        """The part of the budget to pace at: 1 / (1 + J)."""
        return 1 / (1 + self.jitter(now))

    def margin(self, now: float) -> float:
        """The part of the budget left unused for jitter: 1 − share."""
        return 1 - self.share(now)

    def widen(self, now: float) -> float:
        """A throttle caused by jitter: cover STEP more of it; the seconds added (0: at most)."""
        current = self.jitter(now)
        if current >= WIDEST_COVER:
            return 0.0
        learning = self.widened_at is None or now - self.widened_at < QUIET
        wider = min(current + (STEP if learning else NUDGE), WIDEST_COVER)
        self.cover, self.widened_at = wider, now
        return wider - current
