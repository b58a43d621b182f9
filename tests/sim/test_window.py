"""The strict sliding window: never more than `rate` accepted in any window, 100422 beyond."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_SDKAPPID_2, DEMO_SECRET_KEY_2
from resumer.sim.window import SlidingWindow
from tests.sim.helpers import code_of, config, send, signed_query


def test_window_counts_the_half_open_interval() -> None:
    window = SlidingWindow(1.0)
    assert window.add(0.0) == 1
    assert window.add(0.5) == 2
    assert window.count(0.999) == 2
    assert window.count(1.0) == 1  # the event at 0.0 is exactly 1 s old: out
    assert window.count(1.5) == 0
    assert window.admit(1.5, 1)
    assert not window.admit(1.6, 1)
    window.clear()
    assert window.count(1.6) == 0


def test_rate_accepted_at_once_then_100422_until_the_first_leaves() -> None:
    model = SimModel(config(), start=0.0)
    assert [code_of(send(model, f"r{i}", now=0.0)) for i in range(20)] == [0] * 20
    assert code_of(send(model, "late", now=0.0)) == 100422
    assert code_of(send(model, "late", now=0.999)) == 100422
    assert code_of(send(model, "late", now=1.0)) == 0


def test_throttled_requests_do_not_fill_the_window() -> None:
    model = SimModel(config(rate=2), start=0.0)
    send(model, "a", now=0.0)
    send(model, "b", now=0.5)
    for i in range(100):  # a client hammering at a full window
        assert code_of(send(model, f"x{i}", now=0.6 + i * 0.001)) == 100422
    assert code_of(send(model, "c", now=1.0)) == 0  # only a's slot counted, not the 100422s


def test_rate_and_window_are_configurable() -> None:
    model = SimModel(config(rate=5, window=0.5), start=0.0)
    codes = [code_of(send(model, f"r{i}", now=i * 0.05)) for i in range(10)]
    assert codes == [0] * 5 + [100422] * 5
    assert code_of(send(model, "r", now=0.5)) == 0


def test_each_app_has_its_own_window() -> None:
    model = SimModel(config(rate=1), start=0.0)
    other = signed_query(sdkappid=DEMO_SDKAPPID_2, secret_key=DEMO_SECRET_KEY_2)
    assert code_of(send(model, now=0.0)) == 0
    assert code_of(send(model, now=0.0, query=other)) == 0
    assert code_of(send(model, now=0.1)) == 100422


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=300),
    rate=st.integers(min_value=1, max_value=20),
)
def test_never_more_than_rate_accepted_in_any_window(gaps: list[float], rate: int) -> None:
    model = SimModel(config(rate=rate), start=0.0)
    now = 0.0
    accepted: list[float] = []
    for i, gap in enumerate(gaps):
        now += gap
        in_window = sum(1 for t in accepted if t > now - 1.0)
        code = code_of(send(model, f"r{i}", now=now))
        # refused exactly when the window is full, accepted otherwise
        assert code == (100422 if in_window >= rate else 0)
        if code == 0:
            accepted.append(now)
    stats = model.stats(now=now)["apps"]["1400000001"]
    assert stats["accepted"] == len(accepted)
    assert stats["max_accepted_1s"] <= rate
    assert stats["requests"] == len(gaps)


def test_peak_stats_are_over_any_sliding_second() -> None:
    model = SimModel(config(rate=100), start=10.0)
    for i in range(30):  # 30 arrivals in 0.58 s, then 5 more a second later
        send(model, f"r{i}", now=10.0 + i * 0.02)
    for i in range(5):
        send(model, f"s{i}", now=12.0 + i * 0.1)
    stats = model.stats(now=13.0)["apps"]["1400000001"]
    assert stats["max_arrivals_1s"] == 30
    assert stats["max_accepted_1s"] == 30
    assert stats["first_arrival_s"] == 0.0
    assert stats["last_arrival_s"] == 2.4


def test_a_client_paced_at_exactly_the_rate_is_never_throttled() -> None:
    model = SimModel(config(), start=0.0)
    codes = [code_of(send(model, f"r{i}", now=i / 20)) for i in range(400)]
    assert codes == [0] * 400
