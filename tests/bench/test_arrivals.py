"""The arrival-log arithmetic of the bench: windows over the budget, counted once each."""

from __future__ import annotations

from bench.harness.arrivals import max_in_window, windows_over


def test_twenty_at_the_hard_line_fill_no_window_over_the_budget() -> None:
    times = [i / 20 for i in range(21)]  # the 21st exactly 1 s after the first: another window
    assert (max_in_window(times), windows_over(times, 20)) == (20, 0)


def test_each_window_over_the_budget_is_counted_by_its_last_arrival() -> None:
    lone = [i * 0.049 for i in range(21)]  # a 21st within the second
    burst = [i * 0.04 for i in range(22)]  # 22 in 0.84 s: the 21st and the 22nd each close one
    assert windows_over(lone, 20) == 1
    assert windows_over(burst, 20) == 2
    assert windows_over(burst[:20], 20) == 0
