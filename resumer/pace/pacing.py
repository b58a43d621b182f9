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
HARD_LINE_MARGIN = 0.001  # the hard line's rate under the budget: 21 sends span over 1 s

# The margin below the budget, kept as the arrival jitter it covers: paced at budget / (1 + J),
# budget + 1 sends span 1 + J seconds, so arrivals up to J late never put budget + 1 in one
# second of the API's window. Tuned on virtual time (tests/pace/test_jitter.py's setting) and
# then measured in bench scenarios 1 (the quiet path) and 7 (the jitter sweep); see
# docs/design.md, "Pacing".
START_MARGIN = 0.015  # where every margin starts: 98.5 % of the budget, 15.2 ms covered
START_COVER = START_MARGIN / (1 - START_MARGIN)  # seconds of jitter the starting margin covers
# The least a run's own margin learns down to on a quiet path: 0.8 %. Over loopback on a busy
# 2-core machine, 20 intervals reached the simulator up to 5.5 ms shorter than they left (a
# late write, the simulator's loop); 8 ms covers that with room (bench scenario 1 reports the
# tightest 21 arrivals in a row), and pacing at 19.84/s instead of 19.70/s is the 0.7 % of the
# budget the start leaves unused.
FLOOR_COVER = 0.008
HALF_LIFE = 5.0  # seconds: until the first jitter throttle, the cover's excess over the floor
# halves this fast, so a quiet run is near its floor within 20 s and a jittery one meets its
# first throttle (and learns from it) within its first seconds, not at its floor
HELD = 5.0  # seconds the fall must have lasted for a throttle during it to take it back to the
# start only: about 100 requests at the starting margin without a throttle
WIDEST_COVER = 0.1  # seconds: a margin of 9.1 %; a jitter throttle past it is a neighbour's
STEP = 0.012  # seconds of cover a jitter throttle adds while learning (throttles come quickly)
NUDGE = 0.004  # seconds of cover it adds once the margin held for QUIET seconds
QUIET = 60.0  # seconds without a jitter throttle before the cover starts to shrink
SHRINK = 0.0002  # seconds of cover lost per quiet second, back down to the floor


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


class HardLine:
    """The line no schedule crosses: any `span` + 1 sends in a row take more than a window.

    `span` is the budget rounded up (20 for 20/s), and `span` intervals of the line, at the
    budget less HARD_LINE_MARGIN, last 1.001 s: 21 sends never fit in one second by send time,
    whatever the schedule does. A send may still leave a little closer to the one before it
    than an interval (a late wake-up followed by a punctual one): holding every gap to a whole
    interval, as a bucket of one does, would pass each late wake-up on to the sends after it and
    cost the rate 1 % at a margin of 0.8 % (bench scenario 1). No gap is shorter than half an
    interval, so a schedule catching up cannot send a burst either.

    Pure: `sent(at)` records a send, `left(n, at)` moves the `n`th to when it really left (a
    request that opened a connection first), `earliest()` says when the next may leave.
    """

    def __init__(self, budget: float) -> None:
        self.span = max(1, math.ceil(budget))
        self._interval = 1 / (budget * (1 - HARD_LINE_MARGIN))
        self._sent = [-math.inf] * self.span  # send n (from 1) at (n - 1) % span, the last span
        self._count = 0  # sends so far

    def earliest(self) -> float:
        """When the next send may leave, at the soonest."""
        oldest = self._sent[self._count % self.span]
        last = self._sent[(self._count - 1) % self.span]
        return max(oldest + self.span * self._interval, last + self._interval / 2)

    def sent(self, at: float) -> None:
        """A send left at `at`."""
        self._sent[self._count % self.span] = at
        self._count += 1

    def left(self, n: int, at: float) -> None:
        """The `n`th send (from 1) reached the wire only at `at`: it counts from then on.

        Only later, never earlier, and only while it is one of the last `span`: an older one
        no longer bounds the next send."""
        if self._count - self.span < n <= self._count:
            index = (n - 1) % self.span
            self._sent[index] = max(self._sent[index], at)


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
    """How far below the budget to pace: learned down on a quiet path, up from jitter throttles.

    Kept as the jitter it covers, J seconds: the pace is budget / (1 + J), at which budget + 1
    sends span 1 + J seconds, so only arrivals more than J late (relative to the request sent
    one window earlier) can fill the API's window. Like TCP's slow start, it learns in two
    phases:

    - until the first jitter throttle, J falls from START_COVER towards the floor, its excess
      halving every HALF_LIFE seconds: a quiet path ends up paced at 99.2 % of the budget. The
      fall is a probe below the start. A throttle early in it (the start held for less than
      HELD seconds) is answered as one at the start (START_COVER + STEP), so a jittery path
      learns as fast, and keeps as much, as if the margin had never fallen; one later takes J
      back to the start, which held, and the learning goes on from there;
    - a jitter throttle proves the path's jitter was more than J: `widen` adds STEP (NUDGE once
      the margin had held for QUIET seconds). When no such throttle came for QUIET seconds, J
      shrinks by SHRINK per second, back down to the floor. So J rises until throttles are rare
      (about one per QUIET + STEP / SHRINK seconds at the equilibrium: 0.04 % of the requests)
      and sinks when the path calms: it ends up covering the path's jitter, not a guess of it.

    `floor` is FLOOR_COVER for a run's own margin; the fleet's shared one keeps START_COVER
    (fleet.budget: each runner may send up to its LATE after a slot, and their lateness adds).
    """

    floor: float = FLOOR_COVER  # the least J, seconds
    cover: float = START_COVER  # seconds of jitter covered at `widened_at`, or at `since`
    widened_at: float | None = None  # when a jitter throttle last widened it; None: never
    since: float | None = None  # when the fall from `cover` began: the first look at it

    def jitter(self, now: float) -> float:
        """The arrival jitter the pace covers at `now`, seconds."""
        if self.widened_at is None:
            if self.since is None:
                self.since = now
            excess = self.cover - self.floor
            return self.floor + excess * math.exp2((self.since - now) / HALF_LIFE)
        quiet = max(0.0, now - self.widened_at - QUIET)
        shrunk = self.cover - SHRINK * quiet
        if shrunk <= self.floor:
            # calm again: forget the widening (the fall from the floor is no fall at all)
            self.cover, self.widened_at, self.since = self.floor, None, now
            return self.floor
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
        if self.widened_at is None and self.since is not None and current < START_COVER:
            # The fall's probe failed. Early (the start held only a moment, the path is
            # jittery): as at the start, a STEP above it. Late (the start held for HELD
            # seconds, the path is quiet but for a little): back to the start, which held.
            held = now - self.since >= HELD
            self.cover, self.widened_at = START_COVER + (0.0 if held else STEP), now
            return self.cover - current
        learning = self.widened_at is None or now - self.widened_at < QUIET
        wider = min(current + (STEP if learning else NUDGE), WIDEST_COVER)
        self.cover, self.widened_at = wider, now
        return wider - current
