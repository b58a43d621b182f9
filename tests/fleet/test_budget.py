"""SharedPacers of several runners (separate links, one loop) on one app, against a real
redis-server, in real time but short: the fleet's sends stay under the budget in every 1 s
window, through a Redis that hangs and a script cache that is flushed."""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from resumer.errors import RedisLostError
from resumer.fleet import keys
from resumer.fleet.budget import BLOCK, LATE, SharedPacer
from resumer.fleet.link import Link, time_us
from resumer.fleet.reserve import EPOCH, US
from resumer.pace.pacing import START_COVER, STEP
from tests.support.servers import RedisServer

APP = 1400000001
BUDGET = 20.0
INTERVAL = 1 / 19.7  # the pace: the budget less the least margin
SCRIPT_COMMANDS = ("evalsha", "eval", "script|load")  # round trips: the script's own do not count


def most_in_a_second(times: list[float]) -> int:
    """The most times in any closed 1 s window [t, t + 1]."""
    times = sorted(times)
    return max((bisect_right(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


@dataclass
class Fleet:
    """Runners sharing one app's budget, each granting slots to requests that end at once."""

    pacers: list[SharedPacer]
    granted: list[float] = field(default_factory=list)  # the loop's clock at each grant
    slots: list[int] = field(default_factory=list)  # the Redis slot of each grant, µs

    async def run(self, total: int, on_grant: Callable[[int], None] | None = None) -> None:
        clock = asyncio.get_running_loop().time

        async def runner(pacer: SharedPacer) -> None:
            while len(self.granted) < total:
                grant = await pacer.acquire()
                pacer.done(grant)
                if len(self.granted) >= total:
                    return  # another runner took the last one meanwhile
                self.granted.append(clock())
                self.slots.append(pacer._slots[grant % len(pacer._slots)])
                if on_grant is not None:
                    on_grant(len(self.granted))

        await asyncio.gather(*(runner(pacer) for pacer in self.pacers))


@pytest.fixture
async def links(server: RedisServer) -> AsyncIterator[list[Link]]:
    def lost(error: RedisLostError) -> None:
        raise AssertionError(f"Redis lost for good: {error}")

    opened = [
        await Link.connect(server.url, shown_url=server.url, limit=30, on_lost=lost)
        for _ in range(3)
    ]
    yield opened
    for link in opened:
        await link.close()


def fleet_of(links: list[Link]) -> Fleet:
    return Fleet([SharedPacer(link, APP, budget=BUDGET, sleep=asyncio.sleep) for link in links])


def assert_within_budget(fleet: Fleet) -> None:
    assert most_in_a_second(fleet.granted) <= 20
    slots = sorted(fleet.slots)
    assert len(set(slots)) == len(slots)
    assert min(b - a for a, b in pairwise(slots)) >= 1e6 * INTERVAL  # on Redis's clock
    # On the loop's clock: a send may leave up to LATE after its slot (later, it is given up),
    # and the one before it on time; the 1 s windows above are what the API counts.
    assert min(b - a for a, b in pairwise(fleet.granted)) >= INTERVAL - LATE


async def test_three_runners_share_one_budget_through_a_script_flush(
    server: RedisServer, links: list[Link]
) -> None:
    fleet = fleet_of(links)
    await links[0].redis.config_resetstat()

    def flush(count: int) -> None:
        if count == 30:
            assert server.command("SCRIPT", "FLUSH") == "+OK"

    await fleet.run(60, on_grant=flush)
    stats = await links[0].redis.info("commandstats")
    trips = sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in SCRIPT_COMMANDS)
    assert len(fleet.granted) == 60
    assert_within_budget(fleet)
    # Every runner had its turn, and each grant cost one script call, one round trip (and one
    # more per slot given up, woken too late for it: none on a quiet machine), but for the
    # loads (EVALSHA refused, SCRIPT LOAD, EVALSHA again: at the start and after the flush).
    assert all(pacer._granted >= 10 for pacer in fleet.pacers)
    calls = sum(pacer.calls for pacer in fleet.pacers)
    assert calls == sum(pacer._granted + pacer.missed for pacer in fleet.pacers)
    assert trips <= calls + 2 * 2 * len(fleet.pacers)


async def test_no_grant_while_redis_hangs_and_no_burst_after(
    server: RedisServer, links: list[Link]
) -> None:
    fleet = fleet_of(links)
    hang: list[float] = []
    clock = asyncio.get_running_loop().time

    async def pause_for(seconds: float) -> None:
        server.pause()
        hang.append(clock())
        await asyncio.sleep(seconds)  # the fault's length, not a wait for the code under test
        server.resume()
        hang.append(clock())

    pausing: list[asyncio.Task[None]] = []

    def pause(count: int) -> None:
        if count == 15:
            pausing.append(asyncio.create_task(pause_for(1.5)))

    await fleet.run(40, on_grant=pause)
    await pausing[0]
    paused, resumed = hang
    # Slots booked before the hang (a few intervals ahead at most) are kept; none after.
    during = [t for t in fleet.granted if paused + 4 * INTERVAL < t < resumed]
    assert during == []
    assert sum(t > resumed for t in fleet.granted) >= 20
    assert_within_budget(fleet)


async def settle() -> None:
    """Let every task that can run without waiting for time run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_the_first_request_goes_alone(links: list[Link]) -> None:
    pacer = SharedPacer(links[0], APP, budget=BUDGET, sleep=asyncio.sleep)
    first = await pacer.acquire()
    second = asyncio.create_task(pacer.acquire())
    await settle()
    assert not second.done()
    assert pacer.calls == 1
    ended = asyncio.get_running_loop().time()
    pacer.done(first)
    assert await second == 2
    # Booked one interval after the first request ended, not at the slot after the first's.
    assert asyncio.get_running_loop().time() - ended >= INTERVAL - LATE


async def test_the_hard_line_holds_a_grant_that_the_grid_would_let_go(links: list[Link]) -> None:
    pacer = SharedPacer(links[0], APP, budget=BUDGET, sleep=asyncio.sleep)
    pacer._line = 0.2  # wider than the fleet's grid (50.8 ms): the line is what holds the sends
    clock = asyncio.get_running_loop().time
    times = []
    for _ in range(3):
        grant = await pacer.acquire()
        times.append(clock())
        pacer.done(grant)
    assert all(later - earlier >= 0.2 for earlier, later in pairwise(times))


async def test_the_hard_line_counts_a_send_from_when_it_reached_the_wire(
    links: list[Link],
) -> None:
    pacer = SharedPacer(links[0], APP, budget=BUDGET, sleep=asyncio.sleep)
    pacer._line = 0.2  # wider than the fleet's grid, as above
    clock = asyncio.get_running_loop().time
    first = await pacer.acquire()
    pacer.done(first)
    second = await pacer.acquire()
    await asyncio.sleep(0.1)  # a new connection opened first
    pacer.left(second)
    wire = clock()
    pacer.done(second)
    pacer.done(await pacer.acquire())
    assert clock() - wire >= 0.2


async def test_a_throttle_cuts_the_rate_of_every_runner_once(links: list[Link]) -> None:
    one, two = (SharedPacer(link, APP, budget=BUDGET, sleep=asyncio.sleep) for link in links[:2])
    grants = []
    for pacer in (one, two, one, two):
        grants.append(grant := await pacer.acquire())
        pacer.done(grant)
    # Four sends in the second before: a neighbour has the rest of the budget.
    assert one.throttled(grants[2]) is True
    assert one.throttled(grants[2]) is False  # the same round: reported once
    assert two.throttled(grants[3]) is True  # its own round: reported, but the same episode
    for pacer in (one, two):
        pacer.done(await pacer.acquire())
    assert one.rate == pytest.approx(two.rate, abs=0.1)
    assert one.rate < 4  # BETA x 3 x 0.985: under the fleet's share, for both
    assert one.margin == two.margin == pytest.approx(1 - 1 / 1.0152, abs=1e-3)  # no widening


async def test_a_slot_woken_too_late_for_is_given_up(links: list[Link]) -> None:
    held_up = [False]

    async def oversleep(seconds: float) -> None:
        await asyncio.sleep(seconds)
        if seconds > 0.01 and not held_up[0]:
            held_up[0] = True
            await asyncio.sleep(2 * LATE)  # the process was held up past the slot

    pacer = SharedPacer(links[0], APP, budget=BUDGET, sleep=oversleep)
    for _ in range(3):
        pacer.done(await pacer.acquire())
    # The one held up is given up; a loaded machine may hold up another on its own.
    assert pacer.missed >= 1
    assert pacer._granted == 3
    pacer.done(await pacer.acquire())  # carries the slot given up
    sends = await links[0].redis.zrange(keys.sends(APP), 0, -1)
    assert len(sends) == 4  # four sent; the fifth booked was never sent, and is not counted


async def test_a_full_window_of_the_fleets_own_sends_widens_the_fleets_margin(
    links: list[Link],
) -> None:
    one, two = (SharedPacer(link, APP, budget=BUDGET, sleep=asyncio.sleep) for link in links[:2])
    # The fleet sent 19 in the second before now (on Redis's clock), 50 ms apart.
    now = await time_us(links[0].redis) - EPOCH * US
    await links[0].redis.zadd(
        keys.sends(APP), {str(now - k * 50_000): now - k * 50_000 for k in range(1, 20)}
    )
    grant = await one.acquire()  # the 20th, and the API refused it: arrivals came late
    one.done(grant)
    assert one.throttled(grant) is True
    least = two.margin
    one.done(await one.acquire())
    assert one.widenings == 1
    wider = 1 - 1 / (1 + START_COVER + STEP)
    assert one.margin == pytest.approx(wider, abs=1e-6)
    assert one.rate == pytest.approx(BUDGET * (1 - wider), abs=1e-3)  # no cut
    # Whoever's path was late, the margin is the app's: the other runner books under it too.
    assert least == pytest.approx(1 - 1 / (1 + START_COVER), abs=1e-6)
    two.done(await two.acquire())
    assert two.widenings == 0
    assert two.margin == pytest.approx(wider, abs=1e-6)
    assert two.rate == pytest.approx(one.rate, abs=1e-3)


async def test_acquirers_waiting_together_take_a_block_of_slots_from_one_booking(
    links: list[Link],
) -> None:
    pacer = SharedPacer(links[0], APP, budget=BUDGET, sleep=asyncio.sleep)
    clock = asyncio.get_running_loop().time
    granted: list[float] = []

    async def worker() -> None:
        while len(granted) < 25:
            grant = await pacer.acquire()
            granted.append(clock())
            pacer.done(grant)

    await asyncio.gather(*(worker() for _ in range(6)))
    # The first alone, then a block of BLOCK slots for the workers waiting (more calls only
    # for slots given up, woken too late: none on a quiet machine).
    assert pacer.calls <= 1 + -(-(len(granted) - 1) // BLOCK) + pacer.missed
    assert most_in_a_second(granted) <= 20
    slots = [pacer._slots[g % len(pacer._slots)] for g in range(2, len(granted) + 1)]
    assert all(b - a >= round(INTERVAL * US) - 1 for a, b in pairwise(slots))
