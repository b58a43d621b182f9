"""The run loop, pacer and simulator model together on virtual time, sharing a budget.

A neighbour spends part of the app's 20/s, evenly; resumer should settle just under what is
left and be throttled rarely (the targets of bench scenario 3, which measures the same thing
over real sockets). The transport calls `SimModel` directly, with the loop's virtual clock.
"""

from __future__ import annotations

import random

import pytest

from resumer.sim.config import Latency, SimConfig
from resumer.sim.profiles import DEMO_APPS
from tests.support.insim import arrivals_in_sim

BUDGET = 20


def arrivals(neighbour: float, rooms: int, seed: int) -> list[tuple[float, str]]:
    """(arrival time, kind of answer) of every request resumer sent."""
    config = SimConfig(
        apps=DEMO_APPS, neighbour_rate=neighbour, latency=Latency(min_ms=20, max_ms=120), seed=seed
    )
    network = random.Random(seed)
    return arrivals_in_sim(
        config, rooms=rooms, seed=seed, trip=lambda _model: network.uniform(0.0005, 0.002)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_next_to_a_neighbour_at_12_per_s_it_uses_90_percent_of_the_rest(seed: int) -> None:
    seen = arrivals(neighbour=12, rooms=360, seed=seed)
    accepted = [t for t, kind in seen if kind != "100422"]
    middle = (seen[0][0] + seen[-1][0]) / 2
    settled = sum(1 for t in accepted if t >= middle) / (seen[-1][0] - middle)
    throttled = sum(1 for _, kind in seen if kind == "100422") / len(seen)
    assert settled >= 0.9 * (BUDGET - 12)
    assert throttled <= 0.05
    assert len(accepted) == 360  # every room once, and nothing lost


def test_alone_it_is_never_throttled() -> None:
    seen = arrivals(neighbour=0, rooms=200, seed=1)
    assert [kind for _, kind in seen] == ["0"] * 200  # ErrorCode 0 every time
