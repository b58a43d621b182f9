"""Network jitter in the simulator: requests reach the window late, by the configured delays."""

from __future__ import annotations

import asyncio
import statistics

import aiohttp

from resumer.sim.config import Jitter
from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.server import RESUME_PATH, start_sim
from tests.sim.helpers import config
from tests.sim.test_server import live_query


def delays(jitter: Jitter, count: int = 20_000) -> list[float]:
    model = SimModel(config(jitter=jitter, seed=5), start=0.0)
    return [model.arrival_delay() * 1000 for _ in range(count)]


def test_no_jitter_delays_nothing() -> None:
    assert set(delays(Jitter(), 100)) == {0.0}


def test_uniform_jitter_stays_in_its_range() -> None:
    drawn = delays(Jitter(min_ms=10, max_ms=30))
    assert 10 <= min(drawn) < 10.1
    assert 29.9 < max(drawn) <= 30
    assert 19.5 < statistics.mean(drawn) < 20.5


def test_a_heavy_tail_delays_a_share_of_requests_50_to_100_ms() -> None:
    drawn = delays(Jitter(max_ms=5, tail=0.02))
    tail = [d for d in drawn if d > 5]
    assert 0.015 < len(tail) / len(drawn) < 0.025
    assert all(50 <= d <= 100 for d in tail)


def test_jitter_has_its_own_draws_so_a_seed_keeps_its_faults() -> None:
    plain = SimModel(config(seed=5, faults={"100001": 0.5}), start=0.0)
    jittery = SimModel(config(seed=5, faults={"100001": 0.5}, jitter=Jitter(max_ms=20)), start=0.0)
    for _ in range(50):
        jittery.arrival_delay()
    assert [plain._rng.random() for _ in range(10)] == [jittery._rng.random() for _ in range(10)]


async def test_the_window_counts_a_request_when_it_arrives_after_its_jitter() -> None:
    loop = asyncio.get_running_loop()
    async with await start_sim(config(jitter=Jitter(min_ms=80, max_ms=80))) as sim:
        async with aiohttp.ClientSession() as session:
            sent = loop.time() - sim.model.start
            async with session.post(
                sim.url + RESUME_PATH, params=live_query(), json={"RoomId": "r1"}
            ) as response:
                assert response.status == 200
        app = sim.stats()["apps"][str(DEMO_SDKAPPID)]
    assert app["requests"] == 1
    assert app["first_arrival_s"] >= sent + 0.08
