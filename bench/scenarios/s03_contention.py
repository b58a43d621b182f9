"""Scenario 3: a neighbour spends 12/s of the app's 20/s: how much of the 8/s left is used."""

from __future__ import annotations

import math
from typing import Any

from bench.harness import arrivals
from bench.harness.observe import observe
from bench.harness.plan import BUDGET, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.markdown import FIGURE_HEADER, met, table

NEIGHBOUR_RATE = 12  # requests/s another tool spends of the budget


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The settled rate against what is left, and the share of requests throttled."""
    profile = {
        "seed": 3,
        "neighbour_rate": NEIGHBOUR_RATE,
        "latency": {"min_ms": 20, "max_ms": 120},
    }
    seen = observe(ws.dir("contention"), profile, room_ids(plan.contention_rooms))
    left = BUDGET - NEIGHBOUR_RATE
    accepted = [t for t, k in zip(seen.times, seen.kinds, strict=True) if k != "100422"]
    first, last = (seen.times[0], seen.times[-1]) if seen.times else (0.0, 0.0)
    middle = (first + last) / 2
    settled = arrivals.count_between(accepted, middle, math.inf) / max(last - middle, 1e-9)
    figures = {
        "rooms": plan.contention_rooms,
        "neighbour_rate": NEIGHBOUR_RATE,
        "left_rate": left,
        **seen.common(),
        "max_accepted_1s": seen.app["max_accepted_1s"],
        "neighbour_throttled": seen.app["neighbour_throttled"],
        "settled_rate": round(settled, 3),
        "settled_share_of_left": round(settled / left, 4),
        "overall_rate": round(arrivals.rate(accepted), 3),
        "throttled_fraction": round(seen.throttled / max(len(seen.times), 1), 4),
    }
    figures["meets"] = {
        "settled_share_of_left>=0.9": figures["settled_share_of_left"] >= 0.9,
        "throttled_fraction<=0.05": figures["throttled_fraction"] <= 0.05,
    }
    return figures


def render(c: dict[str, Any]) -> str:
    """Section 3 of RESULTS.md, from these figures."""
    rows: list[list[object]] = [
        ["settled rate (second half of the run) / what is left",
         f"{c['settled_share_of_left']} ({c['settled_rate']}/s of {c['left_rate']}/s)", "≥ 0.9",
         met(c, "settled_share_of_left>=0.9")],
        ["requests throttled (100422 / requests)",
         f"{c['throttled_fraction']} ({c['code_100422']} of {c['requests']})", "≤ 0.05",
         met(c, "throttled_fraction<=0.05")],
        ["rate over the whole run", f"{c['overall_rate']}/s", "", None],
        ["most accepted in any 1 s, neighbour's included", c["max_accepted_1s"], "≤ 20", None],
        ["neighbour's requests throttled", c["neighbour_throttled"], "", None],
        ["completion; rooms not ok", f"{c['wall_s']} s; {c['rooms_not_ok']}", "", None],
    ]  # fmt: skip
    return (
        f"## 3. Contention: a neighbour spends {c['neighbour_rate']}/s of the 20/s, "
        f"{c['rooms']} rooms\n\n" + table(FIGURE_HEADER, rows)
    )


SCENARIO = Scenario(name="contention", measure=measure, render=render)
