"""Pacing arithmetic with hand-picked times: the schedule does not drift, CUBIC cuts and climbs."""

import math

import pytest

from resumer.pacing import BETA, MIN_RATE, SCALE, CubicRate, Schedule


def test_a_late_send_does_not_push_the_next_slot_back() -> None:
    schedule = Schedule()
    assert schedule.take(10.0, 0.05) == 10.0
    assert schedule.slot(10.0, 0.05) == pytest.approx(10.05)
    # woken 4 ms late: the slot it claims is still the planned one, and so is the next
    assert schedule.take(10.054, 0.05) == pytest.approx(10.05)
    assert schedule.slot(10.054, 0.05) == pytest.approx(10.10)


def test_after_a_busy_half_second_the_schedule_still_claims_its_planned_slots() -> None:
    schedule = Schedule()
    schedule.take(0.0, 0.05)
    # the loop was busy for half a second: the sends catch up (the pacer's hard line spaces them)
    assert schedule.take(0.55, 0.05) == pytest.approx(0.05)
    assert schedule.slot(0.55, 0.05) == pytest.approx(0.10)


def test_after_an_idle_spell_there_is_no_catch_up_burst() -> None:
    schedule = Schedule()
    schedule.take(0.0, 0.05)
    # idle for 10 s: the grid restarts now, so one send, then the next one an interval later
    assert schedule.take(10.0, 0.05) == 10.0
    assert schedule.slot(10.0, 0.05) == pytest.approx(10.05)


def test_a_hundred_thousand_slots_land_exactly_on_the_grid() -> None:
    schedule, interval = Schedule(), 1 / 19.6
    now = 0.0
    for _ in range(100_000):
        now = max(now, schedule.slot(now, interval)) + 0.0007  # every wake-up 0.7 ms late
        schedule.take(now, interval)
    assert schedule.slot(now, interval) == pytest.approx(0.0007 + 100_000 * interval, rel=1e-12)


def test_cubic_runs_at_the_ceiling_until_throttled() -> None:
    rate = CubicRate(ceiling=19.6)
    assert rate.rate(0.0) == 19.6
    assert rate.rate(1e6) == 19.6


def climb_time(rate_max: float) -> float:
    """CUBIC's K: seconds from a cut back up to the rate it was cut from."""
    return math.cbrt(rate_max * (1 - BETA) / SCALE)


def test_a_throttle_cuts_by_beta_then_climbs_back_to_where_it_was() -> None:
    rate = CubicRate(ceiling=19.6)
    rate.cut(100.0)
    k = climb_time(19.6)
    assert rate.rate(100.0) == pytest.approx(19.6 * BETA)
    # concave climb: most of the way back within half of K, then flat near r_max
    assert rate.rate(100.0 + k / 2) > 19.6 * (1 - (1 - BETA) / 8) - 1e-9
    assert rate.rate(100.0 + k * 0.9) == pytest.approx(19.6, abs=0.01)
    assert rate.rate(100.0 + k * 3) == 19.6  # back at the ceiling, the cut is forgotten
    assert rate.cut_at is None


def test_repeated_throttles_go_down_geometrically_but_never_below_the_floor() -> None:
    rate = CubicRate(ceiling=19.6)
    for _ in range(30):
        rate.cut(0.0)
    assert rate.rate(0.0) == MIN_RATE


def test_sharing_with_a_neighbour_it_lingers_just_below_where_it_was_throttled() -> None:
    rate = CubicRate(ceiling=19.6)
    rate.rate_max, rate.cut_at = 8.0, 0.0
    k = climb_time(8.0)
    samples = [rate.rate(k * i / 100) for i in range(100)]  # from the cut up to r_max
    average = sum(samples) / len(samples)
    assert average == pytest.approx(8.0 * (1 - (1 - BETA) / 4), rel=0.01)  # ∫ of the cubic
    assert max(samples) < 8.0
