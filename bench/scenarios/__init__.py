"""The scenarios of `python -m bench.run`, one module each, numbered as their RESULTS.md sections.

Each module measures (`measure(workspace, plan) -> figures`) and renders its own section
(`render(figures) -> markdown`), and names both in its `SCENARIO`.
"""

from __future__ import annotations

from bench.harness.scenario import Scenario
from bench.scenarios import (
    s01_pacing,
    s02_side_by_side,
    s03_contention,
    s04_outage,
    s05_scale,
    s06_metrics_cost,
    s07_jitter,
    s08_fleet,
    s09_soak,
    s10_seen,
    s11_nemesis,
)

SCENARIOS: tuple[Scenario, ...] = (
    s01_pacing.SCENARIO,
    s02_side_by_side.SCENARIO,
    s03_contention.SCENARIO,
    s04_outage.SCENARIO,
    s05_scale.SCENARIO,
    s06_metrics_cost.SCENARIO,
    s07_jitter.SCENARIO,
    s08_fleet.SCENARIO,
    s09_soak.SCENARIO,
    s10_seen.SCENARIO,
    s11_nemesis.SCENARIO,
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
