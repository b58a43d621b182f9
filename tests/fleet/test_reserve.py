"""reserve.lua's arithmetic on chosen inputs, against a real redis-server: each call passes its
own `now` (µs), so nothing here depends on time passing."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from resumer.fleet import keys
from resumer.fleet.reserve import LIVE, Reservation, ThrottleAnswer, reserve_args, reserve_source
from resumer.pace.pacer import MARGIN
from resumer.pace.pacing import BETA, QUIET, START_COVER, STEP, WIDEST_COVER, CubicRate, Margin
from tests.support.servers import RedisServer, redis_server

APP = 1400000001
KEYS = keys.budget(APP)
T0 = 1_000_000_000_000  # µs: an arbitrary moment of the script's epoch
BUDGET = 20.0
CEILING = BUDGET * (1 - MARGIN)  # 19.7/s: the budget less the least margin
GAP = math.ceil(1_000_000 / CEILING)  # µs between two slots at 19.7/s: 50,762


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
async def client(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(server.url)
    await connection.flushall()
    yield connection
    await connection.aclose()


class Reserve:
    """The script, called with chosen `now`s."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._script = client.register_script(reserve_source())

    async def tat(self) -> int | None:
        """The app's TAT as stored, µs."""
        stored = await self._client.get(KEYS[0])
        return None if stored is None else int(stored)

    async def __call__(
        self,
        now: int,
        *,
        report: int = 0,
        ended: float | None = None,
        budget: float = BUDGET,
        caller: str = "runner-a",
    ) -> Reservation:
        args = reserve_args(budget=budget, caller=caller, report=report, ended=ended, now=now)
        return Reservation.parse(await self._script(keys=KEYS, args=args))


