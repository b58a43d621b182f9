"""Scenario 2: resumer and what an operator would reach for instead, on the same incident.

Each tool gets its own simulator with the same profile and seed (so no tool spends another's
budget) and the same rooms: replies up to 400 ms, a few percent of retryable faults, a few
requests that never get a reply (a stalled connection: each tool must give up on it and try
again), rooms that answer 100427 when retried within 1 s, and (in the full run) a 3 s outage.
No room is gone for good, so every tool could end every room `ok`.
"""

from __future__ import annotations

import shutil
from typing import Any

from bench.harness.observe import observe
from bench.harness.plan import BUDGET, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.markdown import cell, table

TOOLS = ("resumer", "xargs_curl.sh", "aiohttp_limiter.py")
FAULTS = {
    "100001": 0.02,
    "100424": 0.01,
    "http502": 0.01,
    "http503": 0.005,
    "html": 0.005,
    "hang": 0.005,  # no reply at all; aiohttp's default timeout is 5 min, curl's here 10 s
}
TOOL_NAMES = {
    "resumer": "resumer",
    "xargs_curl": "`xargs -P 20` + `curl --retry 3`",
    "aiohttp_limiter": "aiohttp + `AsyncLimiter(20, 1)` + tenacity `@retry`",
}
HEADER = (
    *("tool", "completion s", "× floor", "requests", "100422", "rooms not ok"),
    *("sent into outage", "max in 1 s", "client CPU s"),
)


def profile(plan: Plan) -> dict[str, Any]:
    """The incident every tool faces."""
    table: dict[str, Any] = {
        "seed": 2,
        "room_interval": 1.0,
        "latency": {"min_ms": 20, "max_ms": 400},
        "faults": FAULTS,
    }
    if plan.side_outage is not None:
        table["outages"] = [list(plan.side_outage)]
    return table


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Run each tool over the same rooms; a tool still running at the deadline is stopped."""
    rooms = room_ids(plan.side_rooms)
    # No tool may finish sooner without going over the budget, nor during the outage.
    outage = plan.side_outage[1] - plan.side_outage[0] if plan.side_outage else 0.0
    floor = plan.side_rooms / BUDGET + outage
    deadline = 3 * floor + 30  # an operator's patience: well past what the budget allows
    tools: dict[str, Any] = {}
    for tool in TOOLS:
        name = tool.split(".")[0]
        if tool.endswith(".sh") and shutil.which("curl") is None:
            tools[name] = {"skipped": "curl is not installed"}
            continue
        seen = observe(ws.dir(f"side-{name}"), profile(plan), rooms, tool=tool, deadline=deadline)
        tools[name] = {
            **seen.common(),
            "wall_over_floor": round(seen.run.child.wall_s / floor, 3),
        }
    return {
        "rooms": plan.side_rooms,
        "profile": profile(plan),
        "budget_floor_s": floor,
        "deadline_s": deadline,
        "tools": tools,
        "meets": _meets(tools),
    }


def _meets(tools: dict[str, Any]) -> dict[str, bool]:
    """resumer ahead of every baseline that ran, on 100422 and on rooms left not ok."""
    ours = tools["resumer"]
    others = [t for name, t in tools.items() if name != "resumer" and "skipped" not in t]
    return {
        "fewer_100422_than_each_baseline": all(
            ours["code_100422"] < t["code_100422"] for t in others
        ),
        "not_more_rooms_not_ok_than_any_baseline": all(
            ours["rooms_not_ok"] <= t["rooms_not_ok"] for t in others
        ),
        "fewer_rooms_not_ok_than_each_baseline": all(
            ours["rooms_not_ok"] < t["rooms_not_ok"] for t in others
        ),
    }


def render(s: dict[str, Any]) -> str:
    """Section 2 of RESULTS.md, from these figures."""
    rows: list[list[object]] = []
    for key, t in s["tools"].items():
        name = TOOL_NAMES.get(key, key)
        if "skipped" in t:
            rows.append([name, f"skipped: {t['skipped']}", "", "", "", "", "", "", ""])
            continue
        done = f"{t['wall_s']}" + (" (stopped at the deadline)" if t["stopped_at_deadline"] else "")
        rows.append([
            name, done, t["wall_over_floor"], t["requests"], t["code_100422"],
            t["rooms_not_ok"], t["during_outage"], t["max_arrivals_1s"], t["client_cpu_s"],
        ])  # fmt: skip
    profile = s["profile"]
    faults = ", ".join(f"{k} {v:.1%}" for k, v in profile["faults"].items())
    outage = profile.get("outages")
    meets = s["meets"]
    return "\n".join(
        [
            f"## 2. Side by side: the same {s['rooms']} rooms, the same incident",
            "",
            f"Each tool gets a fresh simulator with the same profile and seed: replies "
            f"{profile['latency']['min_ms']}–{profile['latency']['max_ms']} ms; faults {faults}; "
            f"a room retried within {profile['room_interval']} s answers 100427"
            + (f"; an outage from {outage[0][0]} s to {outage[0][1]} s" if outage else "")
            + f". A hung request gets no reply at all: the tool must time out and retry. No "
            f"room is gone for good. At 20/s, with the outage, the budget allows no finish before "
            f"{s['budget_floor_s']} s (the floor); a tool still running after "
            f"{s['deadline_s']} s is stopped, and its rooms without an answer count as not ok.",
            "",
            table(HEADER, rows),
            "",
            f"resumer received fewer 100422 than each baseline: "
            f"{cell(meets['fewer_100422_than_each_baseline'])}; left fewer rooms not ok than "
            f"each: {cell(meets['fewer_rooms_not_ok_than_each_baseline'])}; no more than any: "
            f"{cell(meets['not_more_rooms_not_ok_than_any_baseline'])}.",
        ]
    )


SCENARIO = Scenario(name="side_by_side", measure=measure, render=render)
