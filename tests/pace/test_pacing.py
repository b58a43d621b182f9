"""Pacing arithmetic with hand-picked times: the schedule does not drift, CUBIC cuts and climbs,
the margin falls on a quiet path, widens on jitter and shrinks back when the path calms, and the
hard line holds any 21 sends to more than a second."""

import math
from itertools import pairwise

import pytest

from resumer.pace.pacing import (
    BETA,
    FLOOR_COVER,
    HALF_LIFE,
    HARD_LINE_MARGIN,
    HELD,
    LATE,
    MIN_RATE,
    NUDGE,
    QUIET,
    SCALE,
    SHRINK,
    START_COVER,
    STEP,
    WIDEST_COVER,
    CubicRate,
    HardLine,
    Margin,
    Schedule,
)


def test_a_late_send_does_not_push_the_next_slot_back() -> None:
    schedule = Schedule()
    assert schedule.take(10.0, 0.05) == 10.0
    assert schedule.slot(10.0, 0.05) == pytest.approx(10.05)
    # woken 4 ms late: the slot it claims is still the planned one, and so is the next
    assert schedule.take(10.054, 0.05) == pytest.approx(10.05)
    assert schedule.slot(10.054, 0.05) == pytest.approx(10.10)


def test_after_a_busy_half_second_the_missed_slots_are_given_up_not_caught_up() -> None:
    schedule = Schedule()
    schedule.take(0.0, 0.05)
    # the loop was busy for half a second: the grid restarts at the send, one interval apart
    assert schedule.take(0.55, 0.05) == 0.55
    assert schedule.slot(0.55, 0.05) == pytest.approx(0.60)


@pytest.mark.parametrize(("late_ms", "claimed"), [(LATE * 1000, 0.05), (LATE * 1000 + 0.1, None)])
def test_a_slot_is_kept_up_to_late_and_given_up_past_it(
    late_ms: float, claimed: float | None
) -> None:
    schedule = Schedule()
    schedule.take(0.0, 0.05)
    now = 0.05 + late_ms / 1000
    assert schedule.take(now, 0.05) == pytest.approx(claimed if claimed is not None else now)


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


def test_a_delay_moves_the_whole_grid_back() -> None:
    schedule = Schedule()
    schedule.take(0.0, 0.05)
    schedule.delay(0.012)
    assert schedule.take(0.062, 0.05) == pytest.approx(0.062)
    assert schedule.slot(0.062, 0.05) == pytest.approx(0.112)


def test_a_margin_starts_at_one_and_a_half_percent_and_covers_15_ms() -> None:
    margin = Margin()
    assert margin.margin(0.0) == pytest.approx(0.015)
    assert 20 * margin.share(0.0) == pytest.approx(19.7)
    assert margin.jitter(0.0) == pytest.approx(0.01523, abs=1e-5)
    # budget + 1 sends at the pace span one window and the jitter covered, at any budget
    for budget in (1, 5, 20):
        assert budget / (budget * margin.share(0.0)) == pytest.approx(1 + margin.jitter(0.0))


# (seconds since the previous widening or None, cover before in ms, cover after in ms)
WIDENINGS = [
    (None, START_COVER * 1000, START_COVER * 1000 + STEP * 1000),  # the first: a full step
    (1.0, 27.0, 27.0 + STEP * 1000),  # throttles come quickly: still learning, a full step
    (QUIET - 0.1, 39.0, 39.0 + STEP * 1000),
    (QUIET + 5, 39.0, 39.0 - SHRINK * 5000 + NUDGE * 1000),  # after a calm: shrunk, nudged
    (1.0, 95.0, WIDEST_COVER * 1000),  # never past the widest
]


@pytest.mark.parametrize(("since", "before_ms", "after_ms"), WIDENINGS)
def test_a_jitter_throttle_widens_the_margin_by_a_step_or_a_nudge(
    since: float | None, before_ms: float, after_ms: float
) -> None:
    widened_at = None if since is None else 100.0 - since
    margin = Margin(cover=before_ms / 1000, widened_at=widened_at, since=100.0)
    added = margin.widen(100.0)
    assert margin.jitter(100.0) * 1000 == pytest.approx(after_ms)
    assert added * 1000 == pytest.approx(after_ms - margin_before(before_ms, since))
    assert margin.widened_at == 100.0


def margin_before(before_ms: float, since: float | None) -> float:
    """The cover in ms just before the widening at 100 s (shrunk if the calm lasted)."""
    quiet = 0.0 if since is None else max(0.0, since - QUIET)
    return max(before_ms - SHRINK * 1000 * quiet, FLOOR_COVER * 1000)


def test_at_the_widest_it_widens_no_more_and_says_so() -> None:
    margin = Margin(cover=WIDEST_COVER, widened_at=0.0)
    assert margin.widen(1.0) == 0.0
    assert margin.jitter(1.0) == WIDEST_COVER
    assert margin.widened_at == 0.0  # untouched: the pacer reads the throttle as a neighbour's


# (seconds since the widening, cover in ms): held for QUIET s, then SHRINK per s, to the floor
SHRINKING = [
    (0.0, 40.0),
    (QUIET, 40.0),
    (QUIET + 10, 40.0 - SHRINK * 10_000),
    (QUIET + 50, 40.0 - SHRINK * 50_000),
    (QUIET + 10_000, FLOOR_COVER * 1000),
]


