"""Scenario 4: the API is down for a while mid-run: what is sent into it, and how fast it's back."""

from __future__ import annotations

import math
from typing import Any

from bench.harness import arrivals
from bench.harness.observe import observe
from bench.harness.plan import PACE, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.markdown import FIGURE_HEADER, met, seconds, table

FULL_RATE_SHARE = 0.9  # "back at full rate": this share of the pace within one second


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Requests sent into the outage, rooms not ok, and the recovery after it."""
    start, end = plan.outage
    profile = {
        "seed": 4,
        "outages": [[start, end]],
        "outage_kind": "http503",
        "latency": {"min_ms": 20, "max_ms": 400},
    }
    seen = observe(ws.dir("outage"), profile, room_ids(plan.outage_rooms))
    first_ok = arrivals.first_at_or_after(seen.times, seen.kinds, end)
    full = arrivals.back_to_rate(seen.times, end, math.ceil(FULL_RATE_SHARE * PACE))
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
    return sum(1 for t, k in zip(times, kinds, strict=True) if t >= at and k == arrivals.ACCEPTED)


def render(o: dict[str, Any]) -> str:
    """Section 4 of RESULTS.md, from these figures."""
    start, end = o["outage_s"]
    rows: list[list[object]] = [
        ["requests sent into the outage", o["during_outage"], "", None],
        ["rooms ending not ok", o["rooms_not_ok"], "0", met(o, "rooms_not_ok==0")],
        ["first ok reply after the outage ended", seconds(o["first_ok_after_outage_s"]), "", None],
        [f"back to ≥ 90 % of {o['planned_rate']}/s after it ended",
         seconds(o["full_rate_after_outage_s"]), "",
         None],
        [f"last request after it ended (floor: the rooms left at {o['planned_rate']}/s)",
         f"{o['tail_after_outage_s']} s (floor {o['tail_floor_s']} s)", "", None],
        ["completion; requests; 100422", f"{o['wall_s']} s; {o['requests']}; {o['code_100422']}",
         "", None],
    ]  # fmt: skip
    return (
        f"## 4. Outage: HTTP 503 from {start} s to {end} s of the simulator's clock "
        f"(first request at {o['first_arrival_s']} s), {o['rooms']} rooms\n\n"
        + table(FIGURE_HEADER, rows)
    )


SCENARIO = Scenario(name="outage", measure=measure, render=render)
