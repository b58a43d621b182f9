"""The neighbour spends part of each app's budget; the stats count what the client did."""

from __future__ import annotations

import pytest

from resumer.sim.model import SimModel
from tests.sim.helpers import code_of, config, send


def test_the_neighbour_spends_its_rate_at_an_even_pace() -> None:
    model = SimModel(config(neighbour_rate=12), start=0.0)
    stats = model.stats(now=9.99)["apps"]["1400000001"]
    assert stats["neighbour_accepted"] == 120  # at 0, 1/12, ... 119/12
    assert stats["neighbour_throttled"] == 0
    assert stats["max_accepted_1s"] == 12
    assert stats["requests"] == 0


def test_a_greedy_client_gets_what_the_neighbour_leaves() -> None:
    model = SimModel(config(neighbour_rate=12), start=0.0)
    ok = 0
    for i in range(1000):  # the client tries every 10 ms for 10 s
        ok += code_of(send(model, f"r{i}", now=i * 0.01)) == 0
    stats = model.stats(now=10.0)["apps"]["1400000001"]
    assert stats["max_accepted_1s"] == 20
    assert ok == stats["accepted"]
    # the client and the neighbour share the 200 slots of 10 s; the neighbour loses some
    assert ok + stats["neighbour_accepted"] <= 20 * 10 + 20
    assert ok >= 8 * 10 - 10
    assert stats["neighbour_accepted"] + stats["neighbour_throttled"] == 121


def test_a_client_pacing_at_the_leftover_rate_is_never_throttled() -> None:
    model = SimModel(config(neighbour_rate=12), start=0.0)
    # 7 per second, offset so that no window holds more than 12 + 8 accepted requests
    codes = [code_of(send(model, f"r{i}", now=0.05 + i / 7)) for i in range(70)]
    assert codes == [0] * 70


def test_a_neighbour_faster_than_the_budget_is_throttled_too() -> None:
    model = SimModel(config(neighbour_rate=30), start=0.0)
    stats = model.stats(now=0.99)["apps"]["1400000001"]
    assert stats["neighbour_accepted"] == 20
    assert stats["neighbour_throttled"] == 10
    assert code_of(send(model, now=0.995)) == 100422


def test_stats_shape_and_counts() -> None:
    model = SimModel(config(scripts={"a": ("http502",)}, outages=((5.0, 6.0),)), start=0.0)
    send(model, "a", now=1.0)
    send(model, "a", now=2.0)
    send(model, now=3.0, query={"sdkappid": "1400000001"})
    send(model, "b", now=5.5)
    stats = model.stats(now=7.0)
    assert stats["uptime_s"] == 7.0
    assert (stats["rate"], stats["window_s"]) == (20, 1.0)
    assert stats["unrouted"] == {}
    app = stats["apps"]["1400000001"]
    assert app == {
        "requests": 4,
        "by_code": {"0": 1, "60025": 1, "http502": 1, "http503": 1},
        "accepted": 3,
        "max_arrivals_1s": 1,
        "max_accepted_1s": 1,
        "neighbour_accepted": 0,
        "neighbour_throttled": 0,
        "during_outage": 1,
        "slow_replies": 0,
        "first_arrival_s": 1.0,
        "last_arrival_s": 5.5,
        "rooms_seen": 2,
        "rooms": {"a": 2, "b": 1},
    }
    assert "rooms" not in model.stats(now=7.0, rooms=False)["apps"]["1400000001"]
    assert stats["apps"]["1400000002"]["requests"] == 0


def test_reset_zeroes_the_stats_but_keeps_the_window() -> None:
    model = SimModel(config(rate=1), start=0.0)
    send(model, "a", now=0.0)
    model.reset_stats(now=0.1)
    assert model.stats(now=0.1)["apps"]["1400000001"]["requests"] == 0
    assert code_of(send(model, "b", now=0.5)) == 100422  # the budget is not reset


@pytest.mark.parametrize("rate", [1, 5, 20])
def test_the_client_arrival_peak_counts_throttled_requests(rate: int) -> None:
    model = SimModel(config(rate=rate), start=0.0)
    for i in range(40):
        send(model, f"r{i}", now=i * 0.01)
    stats = model.stats(now=1.0)["apps"]["1400000001"]
    assert stats["max_arrivals_1s"] == 40
    assert stats["max_accepted_1s"] == rate
