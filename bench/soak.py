"""Scenario 8: a long run at 100 apps, where a rare stall or a slow drift would show.

Scenario 5's step, made long: every app gets enough rooms for `plan.soak_seconds` at the planned
rate, all at once, one resumer process against one simulator process. What it must hold: no
100422 at the start, at most 0.05 % of requests throttled over the whole soak, at least 0.98 of
apps × the planned rate accepted in the middle 60 % of it, and the client's event loop on time
(loop lag p99 ≤ 5 ms, `bench/looplag.py`).
"""

from __future__ import annotations

import os
from typing import Any

from bench.plan import PACE, Plan, Workspace
from bench.scale import step

MAX_THROTTLED = 0.0005
MIN_SHARE = 0.98
MAX_LAG_P99_MS = 5.0


def soak(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The soak's figures, and which targets they meet."""
    rooms_per_app = round(PACE * plan.soak_seconds)
    load_before = os.getloadavg()
    # Room enough for a machine that runs it at a third of the planned rate: a soak stopped
    # at its deadline says little (its unsent rooms count as not ok).
    deadline = 3 * plan.soak_seconds + 120
    figures = step(ws, plan.soak_apps, rooms_per_app, name="soak", deadline=deadline)
    figures["seconds_planned"] = plan.soak_seconds
    figures["deadline_s"] = deadline
    figures["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    lag_p99 = figures["client_loop_lag_ms"]["p99"]
    figures["meets"] = {
        "code_100422_first_2s==0": figures["code_100422_first_2s"] == 0,
        "throttled_fraction<=0.0005": figures["throttled_fraction"] <= MAX_THROTTLED,
        "share_of_ideal_middle_60>=0.98": figures["share_of_ideal_middle_60"] >= MIN_SHARE,
        "client_loop_lag_p99<=5ms": lag_p99 is not None and lag_p99 <= MAX_LAG_P99_MS,
    }
    return figures
