"""Scenario 5: many apps at once, and memory over a million room IDs.

Step by step (10, 50, 100 apps of 20/s each in the full run), one resumer process drives every
app against one simulator process; each step reports the aggregate rate against the ideal
(apps × the planned rate), the client's CPU time per request and peak RSS, and the simulator's
own CPU use, which says whether the two-core machine, or resumer, sets the limit. Then `--dry-run`
over 10k to 1M room IDs: peak RSS, and the bytes each further room costs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Sim, run_child
from bench.metrics import ACCEPTED
from bench.plan import BUDGET, PACE, Plan, Workspace, room_ids
from bench.single import write_profile
from bench.tools import BenchApp, dry_run, run_resumer
from resumer.api.usersig import make_usersig

FLOOR = Path(__file__).with_name("floor.py")

FIRST_SDKAPPID = 1500000001
SATURATED = 0.95  # below this share of the ideal aggregate rate, a step is saturated
DRY_RUN_TARGET_MB = 150
CPU_OVER_FLOOR = 1.15  # client CPU per request at the largest step, × the bare aiohttp floor
LOOP_LAG_P99_MS = 5.0  # the client's timers at the largest step: a late timer, a late slot


def bench_apps(count: int) -> list[BenchApp]:
    """`count` apps, each with its own secret key."""
    return [
        BenchApp(sdkappid=FIRST_SDKAPPID + n, secret_key=f"bench-secret-key-{n}")
        for n in range(count)
    ]


def step(
    ws: Workspace,
    apps_count: int,
    rooms_per_app: int,
    *,
    launcher: Sequence[str] | None = None,
    name: str = "scale",
    extra: Sequence[str] = (),
    deadline: float = 600.0,
) -> dict[str, Any]:
    """One step: `apps_count` apps with `rooms_per_app` rooms each, all at once.

    `extra` are more options of `resumer run` (`bench/metrics_cost.py` adds its metrics ones).
    By default resumer runs under `bench/looplag.py`, which times its event loop's timers; a
    `launcher` (a profiler) replaces that, and the step then has no client loop lag.
    """
    folder = ws.dir(f"{name}-{apps_count}-apps")
    lag_file = folder / "client-loop-lag.json"
    lag_file.unlink(missing_ok=True)
    if launcher is None:
        launcher = ("-m", "bench.looplag", str(lag_file))
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
    return {
        "apps": apps_count,
        "rooms": len(rooms),
        "wall_s": round(child.wall_s, 2),
        "exit_code": child.exit_code,
        "requests": requests,
        "rooms_not_ok": run.rooms_not_ok,
        "code_100422": sum(int(s["by_code"].get("100422", 0)) for s in per_app),
        "max_arrivals_1s": max((int(s["max_arrivals_1s"]) for s in per_app), default=0),
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


def floor(ws: Workspace, requests: int, *, name: str = "floor") -> dict[str, Any]:
    """A bare aiohttp client's CPU per request against the same simulator (`bench/floor.py`)."""
    folder = ws.dir(name)
    app = bench_apps(1)[0]
    profile = {
        "seed": 5,
        "rate": 10**9,  # out of the way: the floor client does not pace
        "latency": {"min_ms": 20, "max_ms": 100},
        "apps": [{"sdkappid": app.sdkappid, "secret_key": app.secret_key}],
    }
    usersig = make_usersig(
        sdkappid=app.sdkappid,
        identifier="administrator",
        secret_key=app.secret_key,
        now=int(time.time()),
    )
    with Sim(write_profile(folder, profile), log=folder / "sim.log") as sim:
        child = run_child(
            [sys.executable, str(FLOOR), str(requests)],
            stdout=folder / "stdout.txt",
            stderr=folder / "stderr.txt",
            env={"ENDPOINT": sim.url, "SDKAPPID": str(app.sdkappid)}
            | {"IDENTIFIER": "administrator", "USERSIG": usersig},
        )
    ok = (folder / "stdout.txt").read_text().strip()
    return {
        "requests": requests,
        "ok": int(ok) if ok.isdigit() else 0,
        "exit_code": child.exit_code,
        "wall_s": round(child.wall_s, 2),
        "client_cpu_s": round(child.cpu_s, 2),
        "client_cpu_ms_per_request": round(1000 * child.cpu_s / requests, 3),
    }


