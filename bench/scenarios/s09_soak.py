"""Scenario 9: a long run at 100 apps, where a rare stall or a slow drift would show.

Scenario 5's step, made long: every app gets enough rooms for `plan.soak_seconds` at the planned
rate, all at once, one resumer process against one simulator process. What it must hold: no
100422 at the start, at most 0.05 % of requests throttled over the whole soak, at least 0.98 of
apps × the planned rate accepted in the middle 60 % of it, and the client's event loop on time
(loop lag p99 ≤ 5 ms, `bench/harness/looplag.py`).
"""

from __future__ import annotations

import os
from typing import Any

from bench.harness.plan import PACE, Plan, Workspace
from bench.harness.scenario import Scenario
from bench.harness.step import step
from bench.markdown import FIGURE_HEADER, client_lag, load, met, table

MAX_THROTTLED = 0.0005
MIN_SHARE = 0.98
MAX_LAG_P99_MS = 5.0


def deadline(plan: Plan) -> float:
    """Room enough for a machine that runs the soak at a third of the planned rate: a soak
    stopped at its deadline says little (its unsent rooms count as not ok)."""
    return 3 * plan.soak_seconds + 120


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The soak's figures, and which targets they meet."""
    rooms_per_app = round(PACE * plan.soak_seconds)
    load_before = os.getloadavg()
    figures = step(ws, plan.soak_apps, rooms_per_app, name="soak", deadline=deadline(plan))
    figures["seconds_planned"] = plan.soak_seconds
    figures["deadline_s"] = deadline(plan)
    figures["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    lag_p99 = figures["client_loop_lag_ms"]["p99"]
    figures["meets"] = {
        "code_100422_first_2s==0": figures["code_100422_first_2s"] == 0,
        "throttled_fraction<=0.0005": figures["throttled_fraction"] <= MAX_THROTTLED,
        "share_of_ideal_middle_60>=0.98": figures["share_of_ideal_middle_60"] >= MIN_SHARE,
        "client_loop_lag_p99<=5ms": lag_p99 is not None and lag_p99 <= MAX_LAG_P99_MS,
    }
    return figures


def render(s: dict[str, Any]) -> str:
    """Section 9 of RESULTS.md, from these figures."""
    rows: list[list[object]] = [
        ["100422 in the first 2 s", s["code_100422_first_2s"], "0",
         met(s, "code_100422_first_2s==0")],
        ["requests throttled over the soak (100422 / requests)",
         f"{s['throttled_fraction']:.3%} ({s['code_100422']} of {s['requests']})", "≤ 0.05 %",
         met(s, "throttled_fraction<=0.0005")],
        [f"accepted / ({s['apps']} apps × {s['planned_rate_per_app']}/s), middle 60 % of the run",
         f"{s['share_of_ideal_middle_60']} ({s['accepted_rate_middle_60']}/s)", "≥ 0.98",
         met(s, "share_of_ideal_middle_60>=0.98")],
        ["client loop lag p50 / p99 / max", f"{client_lag(s)} ms", "p99 ≤ 5 ms",
         met(s, "client_loop_lag_p99<=5ms")],
        ["simulator loop lag max", f"{s['sim_max_loop_lag_ms']} ms", "", None],
        ["max requests in any 1 s (worst app)", s["max_arrivals_1s"], "≤ 20", None],
        ["completion (deadline); exit code; rooms; rooms not ok",
         f"{s['wall_s']} s ({s.get('deadline_s', '–')} s); {s['exit_code']}; {s['rooms']}; "
         f"{s['rooms_not_ok']}", "", None],
        ["client CPU per request; CPU (cores); peak RSS",
         f"{s['client_cpu_ms_per_request']} ms; {s['client_cpu_share_of_one_core']}; "
         f"{s['client_max_rss_mb']} MB", "", None],
        ["simulator CPU (cores)", s["sim_cpu_share_of_one_core"], "", None],
    ]  # fmt: skip
    return "\n".join(
        [
            f"## 9. Soak: {s['apps']} apps for about {s['seconds_planned']:g} s, "
            f"{s['rooms']} rooms",
            "",
            "Scenario 5's step, long: one resumer process, one simulator process, every app "
            "from the start. Middle 60 %: the run's span less its first and last fifth.",
            "",
            table(FIGURE_HEADER, rows),
            "",
            f"Load average (1, 5, 15 min) before and after: {load(s['load_average'])}.",
        ]
    )


SCENARIO = Scenario(name="soak", measure=measure, render=render)
