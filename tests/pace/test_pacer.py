"""The pacer on virtual time: never over the budget in any 1 s window, close to it, adaptive:
the margin falls on a quiet path, a throttle from jitter widens it, a throttle from a neighbour
cuts the rate."""

import asyncio
from bisect import bisect_left
from functools import partial
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resumer.pace import pacer as pacer_module
from resumer.pace.pacer import MARGIN, Pacer
from resumer.pace.pacing import (
    BETA,
    FLOOR_COVER,
    QUIET,
    START_COVER,
    STEP,
    WIDEST_COVER,
    Margin,
)
from tests.support.vtime import run_virtual


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most sends in any half-open window [t, t + width)."""
    times = sorted(times)
    return max((bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)


async def take(pacer: Pacer) -> int:
    """A slot for a request that is over at once."""
    grant = await pacer.acquire()
    pacer.done(grant)
    return grant


async def grants(pacer: Pacer, count: int, workers: int = 8) -> list[float]:
    loop = asyncio.get_running_loop()
    times: list[float] = []
    remaining = [count]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await take(pacer)
            times.append(loop.time())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return times


def test_no_start_up_burst_and_never_more_than_the_budget_in_a_second() -> None:
    async def scenario() -> list[float]:
        return await grants(Pacer(budget=20), 200)

    times = run_virtual(scenario())
    assert max_in_window(times) <= 20
    assert max_in_window(times[:25]) <= 20  # the first second too
    assert all(b - a > 1.0 for a, b in zip(times, times[20:], strict=False))  # the hard line
    assert min(b - a for a, b in pairwise(times)) >= 1 / 40  # and no burst


def test_on_a_quiet_path_it_falls_to_99_percent_of_the_budget_within_a_minute() -> None:
    async def scenario() -> list[float]:
        return await grants(Pacer(budget=20), 20 * 600)  # ten minutes of virtual time

    times = run_virtual(scenario())
    first_minute = (bisect_left(times, times[0] + 60) - 1) / 60
    later = times[bisect_left(times, times[0] + 60) :]
    achieved = (len(later) - 1) / (later[-1] - later[0])
    assert 19.78 <= first_minute <= 19.84  # from 98.5 %, the excess halving every 5 s
    assert achieved == pytest.approx(20 / (1 + FLOOR_COVER), abs=0.01)  # 99.2 %: 19.84/s


def test_a_throttle_cuts_once_per_round_and_slows_the_app_down() -> None:
    async def scenario() -> tuple[bool, bool, bool, float]:
        pacer = Pacer(budget=20)
        first = [await take(pacer) for _ in range(5)]
        cut = pacer.throttled(first[0])
        same_round = pacer.throttled(first[4])  # left before the cut: says nothing new
        next_round = pacer.throttled(await take(pacer))
        return cut, same_round, next_round, pacer.rate

    cut, same_round, next_round, rate = run_virtual(scenario())
    assert (cut, same_round, next_round) == (True, False, True)
    assert rate < 19.7 * BETA * BETA  # cut twice


@settings(max_examples=40, deadline=None)
@given(
    budget=st.sampled_from([1.0, 5.0, 13.0, 20.0]),
    throttle_every=st.integers(min_value=2, max_value=40),
    workers=st.integers(min_value=1, max_value=50),
)
def test_the_budget_holds_whatever_the_throttles_and_the_demand(
    budget: float, throttle_every: int, workers: int
) -> None:
    async def scenario() -> list[float]:
        pacer = Pacer(budget=budget)
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def worker() -> None:
            while len(times) < 150:
                grant = await take(pacer)
                times.append(loop.time())
                if grant % throttle_every == 0:
                    pacer.throttled(grant)

        await asyncio.gather(*(worker() for _ in range(workers)))
        return times

    times = run_virtual(scenario())
    assert max_in_window(times) <= budget


def test_a_throttle_cuts_to_the_apps_share_of_the_window_counted_by_send_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the cut's arithmetic alone: a margin that stays where it starts (its floor is its start)
    monkeypatch.setattr(pacer_module, "Margin", partial(Margin, floor=START_COVER))

    async def scenario() -> tuple[dict[int, float], list[float]]:
        loop = asyncio.get_running_loop()
        pacer = Pacer(budget=20)
        sent: dict[int, float] = {}
        rates: list[float] = []

        async def send(count: int) -> None:
            for _ in range(count):  # 8/s: a neighbour spends the rest of the budget
                sent[await take(pacer)] = loop.time()
                await asyncio.sleep(0.125)

        await send(16)
        assert pacer.throttled(16)
        rates.append(pacer.rate)
        await send(4)
        rates.append(pacer.rate)
        assert pacer.throttled(20)  # a new round: grant 20 left after the first cut
        rates.append(pacer.rate)
        return sent, rates

    sent, (first_cut, before, second_cut) = run_virtual(scenario())
    # grants 8 to 15 left in the second before grant 16: the app's share of the window was 8
    assert first_cut == pytest.approx(BETA * 8 * (1 - MARGIN))
    # the share before grant 20 leaves out grant 16, which the API refused
    share = sum(1 for g, t in sent.items() if sent[20] - 1.01 < t < sent[20] and g != 16)
    assert sent[20] - sent[16] < 1  # so counting it would change the cut
    assert second_cut == pytest.approx(BETA * min(before, share * (1 - MARGIN)))
    assert share * (1 - MARGIN) < before


def test_the_first_request_goes_alone_and_the_grid_starts_when_it_is_over() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        pacer = Pacer(budget=20)
        times: list[float] = []

        async def request() -> None:
            grant = await pacer.acquire()
            times.append(loop.time())
            await asyncio.sleep(0.3 if grant == 1 else 0.01)  # the first reply takes 300 ms
            pacer.done(grant)

        await asyncio.gather(*(request() for _ in range(25)))
        return times

    times = run_virtual(scenario())
    assert times[1] - times[0] == pytest.approx(0.3 + 1 / 19.7, abs=1e-3)
    # The first request counts as if it left when it was over: 20 slots on, the 21st
    assert times[20] - (times[0] + 0.3) == pytest.approx(20 / 19.7, abs=1e-3)


def test_a_request_that_reached_the_wire_late_moves_the_21st_after_it_not_the_grid() -> None:
    async def scenario() -> tuple[list[float], list[float]]:
        loop = asyncio.get_running_loop()
        pacer = Pacer(budget=20)
        granted: list[float] = []
        wire: list[float] = []

        async def request() -> None:
            grant = await pacer.acquire()
            granted.append(loop.time())
            if 2 <= grant <= 6:  # each opens a new connection: 70 ms on a busy loop
                await asyncio.sleep(0.070)
            pacer.left(grant)
            wire.append(loop.time())
            await asyncio.sleep(0.2)
            pacer.done(grant)

        await asyncio.gather(*(request() for _ in range(60)))
        return granted, sorted(wire)

    granted, wire = run_virtual(scenario())
    assert max_in_window(wire) <= 20  # at the wire, not only at the grants
    assert granted[21] - granted[1] == pytest.approx(0.070 + 20 / (20 * 0.999), abs=1e-5)
    assert granted[7] - granted[6] == pytest.approx(1 / 19.7, abs=1e-3)  # the grid kept


def test_a_throttle_with_none_of_the_apps_requests_in_the_window_cuts_from_its_own_rate() -> None:
    async def scenario() -> float:
        pacer = Pacer(budget=20)
        pacer.throttled(await take(pacer))  # someone else filled the window: how much is left?
        return pacer.rate

    assert run_virtual(scenario()) == pytest.approx(19.7 * BETA)


async def paced(pacer: Pacer, count: int) -> list[float]:
    """Send times of `count` requests at the pacer's full pace, each over at once."""
    loop = asyncio.get_running_loop()
    times: list[float] = []
    for _ in range(count):
        await take(pacer)
        times.append(loop.time())
    return times


