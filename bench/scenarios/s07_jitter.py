"""Scenario 7: a jitter sweep. One app over a path whose delay varies, learned margin vs fixed.

The simulator (`resumer sim`'s model, in its own process) delays each request 0 to J ms, at
random, before its 20/s window counts it (`[jitter]` of its profile, as `resumer sim
--jitter-ms 0:J --jitter-tail P`), for J = 0, 10, 20 and 40 ms, and a heavy-tailed path (0-30
ms, and 1 % of requests 50-100 ms late: the `jittery` profile). Each path is run twice, one
after the other so the machine's load is alike: resumer as shipped (the learned margin) and
resumer with the margin pinned at 1.5 % (`bench/probes/fixed_margin.py`: every throttle a CUBIC
cut, as before).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.harness import arrivals
from bench.harness.observe import Observed, observe
from bench.harness.plan import BUDGET, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.markdown import cell, load, table

LATENCY_MS = (50, 300)  # reply delay: a slow but healthy API
PATHS: dict[str, dict[str, float]] = {
    "0 ms": {"min_ms": 0, "max_ms": 0},
    "0-10 ms": {"min_ms": 0, "max_ms": 10},
    "0-20 ms": {"min_ms": 0, "max_ms": 20},
    "0-40 ms": {"min_ms": 0, "max_ms": 40},
    "0-30 ms, 1 % 50-100 ms": {"min_ms": 0, "max_ms": 30, "tail": 0.01},
}
MARGINS = {
    "learned": ("-m", "resumer"),
    "fixed": ("-m", "bench.probes.fixed_margin"),
}
SHARE_TARGETS = {"0 ms": 0.985, "0-40 ms": 0.96}  # share of 20/s, the learned margin
THROTTLED_TARGET = 0.002  # at every J


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Every path, learned and fixed margin: share of 20/s, throttled, peaks."""
    load_before = os.getloadavg()
    rows: dict[str, dict[str, Any]] = {}
    # the smoke run keeps the quiet path and the heavy tail: both launchers, in seconds
    paths = {k: v for i, (k, v) in enumerate(PATHS.items()) if not plan.smoke or i in (0, 4)}
    for n, (path, jitter_ms) in enumerate(paths.items()):
        rows[path] = {}
        for margin, launcher in MARGINS.items():
            profile = {
                "seed": 60 + n,
                "latency": {"min_ms": LATENCY_MS[0], "max_ms": LATENCY_MS[1]},
                "jitter": jitter_ms,
            }
            folder = ws.dir(f"jitter/{n}-{margin}")
            seen = observe(folder, profile, room_ids(plan.jitter_rooms), launcher=launcher)
            rows[path][margin] = _figures(seen, folder)
    learned = {path: row["learned"] for path, row in rows.items()}
    meets = {
        f"share[{path}]>={target}": learned[path]["share_of_cap"] >= target
        for path, target in SHARE_TARGETS.items()
        if path in learned
    }
    meets[f"throttled_fraction<={THROTTLED_TARGET} at every J"] = all(
        r["throttled_fraction"] <= THROTTLED_TARGET for r in learned.values()
    )
    return {
        "rooms": plan.jitter_rooms,
        "latency_ms": list(LATENCY_MS),
        "paths": paths,
        "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
        "runs": rows,
        "meets": meets,
    }


def _figures(seen: Observed, folder: Path) -> dict[str, Any]:
    """One run: the share of 20/s accepted from the 2nd arrival, throttles, the 1 s peak."""
    accepted = [t for t, kind in zip(seen.times, seen.kinds, strict=True) if kind != "100422"]
    # The first request goes alone (resumer.pace.pacer): the pace is measured from the second one.
    share = arrivals.rate(accepted[1:]) / BUDGET
    requests = max(len(seen.times), 1)
    common = seen.common()
    return {
        "share_of_cap": round(share, 4),
        "accepted_rate": round(share * BUDGET, 3),
        "throttled_fraction": round(seen.throttled / requests, 4),
        "code_100422": seen.throttled,
        "requests": common["requests"],
        "max_arrivals_1s": common["max_arrivals_1s"],
        "max_accepted_1s": seen.app["max_accepted_1s"],
        "wall_s": common["wall_s"],
        "rooms_not_ok": common["rooms_not_ok"],
        "rates_after_throttles": _slowdowns(folder),
    }


def _slowdowns(folder: Path) -> list[float]:
    """The rate after each `throttled` event resumer logged (a widening or a CUBIC cut)."""
    rates: list[float] = []
    log = folder / "stderr.jsonl"
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and '"throttled"' in line:
            event = json.loads(line)
            if event.get("event") == "throttled":
                rates.append(float(event["rate"]))
    return rates


HEADER = (
    *("arrivals late by", "share of 20/s", "throttled", "100422"),
    *("max arrivals in 1 s", "completion s", "rooms not ok"),
)


def render(j: dict[str, Any]) -> str:
    """Section 7 of RESULTS.md, from these figures."""
    rows: list[list[object]] = []
    for path, runs in j["runs"].items():
        new, old = runs["learned"], runs["fixed"]
        rows.append([
            path, f"{new['share_of_cap']} / {old['share_of_cap']}",
            f"{new['throttled_fraction']:.2%} / {old['throttled_fraction']:.2%}",
            f"{new['code_100422']} / {old['code_100422']}",
            f"{new['max_arrivals_1s']} / {old['max_arrivals_1s']}",
            f"{new['wall_s']} / {old['wall_s']}",
            f"{new['rooms_not_ok']} / {old['rooms_not_ok']}",
        ])  # fmt: skip
    targets = "; ".join(f"{k}: {cell(v)}" for k, v in j["meets"].items())
    return "\n".join(
        [
            f"## 7. Jitter sweep: {j['rooms']} rooms, one app, learned margin / fixed 1.5 %",
            "",
            f"Each request reaches the simulator's window 0 to J ms late (`resumer sim "
            f"--jitter-ms 0:J --jitter-tail P`); replies {j['latency_ms'][0]}–"
            f"{j['latency_ms'][1]} ms. Each cell: resumer as shipped / with the margin pinned at "
            "1.5 % and every throttle cut by CUBIC (`bench/probes/fixed_margin.py`), run one after "
            "the other. Share of 20/s: accepted requests per second from the 2nd arrival, / 20.",
            "",
            table(HEADER, rows),
            "",
            f"Targets (learned margin): {targets}. Load average (1, 5, 15 min) before and "
            f"after: {load(j['load_average'])}.",
        ]
    )


SCENARIO = Scenario(name="jitter", measure=measure, render=render)