def _averaged(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The two floor runs as one: their requests and CPU pooled, and each run's figures."""
    requests = before["requests"] + after["requests"]
    cpu = before["client_cpu_s"] + after["client_cpu_s"]
    return {
        "requests": requests,
        "ok": before["ok"] + after["ok"],
        "exit_code": before["exit_code"] or after["exit_code"],
        "wall_s": round(before["wall_s"] + after["wall_s"], 2),
        "client_cpu_s": round(cpu, 2),
        "client_cpu_ms_per_request": round(1000 * cpu / max(requests, 1), 3),
        "runs": [before, after],
    }


def dry_runs(ws: Workspace, sizes: tuple[int, ...]) -> dict[str, Any]:
    """`--dry-run` over files of `sizes` room IDs: peak RSS of each, and growth per room."""
    folder = ws.dir("dry-run")
    runs = []
    for size in sizes:
        path = folder / f"rooms-{size}.txt"
        if not path.exists():
            path.write_text("".join(f"{r}\n" for r in room_ids(size)))
        child = dry_run(folder, rooms_file=path)
        runs.append(
            {
                "rooms": size,
                "exit_code": child.exit_code,
                "wall_s": round(child.wall_s, 2),
                "cpu_s": round(child.cpu_s, 2),
                "max_rss_mb": round(child.max_rss_mb, 1),
            }
        )
    low, high = runs[0], runs[-1]
    growth = (high["max_rss_mb"] - low["max_rss_mb"]) * 2**20 / (high["rooms"] - low["rooms"])
    return {
        "room_id_format": "live_00000001 (13 bytes)",
        "runs": runs,
        "bytes_per_room": round(growth, 1),
        "meets": {f"max_rss_mb<={DRY_RUN_TARGET_MB}": high["max_rss_mb"] <= DRY_RUN_TARGET_MB},
    }


def scale(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Scenario 5: the steps, where the machine saturates, and the dry runs."""
    *smaller, largest = plan.scale_apps
    steps = [step(ws, n, plan.scale_rooms_per_app) for n in smaller]
    # The floor runs just before and just after the largest step, and the two are averaged:
    # on a machine shared with other work, the load drifts within a minute, and a floor taken
    # on one side only would carry that drift into the ratio.
    before = floor(ws, plan.floor_requests, name="floor-before")
    steps.append(step(ws, largest, plan.scale_rooms_per_app))
    after = floor(ws, plan.floor_requests, name="floor-after")
    bare = _averaged(before, after)
    saturated = next((s["apps"] for s in steps if s["saturated"]), None)
    top = steps[-1]
    per_request = bare["client_cpu_ms_per_request"]
    ratio = round(top["client_cpu_ms_per_request"] / max(per_request, 1e-9), 2)
    lag_p99 = top["client_loop_lag_ms"]["p99"]
    return {
        "budget_per_app": BUDGET,
        "steps": steps,
        "aiohttp_floor": bare,
        "cpu_over_floor": ratio,
        "saturates_at_apps": saturated,
        "dry_run": dry_runs(ws, plan.dry_run_sizes),
        "meets": {
            "client_cpu_ms_per_request<=0.2": top["client_cpu_ms_per_request"] <= 0.2,
            "cpu_over_floor<=1.15": ratio <= CPU_OVER_FLOOR,
            "max_arrivals_1s<=20": all(s["max_arrivals_1s"] <= BUDGET for s in steps),
            "client_loop_lag_p99<=5ms": lag_p99 is not None and lag_p99 <= LOOP_LAG_P99_MS,
        },
    }