@pytest.mark.parametrize(("since", "cover_ms"), SHRINKING)
def test_when_the_path_calms_the_margin_shrinks_back_slowly_to_the_floor(
    since: float, cover_ms: float
) -> None:
    margin = Margin(cover=0.040, widened_at=0.0)
    assert margin.jitter(since) * 1000 == pytest.approx(cover_ms)
    assert margin.jitter(since) >= FLOOR_COVER


def test_back_at_the_floor_it_forgets_the_widening() -> None:
    margin = Margin(cover=0.040, widened_at=0.0)
    margin.jitter(QUIET + 10_000)
    assert (margin.cover, margin.widened_at) == (FLOOR_COVER, None)
    assert margin.jitter(QUIET + 20_000) == FLOOR_COVER  # no fall below it
    # a throttle after a long calm at the floor: back to the start, which held before
    assert margin.widen(QUIET + 20_001) == pytest.approx(START_COVER - FLOOR_COVER)


# (seconds since the first look, cover in ms): the excess over the floor halves every HALF_LIFE
FALLING = [
    (0.0, START_COVER * 1000),
    (HALF_LIFE, (FLOOR_COVER + (START_COVER - FLOOR_COVER) / 2) * 1000),
    (4 * HALF_LIFE, (FLOOR_COVER + (START_COVER - FLOOR_COVER) / 16) * 1000),
    (1000.0, FLOOR_COVER * 1000),
]


@pytest.mark.parametrize(("since", "cover_ms"), FALLING)
def test_on_a_quiet_path_the_margin_falls_from_the_start_to_the_floor(
    since: float, cover_ms: float
) -> None:
    margin = Margin()
    margin.jitter(50.0)  # the first look starts the fall
    assert margin.jitter(50.0 + since) * 1000 == pytest.approx(cover_ms)


def test_at_the_floor_a_quiet_path_is_paced_at_99_2_percent() -> None:
    margin = Margin()
    margin.jitter(0.0)
    assert 20 * margin.share(1000.0) == pytest.approx(20 / 1.008)
    assert margin.margin(1000.0) == pytest.approx(0.0079, abs=1e-4)


def test_a_throttle_early_in_the_fall_answers_as_one_at_the_start() -> None:
    # the start held only a moment: the path is jittery, learn as if the fall had not begun
    margin = Margin()
    margin.jitter(0.0)
    fallen = margin.jitter(1.0)
    assert margin.widen(1.0) == pytest.approx(START_COVER + STEP - fallen)
    assert margin.jitter(2.0) == pytest.approx(START_COVER + STEP)  # held, no fall


def test_a_throttle_late_in_the_fall_takes_it_back_to_the_start() -> None:
    # the start held for HELD seconds: the path's jitter lies between the floor and the start
    margin = Margin()
    margin.jitter(0.0)
    fallen = margin.jitter(HELD)
    assert margin.widen(HELD) == pytest.approx(START_COVER - fallen)
    assert margin.jitter(HELD + 1) == pytest.approx(START_COVER)  # held, no fall
    assert margin.widen(HELD + 2) == pytest.approx(STEP)  # throttled again: learning


def test_the_hard_line_holds_any_21_sends_to_more_than_a_second() -> None:
    line = HardLine(20)
    interval = 1 / (20 * (1 - HARD_LINE_MARGIN))  # 50.05 ms
    assert line.earliest() == -math.inf  # nothing sent yet: no wait
    sent = [0.0]
    line.sent(0.0)
    for _ in range(40):  # as soon as the line lets it: half an interval, then the span
        at = line.earliest()
        line.sent(at)
        sent.append(at)
    assert sent[1] == pytest.approx(interval / 2)  # no burst: half an interval apart at least
    assert all(b - a > 1.0 for a, b in zip(sent, sent[20:], strict=False))
    assert min(b - a for a, b in pairwise(sent)) >= interval / 2 - 1e-12


def test_the_hard_line_lets_a_punctual_send_follow_a_late_one() -> None:
    line = HardLine(20)
    for k in range(20):
        line.sent(k * 0.0504)  # on a 50.4 ms grid (0.8 % under the budget)
    line.sent(20 * 0.0504 + 0.003)  # woken 3 ms late
    # the next one may keep its slot: a gap line of one interval would push it 2.7 ms back
    assert line.earliest() <= 21 * 0.0504


def test_a_send_that_reached_the_wire_late_holds_the_line_from_then_on() -> None:
    line = HardLine(20)
    interval = 1 / (20 * (1 - HARD_LINE_MARGIN))
    for k in range(20):
        line.sent(k * 0.0504)
    line.left(1, 0.070)  # the first opened a connection: it reached the wire 70 ms late
    assert line.earliest() == pytest.approx(0.070 + 20 * interval)
    line.left(1, 0.010)  # never earlier than it was
    assert line.earliest() == pytest.approx(0.070 + 20 * interval)
    line.sent(line.earliest())
    before = line.earliest()
    line.left(1, 5.0)  # no longer one of the last 20: it bounds nothing
    assert line.earliest() == before


def test_the_hard_line_of_a_budget_under_one_per_second() -> None:
    line = HardLine(0.5)
    line.sent(0.0)
    assert line.span == 1
    assert line.earliest() == pytest.approx(1 / (0.5 * (1 - HARD_LINE_MARGIN)))
