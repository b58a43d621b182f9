"""The arrival-log arithmetic of the bench: windows over the budget, counted once each."""

from __future__ import annotations

import pytest

from bench.harness.arrivals import first_crowded, max_in_window, transit_offset, windows_over


def test_twenty_at_the_hard_line_fill_no_window_over_the_budget() -> None:
    times = [i / 20 for i in range(21)]  # the 21st exactly 1 s after the first: another window
    assert (max_in_window(times), windows_over(times, 20)) == (20, 0)


def test_each_window_over_the_budget_is_counted_by_its_last_arrival() -> None:
    lone = [i * 0.049 for i in range(21)]  # a 21st within the second
    burst = [i * 0.04 for i in range(22)]  # 22 in 0.84 s: the 21st and the 22nd each close one
    assert windows_over(lone, 20) == 1
    assert windows_over(burst, 20) == 2
    assert windows_over(burst[:20], 20) == 0


def test_a_crowded_window_tells_a_late_reader_from_close_sends() -> None:
    wires = [i * 0.0505 for i in range(30)]  # well spaced at the wire: any 21 span 1.01 s
    arrivals = [100.0 + w + 0.001 for w in wires]  # 1 ms of transit each ...
    arrivals[2] += 0.040  # ... but the 3rd was read 40 ms late
    arrivals.sort()
    offset = transit_offset([(arrivals, wires)])
    assert offset == pytest.approx(100.001)
    crowded = first_crowded(arrivals, wires, 20, offset)
    assert crowded is not None
    assert crowded.first == 2
    assert crowded.arrival_span < 1.0 < crowded.wire_span
    assert crowded.late_first == pytest.approx(0.040)
    assert crowded.late_last == pytest.approx(0.0)
    assert first_crowded(sorted(100.001 + w for w in wires), wires, 20, offset) is None
