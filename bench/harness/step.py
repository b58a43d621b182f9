"""One scale step: many apps at once, one resumer process against one simulator process.

Scenario 5 runs it at 10 to 100 apps, scenario 6 with and without metrics, scenario 9 for
minutes; each step reports the aggregate rate against the ideal (apps × the planned rate), the
client's CPU per request, peak RSS and loop lag, and the simulator's own CPU use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bench.harness.arrivals import ACCEPTED, windows_over
from bench.harness.observe import write_profile
from bench.harness.plan import BUDGET, PACE, Workspace, room_ids
from bench.harness.sim import Sim
from bench.harness.tools import bench_apps, run_resumer

SATURATED = 0.95  # below this share of the ideal aggregate rate, a step is saturated


def step(
    ws: Workspace,
    apps_count: int,
    rooms_per_app: int,
    *,
    launcher: Sequence[str] | None = None,
    name: str = "scale",
    extra: Sequence[str] = (),
    deadline: float = 600.0,
    keep_arrivals: bool = False,
) -> dict[str, Any]:
    """One step: `apps_count` apps with `rooms_per_app` rooms each, all at once.

    `extra` are more options of `resumer run` (scenario 6 adds its metrics ones). By
    default resumer runs under `bench/harness/looplag.py`, which times its event loop's timers; a
    `launcher` (a profiler) replaces that, and the step then has no client loop lag. With
    `keep_arrivals`, the figures hold each app's arrival times too (by SDKAppID, sorted).
    """
    folder = ws.dir(f"{name}-{apps_count}-apps")
    lag_file = folder / "client-loop-lag.json"
    lag_file.unlink(missing_ok=True)
    if launcher is None:
        launcher = ("-m", "bench.harness.looplag", str(lag_file))
    apps = bench_apps(apps_count)
    profile = {
        "seed": 5,
        "latency": {"min_ms": 20, "max_ms": 100},
        "apps": [
            {"sdkappid": a.sdkappid, "secret_key": a.secret_key, "admins": ["administrator"]}
            for a in apps
        ],
    }
    rooms = [(a.sdkappid, r) for r in room_ids(rooms_per_app) for a in apps]
    with Sim(write_profile(folder, profile), log=folder / "sim.log") as sim:
        run = run_resumer(
            folder,
            url=sim.url,
            rooms=rooms,
            apps=apps,
            deadline=deadline,
            launcher=launcher,
            extra=extra,
        )
        stats = sim.stats()["apps"]
        loop_lag = sim.get("/bench/loop_lag")
        arrivals = [sim.arrivals(a.sdkappid) for a in apps]
    per_app = [stats[str(a.sdkappid)] for a in apps]
    requests = sum(int(s["requests"]) for s in per_app)
    gaps = sum(max(int(s["requests"]) - 1, 0) for s in per_app)  # intervals between requests
    firsts = [s["first_arrival_s"] for s in per_app if s["first_arrival_s"] is not None]
    lasts = [s["last_arrival_s"] for s in per_app if s["last_arrival_s"] is not None]
    span = max(lasts, default=0.0) - min(firsts, default=0.0)
    aggregate = gaps / span if span > 0 else 0.0
    ideal = apps_count * PACE
    child = run.child
    client_lag = json.loads(lag_file.read_text()) if lag_file.exists() else {}
    start = min(firsts, default=0.0)
    middle = _middle_rate(arrivals, start, max(lasts, default=0.0))
    kept = {str(a.sdkappid): sorted(times) for a, (times, _) in zip(apps, arrivals, strict=True)}
    return ({"arrivals": kept} if keep_arrivals else {}) | {
        "apps": apps_count,
        "rooms": len(rooms),
        "wall_s": round(child.wall_s, 2),
        "exit_code": child.exit_code,
        "requests": requests,
        "rooms_not_ok": run.rooms_not_ok,
        "code_100422": sum(int(s["by_code"].get("100422", 0)) for s in per_app),
        "max_arrivals_1s": max((int(s["max_arrivals_1s"]) for s in per_app), default=0),
        # per app (only those with any): the 1 s windows that held more than the budget
        "windows_over_budget_1s": {
            str(a.sdkappid): over
            for a, (times, _) in zip(apps, arrivals, strict=True)
            if (over := windows_over(sorted(times), BUDGET))
        },
        "aggregate_rate": round(aggregate, 1),
        "ideal_rate": round(ideal, 1),
        "planned_rate_per_app": PACE,
        "share_of_ideal": round(aggregate / ideal, 4),
        "saturated": aggregate < SATURATED * ideal,
        "client_cpu_s": round(child.cpu_s, 2),
        "client_cpu_ms_per_request": round(1000 * child.cpu_s / max(requests, 1), 3),
        "client_cpu_share_of_one_core": round(child.cpu_s / child.wall_s, 3),
        "client_max_rss_mb": round(child.max_rss_mb, 1),
        "sim_cpu_share_of_one_core": round(sim.cpu_s / child.wall_s, 3),
        "sim_max_loop_lag_ms": loop_lag["max_ms"],
        "client_loop_lag_ms": {k: client_lag.get(f"{k}_ms") for k in ("p50", "p99", "max")},
        "client_loop": client_lag.get("loop"),
        "code_100422_first_2s": sum(
            k == "100422" and t < start + 2
            for times, kinds in arrivals
            for t, k in zip(times, kinds, strict=True)
        ),
        "code_100422_first_5s": sum(
            k == "100422" and t < start + 5
            for times, kinds in arrivals
            for t, k in zip(times, kinds, strict=True)
        ),
        "throttled_fraction": round(
            sum(int(s["by_code"].get("100422", 0)) for s in per_app) / max(requests, 1), 5
        ),
        "accepted_rate_middle_60": round(middle, 1),
        "share_of_ideal_middle_60": round(middle / ideal, 4),
    }


def _middle_rate(arrivals: list[tuple[list[float], list[str]]], first: float, last: float) -> float:
    """Accepted requests per second over every app, in the middle 60 % of the run's span.

    The first and last 20 % are left out: the start (each app's first request goes alone) and
    the tail (apps finish one by one) are not the steady rate a long run holds.
    """
    span = last - first
    if span <= 0:
        return 0.0
    low, high = first + 0.2 * span, first + 0.8 * span
    accepted = sum(
        low <= t < high and k == ACCEPTED
        for times, kinds in arrivals
        for t, k in zip(times, kinds, strict=True)
    )
    return accepted / (high - low)