async def test_slots_in_the_order_asked_one_interval_apart(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    slots = [await reserve(T0) for _ in range(5)]
    assert [r.slot for r in slots] == [T0 + i * GAP for i in range(5)]
    assert [r.wait for r in slots] == [i * GAP / 1e6 for i in range(5)]
    assert all(r.booked and r.rate == pytest.approx(CEILING, abs=1e-6) for r in slots)
    assert all(r.cover == pytest.approx(START_COVER, abs=1e-9) for r in slots)
    # Asked later, but before the next free slot: in line behind the others.
    later = await reserve(T0 + 30_000)
    assert later.slot == T0 + 5 * GAP
    assert later.wait == (5 * GAP - 30_000) / 1e6


async def test_no_burst_after_an_idle_spell(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    await reserve(T0)
    idle = T0 + 5_000_000
    first, second = await reserve(idle), await reserve(idle)
    assert (first.slot, first.wait) == (idle, 0.0)
    assert second.slot == idle + GAP  # the missed slots are not made up for


async def test_books_at_most_a_second_ahead(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    booked = [await reserve(T0) for _ in range(20)]  # slot 19 is 0.964 s ahead
    assert all(r.booked for r in booked)
    refused = await reserve(T0)
    assert not refused.booked
    assert refused.slot == 0
    assert refused.wait == (20 * GAP - 1_000_000) / 1e6  # ask again when it is a second ahead
    again = await reserve(T0 + 20 * GAP - 1_000_000)
    assert again.booked
    assert again.slot == T0 + 20 * GAP


async def test_keys_expire_when_the_app_goes_idle(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    await reserve(T0)
    await reserve(T0, report=T0)
    for key in KEYS[:4]:  # the generation (KEYS[5]) outlives them: see test_generation
        assert 0 < await client.pttl(key) <= 60_000


async def test_the_first_request_over_books_one_interval_on(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    await reserve(T0)
    late = T0 + 200_000  # the first request ended 0.2 s after its slot
    after = await reserve(late + 10_000, ended=0.01)  # and the next reservation came 10 ms on
    assert after.slot == late + GAP
    idle = await reserve(late + 5_000_000, ended=4.0)  # long ago: nothing to wait for
    assert idle.slot == late + 5_000_000


async def fill(reserve: Reserve, count: int, start: int, every: int) -> list[int]:
    """`count` slots booked at `start`, `start + every`, ...: the fleet's sends."""
    return [(await reserve(start + i * every)).slot for i in range(count)]


async def test_a_neighbour_cuts_the_shared_rate_which_climbs_back_as_cubic_rate(
    client: aioredis.Redis,
) -> None:
    reserve = Reserve(client)
    # The fleet got one slot in 100 ms in the second before the refused one: 10/s.
    slots = await fill(reserve, 11, T0, 100_000)
    refused = slots[-1]
    now = refused + 30_000
    cut = await reserve(now, report=refused)
    assert cut.throttle is ThrottleAnswer.CUT
    expected = CubicRate(ceiling=CEILING)
    expected.cut(now / 1e6, 10 * (1 - MARGIN))
    assert cut.rate == pytest.approx(expected.rate(now / 1e6), abs=1e-6)
    assert cut.rate == pytest.approx(BETA * 10 * (1 - MARGIN), abs=1e-6)  # under the share
    for seconds in (0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10):
        at = now + int(seconds * 1e6)
        climbed = await reserve(at)
        assert climbed.rate == pytest.approx(expected.rate(at / 1e6), abs=1e-5), seconds
    assert climbed.rate == pytest.approx(CEILING, abs=1e-6)  # back at the ceiling by 10 s


async def test_one_cut_per_episode_for_the_whole_fleet(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    slots = await fill(reserve, 12, T0, 100_000)
    now = slots[-1] + 30_000
    first = await reserve(now, report=slots[-1])
    assert first.throttle is ThrottleAnswer.CUT
    # Another runner reports a send of the same episode, booked before the cut: no second cut.
    second = await reserve(now + 10_000, report=slots[-2])
    assert second.throttle is ThrottleAnswer.STALE
    once = CubicRate(ceiling=CEILING)
    once.cut(now / 1e6, 10 * (1 - MARGIN))
    assert second.rate == pytest.approx(once.rate((now + 10_000) / 1e6), abs=1e-6)
    # A send booked after the cut, throttled too: a new episode, a new cut.
    later = (await reserve(now + 500_000)).slot
    third = await reserve(later + 100_000, report=later)
    assert third.throttle is ThrottleAnswer.CUT
    assert third.rate < first.rate


async def test_a_full_window_of_the_fleets_own_sends_is_jitter(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    slots = [(await reserve(T0)).slot for _ in range(20)]  # 19 before the refused 20th
    refused = slots[-1]
    now = refused + 20_000
    tat = int(await client.get(KEYS[0]) or 0)
    jitter = await reserve(now, report=refused)
    assert jitter.throttle is ThrottleAnswer.WIDENED
    assert jitter.cover == pytest.approx(START_COVER + STEP, abs=1e-9)  # the fleet's margin
    assert jitter.slot == tat + 12_000  # the grid moved back by the widening, for everyone
    assert await client.hget(KEYS[2], "cut_at") is None  # no cut
    # Every booking after it, whoever asks, is paced at the budget less the wider margin.
    wider = BUDGET / (1 + START_COVER + STEP)  # 19.47/s
    assert jitter.rate == pytest.approx(wider, abs=1e-6)
    after = await reserve(now)
    assert after.slot - jitter.slot == math.ceil(1_000_000 / wider)
    assert after.margin == pytest.approx(1 - 1 / (1 + START_COVER + STEP), abs=1e-9)


async def jitter_throttle(reserve: Reserve, at: int) -> tuple[Reservation, int]:
    """A full window of the fleet's sends from `at` on, the last one refused and reported 20 ms
    after its slot; the answer, and the TAT it found."""
    slots = await fill(reserve, 20, at, 40_000)  # 19 before the refused one, under 1 s ahead
    tat = (await reserve.tat()) or 0
    return await reserve(slots[-1] + 20_000, report=slots[-1]), tat


async def test_the_shared_margin_is_learned_as_pacing_margin(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    expected = Margin(floor=START_COVER)  # the fleet's: its floor is where a run starts
    seconds = 0.0

    def at(offset: float) -> int:
        return T0 + round(offset * 1e6)

    async def throttled(offset: float) -> Reservation:
        answer, tat = await jitter_throttle(reserve, at(offset))
        now = answer.now / 1e6
        widened = expected.widen(now)
        assert answer.throttle is ThrottleAnswer.WIDENED, offset
        assert answer.cover == pytest.approx(expected.jitter(now), abs=1e-9), offset
        assert answer.slot == max(tat, answer.now) + round(widened * 1e6), offset
        return answer

    async def read(offset: float) -> Reservation:
        answer = await reserve(at(offset))
        assert answer.throttle is ThrottleAnswer.NONE
        assert answer.cover == pytest.approx(expected.jitter(answer.now / 1e6), abs=1e-9), offset
        assert answer.rate == pytest.approx(BUDGET / (1 + answer.cover), abs=1e-6), offset
        return answer

    first = await throttled(seconds)  # learning: a STEP
    assert first.cover == pytest.approx(START_COVER + STEP, abs=1e-9)
    second = await throttled(seconds := seconds + 5)  # learning still: another STEP
    assert second.cover == pytest.approx(START_COVER + 2 * STEP, abs=1e-9)
    await read(seconds + QUIET - 1)  # held for QUIET seconds: no shrinking yet
    shrunk = await read(seconds + QUIET + 10)  # then 0.2 ms lost per second
    assert shrunk.cover < second.cover
    nudged = await throttled(seconds := seconds + QUIET + 20)  # after a quiet spell: a NUDGE
    assert nudged.cover < START_COVER + 2 * STEP
    await read(seconds + 30)
    await read(seconds + QUIET + 40)
    calm = await read(seconds + QUIET + 200)  # shrunk back to the least cover: forgotten
    assert calm.cover == pytest.approx(START_COVER, abs=1e-9)
    again = await throttled(seconds + QUIET + 300)  # learning afresh: a STEP again
    assert again.cover == pytest.approx(START_COVER + STEP, abs=1e-9)


async def test_jitter_at_the_widest_margin_cuts_instead(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    await client.hset(KEYS[2], mapping={"cover": WIDEST_COVER, "widened_at": T0})
    slots = [(await reserve(T0)).slot for _ in range(19)]  # 18.2/s: 19 fit in a second ahead
    cut = await reserve(slots[-1] + 20_000, report=slots[-1])
    assert cut.throttle is ThrottleAnswer.CUT
    assert cut.cover == pytest.approx(WIDEST_COVER, abs=1e-9)  # as wide as it goes: not widened
    assert cut.rate == pytest.approx(BETA * 18 / (1 + WIDEST_COVER), abs=1e-6)


async def test_the_refused_send_is_not_counted_again(client: aioredis.Redis) -> None:
    reserve = Reserve(client)
    slots = await fill(reserve, 5, T0, 100_000)
    await reserve(slots[-1] + 10_000, report=slots[-1])
    remaining = await client.zrange(KEYS[1], 0, -1)
    assert str(slots[-1]).encode() not in remaining
    assert str(slots[-2]).encode() in remaining


async def test_the_lowest_rate_any_live_runner_asked_for_is_the_apps_line(
    client: aioredis.Redis,
) -> None:
    reserve = Reserve(client)
    alone = await reserve(T0, budget=20.0, caller="runner-a")
    assert alone.rate == pytest.approx(CEILING, abs=1e-6)
    lowered = await reserve(T0 + 1, budget=10.0, caller="runner-b")
    assert lowered.rate == pytest.approx(10 * (1 - MARGIN), abs=1e-6)
    # The runner that asked for 20/s is held to the other's 10/s too, and its slots with it.
    held = await reserve(T0 + 2, budget=20.0, caller="runner-a")
    assert held.rate == lowered.rate
    assert held.slot - lowered.slot == math.ceil(1_000_000 / lowered.rate)
    # Once the 10/s runner has not asked for LIVE seconds, it no longer holds the line.
    later = T0 + round(LIVE * 1e6) + 2_000_000
    freed = await reserve(later, budget=20.0, caller="runner-a")
    assert freed.rate == pytest.approx(CEILING, abs=1e-6)
    assert await client.zrange(KEYS[3], 0, -1) == [b"20.0 runner-a"]
