"""Scenario 11: the nemesis. Three runners on two apps, one Redis, a seeded schedule of faults.

`bench/harness/nemesis.py` runs it (the real CLI, the bench's simulator with an outage and
jitter, a redis-server with AOF); `bench/nemesis_check.py` gives the verdicts from the
simulator's arrival log, every results log and every stderr.
"""

from __future__ import annotations

import os
from typing import Any

from bench.harness import nemesis
from bench.harness.plan import Plan, Workspace
from bench.harness.scenario import Scenario
from bench.markdown import cell, load, table

SEED = 1117
FULL = nemesis.Plan(
    seed=SEED, rooms_per_app=3600, span_s=175.0, each=2, deadline_s=480.0,
    outages=((60.0, 63.0), (130.0, 132.0)),
)  # fmt: skip
SMOKE = nemesis.Plan(
    seed=SEED, rooms_per_app=80, span_s=12.0, each=1, deadline_s=120.0, outages=((3.0, 4.0),)
)


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """One nemesis run, and its verdicts."""
    before = os.getloadavg()
    chosen = SMOKE if plan.smoke else FULL
    print(f"bench:   nemesis seed {chosen.seed}", flush=True)
    for at, kind, runner in nemesis.schedule(chosen):
        print(f"bench:     {at:7.2f} s {kind}" + ("" if runner is None else f" runner {runner}"))
    verdicts, figures = nemesis.run(ws.dir("nemesis"), chosen)
    for line in verdicts.lines():
        print(f"bench:   {line}", flush=True)
    return figures | {
        "rooms_per_app": chosen.rooms_per_app,
        "outages_s": [list(o) for o in chosen.outages],
        "load_average": [round(x, 2) for x in before + os.getloadavg()],
    }


def render(f: dict[str, Any]) -> str:
    """Section 11 of RESULTS.md."""
    faults = [
        [x["t"], x["kind"], "–" if x["runner"] is None else x["runner"], x["on_wire"]]
        for x in f["faults"]
    ]
    peaks = ", ".join(f"{app}: {n}" for app, n in f["max_in_1s"].items())
    twice = f["accepted_twice"]
    rows: list[list[object]] = [
        ["seconds with more than 20 arrivals for an app", f["busy_seconds"], "0",
         f["busy_seconds"] == 0],
        ["… with more than 20 accepted (the 21st refused with 100422 aside)",
         f["accepted_busy_seconds"], "", None],
        ["rooms not ok at the end", f["rooms_not_ok"], "0", f["rooms_not_ok"] == 0],
        ["rooms accepted more than once", twice, f"≤ {f['bound']} (on the wire)",
         twice <= f["bound"]],
        ["requests without a record anywhere", f["unrecorded"], "0", f["unrecorded"] == 0],
        ["stderr files with a traceback", len(f["tracebacks"]), "0", not f["tracebacks"]],
    ]  # fmt: skip
    return "\n".join(
        [
            "## 11. The nemesis: three runners, two apps, faults on a seeded schedule",
            "",
            f"Three `resumer run --redis URL --resume` processes, each with every room of two "
            f"apps ({f['rooms_per_app']} per app, {f['rooms']} in all), each through a port of "
            "its own of the bench's simulator (replies 20–300 ms, arrivals 0–30 ms late and 1 % "
            f"50–100 ms, outages at {f['outages_s']} s), one redis-server with AOF. Seed "
            f"{f['seed']}; the schedule (seconds after the start; a runner killed is restarted "
            "at once with `--resume` on its results log, as is one that exits other than 0; a "
            "runner stopped 13 s, past its 10 s leases; Redis stopped 3 s; Redis restarted with "
            "SIGTERM, its AOF brings its state back):",
            "",
            table(("t (s)", "fault", "runner", "requests on the wire"), faults),
            "",
            table(("verdict", "figure", "promise", ""), rows),
            "",
            f"{f['arrivals']} arrivals in {f['wall_s']} s; most in any 1 s: {peaks}; windows "
            f"over 20 (app's last digit: s after the start): {_busy(f['busy_at'])}. Starts per "
            f"runner {f['starts']}, exit codes {f['exits']}. Rooms accepted more than once, by "
            f"runner (first few): {_twice(f['twice_by_door'])}. Load average (1, 5, 15 min) "
            f"before and after: {load(f['load_average'])}. Holds: {cell(f['holds'])}.",
        ]
    )


def _busy(at: list[list[Any]]) -> str:
    return ", ".join(f"{str(app)[-1]}: {t}" for app, t in at) or "none"


def _twice(rooms: list[dict[str, Any]]) -> str:
    shown = [
        f"{r['room']} ({', '.join(f'{t} s by {d}' for t, d in r['accepted'])})" for r in rooms[:8]
    ]
    return "; ".join(shown) or "none"


SCENARIO = Scenario(name="nemesis", measure=measure, render=render)
