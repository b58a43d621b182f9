"""Scenarios 1, 3 and 4: pacing at the budget, a shared budget, and an outage.

Each returns a JSON-ready dict of figures, ratios measured in the same run, and `meets`: the
issue's target for each figure, True or False.
"""

from __future__ import annotations

import math
from typing import Any

from bench import metrics
from bench.plan import BUDGET, PACE, Plan, Workspace, room_ids
from bench.single import observe

NEIGHBOUR_RATE = 12  # requests/s another tool spends of the budget in scenario 3
FULL_RATE_SHARE = 0.9  # "back at full rate": this share of the pace within one second


def _lag(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(metrics.percentile(values, 50), 1),
        "p99": round(metrics.percentile(values, 99), 1),
        "max": round(max(values, default=0.0), 1),
    }


def pacing(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Scenario 1: many rooms, replies up to 400 ms: how close to the budget, and how steady."""
    profile = {"seed": 1, "latency": {"min_ms": 0, "max_ms": 400}}
    seen = observe(ws.dir("pacing"), profile, room_ids(plan.pacing_rooms))
    # The first request goes alone (resumer.pace.pacer): the pace is measured from the second one,
    # and what the first one's round trip cost is a figure of its own.
    paced = seen.times[1:]
    achieved = metrics.rate(paced)
    figures = {
        "rooms": plan.pacing_rooms,
        "latency_ms": [0, 400],
        "planned_rate": PACE,
        **seen.common(),
        "achieved_rate": round(achieved, 3),
        "share_of_cap": round(achieved / BUDGET, 4),
        "first_contact_s": round(paced[0] - seen.times[0], 3) if paced else None,
        "share_of_cap_whole_run": round(metrics.rate(seen.times) / BUDGET, 4),
        "lag_vs_plan_ms": _lag(metrics.grid_lag_ms(paced, PACE)),
        "jitter_vs_achieved_ms": _lag(metrics.grid_lag_ms(paced, achieved or PACE)),
    }
    figures["meets"] = {
        "share_of_cap>=0.98": figures["share_of_cap"] >= 0.98,
        "max_arrivals_1s<=20": figures["max_arrivals_1s"] <= BUDGET,
        "code_100422==0": figures["code_100422"] == 0,
    }
    return figures


def contention(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Scenario 3: a neighbour spends 12/s of the 20/s: how much of the 8/s left is used."""
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
    settled = metrics.count_between(accepted, middle, math.inf) / max(last - middle, 1e-9)
    figures = {
        "rooms": plan.contention_rooms,
        "neighbour_rate": NEIGHBOUR_RATE,
        "left_rate": left,
        **seen.common(),
        "max_accepted_1s": seen.app["max_accepted_1s"],
        "neighbour_throttled": seen.app["neighbour_throttled"],
        "settled_rate": round(settled, 3),
        "settled_share_of_left": round(settled / left, 4),
        "overall_rate": round(metrics.rate(accepted), 3),
        "throttled_fraction": round(seen.throttled / max(len(seen.times), 1), 4),
    }
    figures["meets"] = {
        "settled_share_of_left>=0.9": figures["settled_share_of_left"] >= 0.9,
        "throttled_fraction<=0.05": figures["throttled_fraction"] <= 0.05,
    }
    return figures


def outage(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Scenario 4: the API is down for a while mid-run: what is sent into it, how fast back."""
    start, end = plan.outage
    profile = {
        "seed": 4,
        "outages": [[start, end]],
        "outage_kind": "http503",
        "latency": {"min_ms": 20, "max_ms": 400},
    }
    seen = observe(ws.dir("outage"), profile, room_ids(plan.outage_rooms))
    first_ok = metrics.first_at_or_after(seen.times, seen.kinds, end)
    full = metrics.back_to_rate(seen.times, end, math.ceil(FULL_RATE_SHARE * PACE))
    figures = {
        "rooms": plan.outage_rooms,
        "planned_rate": PACE,
        "outage_s": [start, end],
        **seen.common(),
        "first_arrival_s": seen.app["first_arrival_s"],
        "last_arrival_s": seen.app["last_arrival_s"],
        "first_ok_after_outage_s": None if first_ok is None else round(first_ok - end, 2),
        "full_rate_after_outage_s": None if full is None else round(full - end, 2),
        "tail_after_outage_s": round(seen.times[-1] - end, 2) if seen.times else None,
        "tail_floor_s": round(_rooms_left_at(seen.times, seen.kinds, end) / PACE, 2),
    }
    figures["meets"] = {"rooms_not_ok==0": figures["rooms_not_ok"] == 0}
    return figures


def _rooms_left_at(times: list[float], kinds: list[str], at: float) -> int:
    """Rooms accepted at or after `at`: the least work left when the API came back."""
    return sum(1 for t, k in zip(times, kinds, strict=True) if t >= at and k == metrics.ACCEPTED)
