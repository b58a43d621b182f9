"""The pacer of one app: when each request may leave, and how throttle signals slow it down.

Two gates in a row:

1. the adaptive schedule (`pacing.Schedule` at the `pacing.CubicRate`), capped at the budget
   less a learned margin (`pacing.Margin`: from 1.5 % down to 0.8 % on a quiet path, 19.84/s
   for 20/s; more on a jittery one), decides when the next request *should* leave;
2. the hard line (`pacing.HardLine`): any 21 requests in a row span more than a second (20
   lines of 50.05 ms), so no 1 s window holds more than 20, from the first second on, with no
   start-up burst, and no two requests leave closer than 25 ms.

The schedule alone would already keep to the line; the line makes the guarantee not depend
on the schedule's arithmetic (its catching up after a busy spell, above all). It bounds spans of
21 sends rather than each gap on purpose: asyncio's timers wake up to 1 ms late, and a line on
each gap, close to the pace, would bind on every late wake-up and pass that lateness on to every
later send.

The app's first request goes alone, and the schedule starts over when it is done. That costs
one round trip per run and buys two things: a fatal reply (a wrong key, an expired plan) costs
one request, not the handful a full pace puts in flight before the first reply (the API locks an
app out for a minute after repeated signature failures: 70050); and the first request, often
late because it opens a connection on a busy loop, cannot share a window with the 21st.

A throttle (100422) means the API's window was full when the request arrived. The pacer counts
the app's own requests that left in the second before the refused one: that is the part of the
budget the app had, and whoever shares the budget had the rest. Two causes, two answers (at most
one per round of requests in flight):

- the app had (nearly) the whole budget by send time (ALONE): nobody else spends it, so the
  API's window filled because arrivals came late by more than the margin covers. The learned
  `pacing.Margin` widens a little, the rate is kept, and the grid moves back by the widening so
  the very next window is covered;
- the app had clearly less (or the margin is at its widest): someone else spends the rest, and
  the CUBIC rate is cut below the app's share and climbs back to just under it.
"""

from __future__ import annotations

import asyncio
import math

from resumer.pace.pacing import START_MARGIN, CubicRate, HardLine, Margin, Schedule
from resumer.timing import Clock, Sleep

MARGIN = START_MARGIN  # a run starts at 98.5 % of the budget: arrivals jitter on the way there
WINDOW = 1.0  # seconds: the API counts the budget over a sliding window this long
SKEW = 0.01  # seconds a request may take to reach the API, so its window reaches that far back
RING = 64  # grants whose send times are kept: more than fit in a window at any budget (≤ 20/s)


