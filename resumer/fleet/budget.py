"""One app's send slots from a GCRA on Redis, shared by every runner that names that Redis.

The slots come from `reserve.lua`, one script call (one round trip) for up to BLOCK grants
(as many as the app's workers wait for), which also carries the leases the run is done with
(fleet.giveback), in the reservation form: the script reads Redis's `TIME` (no host's clock
matters), takes the app's shared rate, books `start = max(TAT, now)` and the slots one interval
after it that were asked for, stores `TAT` one interval after the last and answers how long to
wait. Every runner waits its turn in the order it asked, nobody polls, and the app's sends across
the fleet stay 1/rate apart with a burst of one: after an idle spell the next slot is `now`,
never a backlog. It refuses to book more than AHEAD into the future ("ask again in X"),
so a crowd of callers cannot fill the next minute with promises.

The local side keeps what `pacer.Pacer` keeps, as a guard and for what is this runner's own:
a hard line (a bucket of one: this runner's sends at least 1 / (budget × 0.999) apart) and the
first request alone. The
learned margin is the app's, not the runner's: the fleet's sends interleave on one grid, so
arrival jitter on any runner's path fills the API's window for all of them, and margins of
their own would space each runner's bookings differently (one widened, the others not) with
the grid only as wide as whoever booked last. The script keeps it in `keys.rate` beside the
CUBIC state, as the jitter it covers (J, and when it last widened), learned by the rules of
`pacing.Margin` at Redis's `now`, and every booking is paced at most at budget / (1 + J).
One thing differs: the Pacer lets a send woken late still take its slot (its hard line spaces
the ones after it), but no hard line spaces one runner's sends from another's. A runner woken
more than LATE after its slot (a busy loop, a process held up) gives the slot up and books
again, so it never lands in the gap before the next runner's send.

Throttles, one answer per episode for the fleet: `throttled` stays synchronous and only notes
the refused send's slot (Redis µs); the next reservation carries it, so a throttle costs no
round trip of its own. The script answers it only if the slot is later than the last answer's
(`decided`): five runners reporting throttles of one episode move the fleet once. It counts the
fleet's slots in the second before the refused one, as the Pacer counts its own:

- they (with the refused one) reach the ceiling: the fleet alone had the whole budget, so the
  API's window filled because arrivals came late. No cut; the script widens the shared margin
  (STEP while learning, NUDGE after a quiet spell, as `pacing.Margin.widen`) and moves TAT back
  by the widening. Moving TAT inside the script, rather than waiting for the wider ceiling to
  show in the next intervals, covers the very window that spans the change, for every runner at
  once and in the same round trip, as `Schedule.delay` does for one pacer;
- less, or the margin is at its widest: someone outside the fleet spends the rest. The shared
  CUBIC state is cut to min(current rate, measured share × (1 − margin)) at `now`, and every
  runner climbs back from it together, with the same formula and constants as `pacing.CubicRate`.

Like the CUBIC state, the margin expires with the app's keys (TTL after its last booking): a
fleet back after a minute's idleness starts from the least margin, as a new run does.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

import redis.asyncio as aioredis

from resumer.fleet import keys
from resumer.fleet.generation import Generations
from resumer.fleet.giveback import Carried, GiveBacks
from resumer.fleet.link import Link
from resumer.fleet.reserve import (
    AHEAD,
    US,
    Reservation,
    ThrottleAnswer,
    reserve_args,
    reserve_source,
)
from resumer.pace.pacer import RING
from resumer.pace.pacing import HARD_LINE_MARGIN, START_COVER
from resumer.timing import Clock, Sleep

# Slots one booking takes at most: a round trip per four requests, and at 20/s a block spans
# 0.2 s, so the fleet's runs still interleave finely and a rate cut reaches every run soon.
BLOCK = 4
LATE = 0.01  # seconds past its slot a send may still leave: 2/3 of the least margin's cover
SAMPLES = 16  # reservations whose timing sets the offset between Redis's clock and the loop's


class SharedPacer:
    """Grants one app's send slots from the fleet's shared GCRA (a `sharing.Budget`).

    As with `pacer.Pacer`, each grant must be followed by `done(grant)`; until the first one
    is, no other grant is handed out. A Redis that does not answer holds `acquire` (the link
    fails closed) until it does or the run stops (`sleep` raises).
    """

    def __init__(
        self,
        link: Link,
        sdkappid: int,
        *,
        budget: float,
        sleep: Sleep,
        clock: Clock | None = None,
        generations: Generations | None = None,
        givebacks: GiveBacks | None = None,
    ) -> None:
        self.budget = budget
        self._generations = generations
        self._givebacks = givebacks  # leases the run is done with: each booking carries them
        self.sdkappid = sdkappid
        self._link = link
        self._script = link.script(reserve_source())
        self._keys = keys.budget(sdkappid)
        self._sleep = sleep
        self._clock = clock or asyncio.get_running_loop().time
        # The hard line, as arithmetic on the loop's clock: an aiolimiter bucket of one did the
        # same with a timer and a wake-up of its own per send, a tenth of what sharing cost.
        self._line = 1 / (budget * (1 - HARD_LINE_MARGIN))
        self._last_send = -math.inf
        self._turn = asyncio.Lock()  # one reservation at a time, in arrival order
        self._queued = 0  # acquirers waiting for the turn: how many slots to book at once
        self._stash: deque[tuple[int, float]] = deque()  # booked, not handed out: (µs, loop)
        self._contact = asyncio.Event()  # the app's first request is over: the rest may go
        self._ended: float | None = None  # when the first request ended, for the next booking
        self._report = 0  # the slot of a throttled send, for the next reservation (0: none)
        self._slots = [0] * RING  # Redis slot (µs) of grant g, at g % RING
        self._granted = 0  # number of slots handed out so far
        self._round_end = 0  # grants up to this one were in flight at the last report
        self._cover = START_COVER  # the shared margin at the last reservation (J, seconds)
        self._rate = budget / (1 + self._cover)
        self._unused = 0  # the slot of a send given up, for the next reservation (0: none)
        self._asked_at = 0.0  # when the last script call left (loop clock)
        self._offsets: deque[float] = deque(maxlen=SAMPLES)  # loop clock − Redis's, bounds
        self.throttles = 0  # throttle signals received
        self.widenings = 0  # this runner's reports the fleet read as jitter (widened its margin)
        self.missed = 0  # slots given up, woken too late for them
        self.calls = 0  # script calls made (round trips to Redis, outages aside)

    @property
    def rate(self) -> float:
        """The app's shared rate at the last reservation (under the shared margin)."""
        return self._rate

    @property
    def margin(self) -> float:
        """The part of the budget the fleet leaves unused for jitter, as of the last reservation."""
        return 1 - 1 / (1 + self._cover)

    async def acquire(self) -> int:
        """Wait for the next slot; return its sequence number (for `throttled` and `done`)."""
        self._queued += 1
        try:
            await self._turn.acquire()
        finally:
            self._queued -= 1
        try:
            if self._granted and not self._contact.is_set():
                await self._contact.wait()  # the first request goes alone
            while True:
                slot, ready = await self._book()
                if (remaining := ready - self._clock()) > 0:
                    await self._sleep(remaining)
                if self._clock() - ready <= LATE:
                    break
                # Woken too late (the loop or the process was held up): the fleet's next send
                # is due soon, and this one would land in its gap. Give the slot up, book anew.
                self._unused = slot
                self.missed += 1
            # A guard: the slots are further apart than it.
            while (early := self._last_send + self._line - self._clock()) > 0:
                await self._sleep(early)
            self._last_send = self._clock()
            self._granted += 1
            self._slots[self._granted % RING] = slot
            return self._granted
        finally:
            self._turn.release()

    async def _book(self) -> tuple[int, float]:
        """A booked slot (Redis µs) and when it comes on the loop's clock: the next one of the
        last booking's block, or the first of a new booking."""
        if self._stash:
            return self._stash.popleft()
        while True:
            # Alone until the first request is over; then a slot for each acquirer waiting.
            count = min(BLOCK, 1 + self._queued) if self._contact.is_set() else 1
            reservation = await self._reserve(count)
            if reservation.wiped:  # the run stops: the app's nap raises
                if self._generations is not None:
                    self._generations.wiped(self.sdkappid)
                await self._sleep(AHEAD)
                continue
            ready = self._local(reservation)
            if reservation.booked:
                step = reservation.interval / US
                for n in range(1, reservation.count):
                    self._stash.append(
                        (reservation.at + n * reservation.interval, ready + n * step)
                    )
                return reservation.slot, ready
            await self._sleep(max(0.0, ready - self._clock()))

    def _local(self, reservation: Reservation) -> float:
        """When the reservation's `at` comes on the loop's clock.

        The script read Redis's clock somewhere between the call leaving and its answer being
        read: the answer's arrival minus the script's `now` bounds the offset between the two
        clocks from above, and a call whose answer was read late (a busy loop, a Redis that hung
        and then answered a retry) only bounds it loosely. The tightest of the recent bounds
        is the offset: never early, late by at most the answer's way back (µs on a LAN), and
        the same for every reservation, so one held up in this loop shows up as lateness past
        the slot (see LATE) instead of moving the slot. Never before the call left plus the
        wait, though: a Redis whose clock stepped back (NTP, a failover) would make the older
        bounds read early until they age out.
        """
        self._offsets.append(self._clock() - reservation.now / US)
        return max(reservation.at / US + min(self._offsets), self._asked_at + reservation.wait)

    async def _reserve(self, count: int = 1) -> Reservation:
        """One script call, carrying the pending report and leases; adopt what it says."""
        now = self._clock()
        report, ended, unused = self._report, self._ended, self._unused
        args: list[str | bytes] = [
            *reserve_args(
                budget=self.budget,
                caller=self._link.runner,
                report=report,
                ended=None if ended is None else now - ended,
                unused=unused,
                generation="" if self._generations is None else self._generations.of(self.sdkappid),
                count=count,
            )
        ]
        keys_: list[str] = self._keys
        carried: Carried | None = None
        if self._givebacks is not None and (carried := self._givebacks.carry(self.sdkappid)):
            keys_, args = [*keys_, *carried.keys], [*args, *carried.args]

        async def call(client: aioredis.Redis) -> object:
            self._asked_at = self._clock()  # of the attempt that answers, not of an outage
            self.calls += 1
            return await self._script(keys=keys_, args=args, client=client)

        try:
            reservation = Reservation.parse(await self._link.call(call, self._sleep))
        except BaseException:  # the run stops: the leases wait for its end
            if carried is not None and self._givebacks is not None:
                self._givebacks.carried(carried, None)
            raise
        if carried is not None and self._givebacks is not None:
            self._givebacks.carried(carried, None if reservation.wiped else reservation.given)
        if reservation.wiped:
            return reservation
        if self._report == report:
            self._report = 0  # carried (a newer one, noted meanwhile, waits for the next call)
        if self._unused == unused:
            self._unused = 0
        if reservation.booked:
            self._ended = None
        if reservation.throttle is ThrottleAnswer.WIDENED:
            self.widenings += 1
        self._rate, self._cover = reservation.rate, reservation.cover
        return reservation

    def left(self, grant: int) -> None:
        """The request of `grant` reaches the wire now: as granted, or later when a new
        connection opened first. The local hard line counts the last grant from then, so this
        runner's next send keeps a line from it at the wire. The fleet's slot of a send that
        reached the wire late stays where Redis booked it: the shared margin covers the rest."""
        if grant == self._granted:
            self._last_send = max(self._last_send, self._clock())

    def done(self, grant: int) -> None:
        """The request of `grant` is over: answered, failed, or never sent after all."""
        if grant == 1 and not self._contact.is_set():
            # It left by now, if late (a new connection on a busy loop): the next reservation
            # books no sooner than one interval from now, so the fleet's next sends cannot reach
            # the API within a window of it (as the Pacer restarts its grid here).
            self._ended = self._clock()
            self._contact.set()

    def throttled(self, grant: int) -> bool:
        """A request answered with a throttle signal; True if it will be reported to the fleet.

        One report per round of this runner's requests in flight, as the Pacer cuts once per
        round; the script then answers one report per episode for the whole fleet.
        """
        self.throttles += 1
        if grant <= self._round_end or grant <= self._granted - RING:
            return False
        self._round_end = self._granted
        self._report = self._slots[grant % RING]
        return True