def test_a_throttle_when_the_app_had_the_whole_budget_widens_the_margin() -> None:
    async def scenario() -> tuple[bool, float, float, float, float, list[float]]:
        pacer = Pacer(budget=20)
        times = await paced(pacer, 40)
        before = pacer.margin  # fallen some way from 1.5 % by now
        # grant 40 was refused: its 19 predecessors in the second before it were all the
        # pace allows, so nobody else spends the budget; an arrival came late
        slowed = pacer.throttled(40)
        after = await paced(pacer, 3)
        return slowed, before, pacer.rate, pacer.margin, times[-1], after

    slowed, before, rate, margin, last, after = run_virtual(scenario())
    wider = START_COVER + STEP  # the fall had probed below the start: answered as at the start
    assert slowed  # the pace did slow down: the run logs it
    assert rate == pytest.approx(20 / (1 + wider))  # 19.47/s: no cut by a fifth
    assert margin == pytest.approx(wider / (1 + wider))
    # the grid moved back by the widening: the window spanning the change is covered too
    widened = wider - before / (1 - before)
    assert after[0] - last == pytest.approx(1 / (20 * (1 - before)) + widened, abs=1e-3)
    assert after[1] - after[0] == pytest.approx(1 / rate, abs=1e-3)


def test_a_throttle_while_a_neighbour_spent_some_of_the_budget_cuts_the_rate() -> None:
    async def scenario() -> tuple[float, float, float]:
        pacer = Pacer(budget=20)
        await paced(pacer, 30)
        # the app was slowed to 17/s: 16 of its own in the second, 3 short of the budget
        for _ in range(30):
            await take(pacer)
            await asyncio.sleep(1 / 17)
        before = pacer.margin
        pacer.throttled(60)
        return before, pacer.rate, pacer.margin

    before, rate, margin = run_virtual(scenario())
    assert margin == before  # not jitter: the margin is not widened
    assert rate < 17 * BETA * (1 - MARGIN) + 0.2  # cut below the app's share


def test_at_the_widest_margin_a_throttle_is_read_as_a_neighbours() -> None:
    async def scenario() -> tuple[float, float]:
        pacer = Pacer(budget=20)
        await paced(pacer, 25)
        for grant in range(25, 25 + 10 * 25, 25):  # a throttle every 25 requests: jitter, 9 widen
            pacer.throttled(grant)
            await paced(pacer, 25)
        return pacer.rate, pacer.margin

    rate, margin = run_virtual(scenario())
    assert margin == pytest.approx(WIDEST_COVER / (1 + WIDEST_COVER))
    assert rate < 20 / (1 + WIDEST_COVER) * BETA + 1e-9  # then the CUBIC cut


def test_when_the_path_calms_the_margin_and_rate_come_back() -> None:
    async def scenario() -> list[float]:
        pacer = Pacer(budget=20)
        await paced(pacer, 40)
        pacer.throttled(40)
        rates = [20 / (1 + START_COVER + STEP), pacer.rate]
        await asyncio.sleep(QUIET - 1)
        rates.append(pacer.rate)
        await asyncio.sleep(600)
        rates.append(pacer.rate)
        return rates

    widened, just_after, still, calm = run_virtual(scenario())
    assert just_after == still == pytest.approx(widened)
    assert calm == pytest.approx(20 / (1 + FLOOR_COVER))  # back down to the floor
