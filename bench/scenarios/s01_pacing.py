"""Scenario 1: many rooms of one app, replies up to 400 ms: how close to the budget, how steady.

Then the same rooms again, with the hard line of before (a bucket of one request,
`bench/probes/bucket_line.py`), one after the other so the machine's load is alike.
"""

from __future__ import annotations

from typing import Any

from bench.harness import arrivals
from bench.harness.observe import observe
from bench.harness.plan import BUDGET, PACE, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.markdown import FIGURE_HEADER, lag, met, table


def _lag(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(arrivals.percentile(values, 50), 1),
        "p99": round(arrivals.percentile(values, 99), 1),
        "max": round(max(values, default=0.0), 1),
    }


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The achieved rate against the budget, the 1 s peak, throttles, lag and jitter; `meets`:
    the target of each figure, True or False."""
    profile = {"seed": 1, "latency": {"min_ms": 0, "max_ms": 400}}
    seen = observe(ws.dir("pacing"), profile, room_ids(plan.pacing_rooms))
    # The first request goes alone (resumer.pace.pacer): the pace is measured from the second one,
    # and what the first one's round trip cost is a figure of its own.
    paced = seen.times[1:]
    achieved = arrivals.rate(paced)
    figures = {
        "rooms": plan.pacing_rooms,
        "latency_ms": [0, 400],
        "planned_rate": PACE,
        **seen.common(),
        "achieved_rate": round(achieved, 3),
        "share_of_cap": round(achieved / BUDGET, 4),
        "first_contact_s": round(paced[0] - seen.times[0], 3) if paced else None,
        "share_of_cap_whole_run": round(arrivals.rate(seen.times) / BUDGET, 4),
        "lag_vs_plan_ms": _lag(arrivals.grid_lag_ms(paced, PACE)),
        "jitter_vs_achieved_ms": _lag(arrivals.grid_lag_ms(paced, achieved or PACE)),
    }
    # The tightest 21 arrivals in a row: how much room the margin's floor left (over 1 s: none
    # of them in one second of the API's window).
    tightest = min((b - a for a, b in zip(paced, paced[BUDGET:], strict=False)), default=None)
    figures["tightest_21_arrivals_ms"] = None if tightest is None else round(1000 * tightest, 1)
    bucket = observe(
        ws.dir("pacing-bucket-line"),
        profile,
        room_ids(plan.pacing_rooms),
        launcher=("-m", "bench.probes.bucket_line"),
    )
    figures["bucket_line_share_of_cap"] = round(arrivals.rate(bucket.times[1:]) / BUDGET, 4)
    figures["bucket_line_code_100422"] = bucket.throttled
    figures["meets"] = {
        "share_of_cap>=0.99": figures["share_of_cap"] >= 0.99,
        "max_arrivals_1s<=20": figures["max_arrivals_1s"] <= BUDGET,
        "code_100422==0": figures["code_100422"] == 0,
    }
    return figures


def render(p: dict[str, Any]) -> str:
    """Section 1 of RESULTS.md, from these figures."""
    rows: list[list[object]] = [
        ["achieved rate / 20, from the 2nd request",
         f"{p['share_of_cap']} ({p['achieved_rate']}/s)", "≥ 0.99",
         met(p, "share_of_cap>=0.99")],
        ["the 1st request alone: until the 2nd left; rate / 20 counting it",
         f"{p['first_contact_s']} s; {p['share_of_cap_whole_run']}", "", None],
        ["max requests in any 1 s", p["max_arrivals_1s"], "≤ 20", met(p, "max_arrivals_1s<=20")],
        ["100422 received", p["code_100422"], "0", met(p, "code_100422==0")],
        [f"pacing lag vs the planned {p['planned_rate']}/s grid, p50 / p99 / max",
         lag(p["lag_vs_plan_ms"]),
         "", None],
        ["jitter vs a grid at the achieved rate, p50 / p99 / max",
         lag(p["jitter_vs_achieved_ms"]), "", None],
        ["completion; requests; rooms not ok",
         f"{p['wall_s']} s; {p['requests']}; {p['rooms_not_ok']}", "", None],
        ["client CPU per request; peak RSS",
         f"{p['client_cpu_ms_per_request']} ms; {p['client_max_rss_mb']} MB", "", None],
        ["the tightest 21 arrivals in a row span",
         _ms(p.get("tightest_21_arrivals_ms")), "> 1000 ms", None],
        ["the same rooms with the hard line of before (a bucket of one, "
         "`bench/probes/bucket_line.py`): rate / 20 from the 2nd request; 100422",
         f"{p.get('bucket_line_share_of_cap', '–')}; {p.get('bucket_line_code_100422', '–')}",
         "", None],
    ]  # fmt: skip
    return (
        f"## 1. Pacing: {p['rooms']} rooms, replies "
        f"{p['latency_ms'][0]}–{p['latency_ms'][1]} ms\n\n" + table(FIGURE_HEADER, rows)
    )


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value} ms"


SCENARIO = Scenario(name="pacing", measure=measure, render=render)