class Pacer:
    """Grants send slots for one SDKAppID, FIFO, at the adaptive rate and never over the budget.

    Each grant must be followed by `done(grant)` once its request is over, whatever became of it:
    until the first one is, no other grant is handed out. `left(grant)` as the request reaches
    the wire keeps the hard line true at the wire, not only at the grant.

    `clock` and `sleep` are injected (the loop's clock and `asyncio.sleep` by default); the hard
    line is arithmetic on the same clock, so tests run the pacer on a loop with virtual time.
    """

    def __init__(
        self,
        *,
        budget: float,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self._clock = clock or asyncio.get_running_loop().time
        self._sleep = sleep
        self._margin = Margin()
        self._rate = CubicRate(ceiling=budget * (1 - MARGIN))
        self._schedule = Schedule()
        self._hard_line = HardLine(budget)
        self._turn = asyncio.Lock()  # one grant at a time, in arrival order
        self._sent_at = [-math.inf] * RING  # send time of grant g, at g % RING
        self._refused = [False] * RING  # grant g was throttled, at g % RING
        self._granted = 0  # number of slots handed out so far
        self._round_end = 0  # grants up to this one were in flight at the last cut
        self.throttles = 0  # throttle signals received
        self.widenings = 0  # throttles read as jitter, which widened the margin
        self._contact = asyncio.Event()  # the app's first request is over: the rest may go

    @property
    def rate(self) -> float:
        """The rate the app is paced at now, requests/s."""
        return self._pace(self._clock())

    @property
    def margin(self) -> float:
        """The part of the budget left unused for arrival jitter now (0.008 on a quiet path)."""
        return self._margin.margin(self._clock())

    def _pace(self, now: float) -> float:
        """The CUBIC rate, under a ceiling of the budget less the learned margin."""
        self._rate.ceiling = self.budget * self._margin.share(now)
        return self._rate.rate(now)

    async def acquire(self) -> int:
        """Wait for the next slot; return its sequence number (for `throttled` and `done`)."""
        async with self._turn:
            if self._granted and not self._contact.is_set():
                await self._contact.wait()  # the first request goes alone
            while True:
                now = self._clock()
                interval = 1 / self._pace(now)
                slot = max(self._schedule.slot(now, interval), self._hard_line.earliest())
                if slot <= now:
                    break
                # Re-check after waking: a throttle may have slowed the rate meanwhile.
                await self._sleep(slot - now)
            self._schedule.take(now, interval)
            self._hard_line.sent(now)
            self._granted += 1
            self._sent_at[self._granted % RING] = now
            self._refused[self._granted % RING] = False
            return self._granted

    def done(self, grant: int) -> None:
        """The request of `grant` is over: answered, failed, or never sent after all."""
        if grant == 1 and not self._contact.is_set():
            # It left by now, if late (a new connection on a busy loop): the grid restarts as if
            # it took this very slot, so the 21st request cannot reach the API in its second.
            now = self._clock()
            self.left(grant)
            self._schedule.restart(now + 1 / self._pace(now))
            self._contact.set()

    def left(self, grant: int) -> None:
        """The request of `grant` reaches the wire now: as granted, or later when a new
        connection opened first (up to a few hundred ms with a hundred apps starting at once
        on two cores, measured). Its place on the hard line moves to now, so the 21st request
        after it cannot share its second at the API; the grid stays where it was."""
        now = self._clock()
        self._hard_line.left(grant, now)
        if grant > self._granted - RING:
            self._sent_at[grant % RING] = max(self._sent_at[grant % RING], now)

    def throttled(self, grant: int) -> bool:
        """A request answered with a throttle signal; True if this one slowed the app down.

        Only one cut per round: requests that left before the last cut were sent at the old
        rate, so their throttles say nothing new about the current one.
        """
        self.throttles += 1
        share = self._share(grant)
        if grant > self._granted - RING:
            self._refused[grant % RING] = True
        if grant <= self._round_end:
            return False
        now = self._clock()
        self._round_end = self._granted
        ceiling = self.budget * self._margin.share(now)
        if share is not None and share * WINDOW + 1 >= ceiling:
            # The app alone had its whole budget: its own requests, the refused one included,
            # took all the pace allows in that second (19 and 1 at 19.7/s; a neighbour at 2/s
            # leaves it 18). So the window filled because arrivals came later than the margin
            # covers. Keep the rate, widen the margin, and move the grid back by as much, so
            # the window that spans the change is covered too, not only the ones after it.
            widened = self._margin.widen(now)
            if widened > 0:
                self.widenings += 1
                self._schedule.delay(widened)
                return True
        # Aim just under the share, as the pace aims just under the budget: a climb that levels
        # off exactly at it would be throttled by every jitter of the arrivals.
        margin = self._margin.margin(now)
        self._pace(now)  # the ceiling of this moment, which the cut starts from
        self._rate.cut(now, None if share is None else share * (1 - margin))
        return True

    def _share(self, grant: int) -> float | None:
        """This app's requests the API counted in the second before `grant` left; None: unknown.

        The API refused `grant` because its window was full, so this is the part of the budget
        the app had; whoever shares the budget had the rest. Counted by send time, not by reply
        time: replies come back out of order and late, which made the count read low.
        """
        oldest = max(1, self._granted - RING + 1)
        if grant < oldest:
            return None
        since = self._sent_at[grant % RING] - WINDOW - SKEW
        count = 0
        for earlier in range(grant - 1, oldest - 1, -1):
            if self._sent_at[earlier % RING] <= since:
                break
            count += not self._refused[earlier % RING]
        # None of its own: someone else filled the window, which says nothing of how much is
        # left (an earlier run of this very app, stopped a moment ago, would read as zero).
        return count / WINDOW if count else None
