"""The nemesis's seeded schedule: the same seed, the same faults; each kind as often as asked."""

from __future__ import annotations

from collections import Counter

from bench.harness.nemesis import KINDS, RUNNERS, Plan, schedule


def _plan(seed: int, each: int = 2) -> Plan:
    return Plan(seed=seed, rooms_per_app=10, span_s=100.0, each=each, deadline_s=60.0, outages=())


def test_a_seed_gives_one_schedule_and_another_seed_another() -> None:
    assert schedule(_plan(7)) == schedule(_plan(7))
    assert schedule(_plan(7)) != schedule(_plan(8))


def test_each_kind_comes_as_often_as_asked_in_time_order_within_the_span() -> None:
    events = schedule(_plan(7))
    assert Counter(kind for _, kind, _ in events) == dict.fromkeys(KINDS, 2)
    times = [at for at, _, _ in events]
    assert times == sorted(times)
    assert times[0] >= 5.0
    assert times[-1] <= 100.0
    assert all((runner is not None) == (kind in ("kill", "stop")) for _, kind, runner in events)
    assert all(runner is None or 0 <= runner < RUNNERS for _, _, runner in events)


def test_no_faults_is_an_empty_schedule() -> None:
    assert schedule(_plan(7, each=0)) == []
