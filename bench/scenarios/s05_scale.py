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
from pathlib import Path
from typing import Any

from bench.harness.arrivals import first_crowded, percentile, transit_offset
from bench.harness.child import run_child
from bench.harness.observe import write_profile
from bench.harness.plan import BUDGET, PACE, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.harness.sim import Sim
from bench.harness.step import step
from bench.harness.tools import bench_apps, dry_run
from bench.markdown import cell, client_lag, table
from resumer.api.usersig import make_usersig

FLOOR = Path(__file__).resolve().parent.parent / "harness" / "floor.py"
DRY_RUN_TARGET_MB = 150
CPU_OVER_FLOOR = 1.15  # client CPU per request at the largest step, × the bare aiohttp floor
LAG_APPS = 50  # the step whose loop lag has a target
TRACED_RUNS = 3  # repeats of the largest step under the wire probe, until one is crowded
LOOP_LAG_P99_MS = 5.0  # the client's timers at the largest step: a late timer, a late slot


def floor(
    ws: Workspace, requests: int, *, name: str = "floor", paced: tuple[int, float] | None = None
) -> dict[str, Any]:
    """A bare aiohttp client's CPU per request against the same simulator (harness/floor.py),
    as fast as it answers, or `paced` as (apps, requests/s per app)."""
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
            [sys.executable, str(FLOOR), str(requests)]
            + ([] if paced is None else ["--paced", str(paced[0]), str(paced[1])]),
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


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The steps, where the machine saturates, and the dry runs."""
    *smaller, largest = plan.scale_apps
    steps = [step(ws, n, plan.scale_rooms_per_app) for n in smaller]
    # The floor runs just before and just after the largest step, and the two are averaged:
    # on a machine shared with other work, the load drifts within a minute, and a floor taken
    # on one side only would carry that drift into the ratio.
    before = floor(ws, plan.floor_requests, name="floor-before")
    steps.append(step(ws, largest, plan.scale_rooms_per_app))
    after = floor(ws, plan.floor_requests, name="floor-after")
    # the same load as the largest step, sent by the bare client on a grid per app
    paced = floor(ws, largest * plan.scale_rooms_per_app, name="floor-paced", paced=(largest, PACE))
    traced = (
        trace(ws, largest, plan.scale_rooms_per_app)
        if steps[-1]["max_arrivals_1s"] > BUDGET
        else None
    )
    bare = _averaged(before, after)
    saturated = next((s["apps"] for s in steps if s["saturated"]), None)
    top = steps[-1]
    per_request = bare["client_cpu_ms_per_request"]
    ratio = round(top["client_cpu_ms_per_request"] / max(per_request, 1e-9), 2)
    # the loop lag target is the 50-app step's (the largest is saturated on 2 cores)
    lagged = next((s for s in steps if s["apps"] == LAG_APPS), top)
    lag_p99 = lagged["client_loop_lag_ms"]["p99"]
    return {
        "budget_per_app": BUDGET,
        "steps": steps,
        "aiohttp_floor": bare,
        "cpu_over_floor": ratio,
        "paced_floor": paced | {"apps": largest, "rate": PACE},
        "cpu_over_paced_floor": round(
            top["client_cpu_ms_per_request"] / max(paced["client_cpu_ms_per_request"], 1e-9), 2
        ),
        "saturates_at_apps": saturated,
        "dry_run": dry_runs(ws, plan.dry_run_sizes),
        "meets": {
            "client_cpu_ms_per_request<=0.2": top["client_cpu_ms_per_request"] <= 0.2,
            "cpu_over_floor<=1.15": ratio <= CPU_OVER_FLOOR,
            "max_arrivals_1s<=20": all(s["max_arrivals_1s"] <= BUDGET for s in steps),
            "client_loop_lag_p99<=5ms": lag_p99 is not None and lag_p99 <= LOOP_LAG_P99_MS,
            "code_100422_first_5s==0": all(s.get("code_100422_first_5s", 0) == 0 for s in steps),
        },
        "loop_lag_apps": lagged["apps"],
    } | ({} if traced is None else {"traced": traced})


def trace(ws: Workspace, apps: int, rooms_per_app: int) -> dict[str, Any]:
    """The step again under `bench/probes/wire_times.py`, up to TRACED_RUNS times until one has
    a second over the budget: its crowded windows, seen at the client's wire and at the
    simulator (which end brought the arrivals closer than the sends)."""
    runs: list[dict[str, Any]] = []
    for n in range(1, TRACED_RUNS + 1):
        wire_file = ws.dir(f"traced-{n}") / "wire.json"
        figures = step(
            ws,
            apps,
            rooms_per_app,
            name=f"traced-{n}",
            launcher=("-m", "bench.probes.wire_times", str(wire_file)),
            keep_arrivals=True,
        )
        runs.append(_crowding(figures, json.loads(wire_file.read_text())))
        if runs[-1]["windows"]:
            break
    return {"apps": apps, "runs": runs}


def _crowding(figures: dict[str, Any], wires: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Each app's first crowded window, from its arrivals and its sends at the wire."""
    pairs = {
        app: (times, sorted(w for _, w in wires.get(app, [])))
        for app, times in figures["arrivals"].items()
    }
    offset = transit_offset(list(pairs.values()))
    found = [
        c for arrivals, sent in pairs.values()
        if (c := first_crowded(arrivals, sent, BUDGET, offset)) is not None
    ]  # fmt: skip
    late = sorted(
        granted_wire[1] - granted_wire[0] for app in wires.values() for granted_wire in app
    )
    return {
        "code_100422": figures["code_100422"],
        "code_100422_first_5s": figures["code_100422_first_5s"],
        "windows": len(found),
        "first_arrival_index": sorted({c.first + 1 for c in found}),
        "wire_span_min_ms": _ms(min((c.wire_span for c in found), default=None)),
        "arrival_span_min_ms": _ms(min((c.arrival_span for c in found), default=None)),
        "late_first_ms": [_ms(min((c.late_first for c in found), default=None)),
                          _ms(max((c.late_first for c in found), default=None))],
        "late_last_ms_max": _ms(max((c.late_last for c in found), default=None)),
        "wire_after_grant_ms": {"p50": _ms(percentile(late, 50)), "p99": _ms(percentile(late, 99)),
                                "max": _ms(late[-1] if late else None)},
    }  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


HEADER = (
    *("apps", "rooms", "aggregate req/s", "ideal (apps × planned rate)", "share"),
    *("client CPU ms/request", "client CPU (cores)", "client peak RSS MB", "sim CPU (cores)"),
    *("client loop lag p50 / p99 / max ms", "sim loop lag max ms", "100422 (first 5 s)"),
    *("max in 1 s (worst app)", "seconds over 20 (apps)", "rooms not ok"),
)


def render(s: dict[str, Any]) -> str:
    """Section 5 of RESULTS.md, from these figures."""
    rows = [
        [
            st["apps"], st["rooms"], st["aggregate_rate"], st["ideal_rate"], st["share_of_ideal"],
            st["client_cpu_ms_per_request"], st["client_cpu_share_of_one_core"],
            st["client_max_rss_mb"], st["sim_cpu_share_of_one_core"],
            client_lag(st), st["sim_max_loop_lag_ms"],
            f"{st['code_100422']} ({st.get('code_100422_first_5s', '–')})",
            st["max_arrivals_1s"], _over(st), st["rooms_not_ok"],
        ]
        for st in s["steps"]
    ]  # fmt: skip
    floor = s["aiohttp_floor"]
    dry = s["dry_run"]
    dry_rows = [[r["rooms"], r["max_rss_mb"], r["wall_s"], r["cpu_s"]] for r in dry["runs"]]
    meets = s["meets"]
    saturated = s["saturates_at_apps"]
    return "\n".join(
        [
            "## 5. Scale: many apps at once, one resumer process, one simulator process",
            "",
            table(HEADER, rows),
            "",
            "Below 95 % of the ideal aggregate rate a step counts as saturated: "
            + (f"first at {saturated} apps." if saturated else "no step was.")
            + f" Client CPU per request at the largest step ≤ 0.2 ms: "
            f"{cell(meets['client_cpu_ms_per_request<=0.2'])}.",
            "",
            "The floor, measured in the same run: a bare aiohttp client "
            f"(`bench/harness/floor.py`: resumer's session and request, nothing else, "
            f"{floor['requests']} requests as fast as the simulator answers; {floor['ok']} "
            "answered ok), run just before and just "
            f"after the largest step ({_floor_runs(floor)} ms each), spends "
            f"{floor['client_cpu_ms_per_request']} ms of CPU per request; resumer at the "
            f"largest step spends {s['cpu_over_floor']} × that (target ≤ 1.15: "
            f"{cell(meets.get('cpu_over_floor<=1.15'))})." + _paced(s) + " Client loop lag p99 at "
            f"{_lag_step(s)} ≤ 5 ms: "
            f"{cell(meets.get('client_loop_lag_p99<=5ms'))}. No 100422 in any step's first 5 s: "
            f"{cell(meets.get('code_100422_first_5s==0'))}.",
            *_traced(s.get("traced")),
            "",
            f"`--dry-run` over room IDs like {dry['room_id_format']}:",
            "",
            table(["rooms", "peak RSS MB", "wall s", "CPU s"], dry_rows),
            "",
            f"Memory grows by {dry['bytes_per_room']} bytes per further room; peak RSS at the "
            f"largest size ≤ 150 MB: {cell(next(iter(dry['meets'].values())))}.",
        ]
    )


def _paced(s: dict[str, Any]) -> str:
    """The sentence on the paced floor, if it was measured."""
    paced = s.get("paced_floor")
    if paced is None:
        return ""
    return (
        f" The same bare client sending the largest step's load paced ({paced['apps']} apps of "
        f"{paced['rate']}/s, each on a grid of its own: a sleep to each slot, a task per "
        f"request; `floor.py --paced`) spends {paced['client_cpu_ms_per_request']} ms per "
        f"request: replies come one by one instead of in bunches of 200 a turn of the loop, "
        f"and that is what pacing itself costs. resumer spends {s['cpu_over_paced_floor']} × "
        "that."
    )


def _traced(traced: dict[str, Any] | None) -> list[str]:
    """The paragraph on the largest step's crowded seconds, traced at both ends (if it had)."""
    if traced is None:
        return []
    parts = []
    for n, run in enumerate(traced["runs"], 1):
        late = run["wire_after_grant_ms"]
        text = (
            f"run {n}: {run['code_100422']} × 100422 ({run['code_100422_first_5s']} in the first "
            f"5 s), {run['windows']} apps with 21 arrivals in a second; requests reached the wire "
            f"{late['p50']} / {late['p99']} / {late['max']} ms (p50 / p99 / max) after their grant"
        )
        if run["windows"]:
            low, high = run["late_first_ms"]
            text += (
                f". Those windows began at arrival {_listed(run['first_arrival_index'])}; their "
                f"21 sends spanned at least {run['wire_span_min_ms']} ms at the client's wire "
                f"(the hard line holds 1001 ms) and at least {run['arrival_span_min_ms']} ms at "
                f"the simulator, which read each window's first request {low}–{high} ms later "
                f"than its quickest transit (the last: at most {run['late_last_ms_max']} ms)"
            )
        parts.append(text)
    return [
        "",
        f"**The crowded seconds, traced**: the largest step again under "
        f"`bench/probes/wire_times.py` (each grant's time and its request's at the wire, beside "
        f"the simulator's arrivals), until a run had a second over 20 (at most {TRACED_RUNS} "
        f"runs): " + "; ".join(parts) + ".",
    ]


def _listed(indices: list[int]) -> str:
    return ", ".join(str(i) for i in indices[:6]) + (" …" if len(indices) > 6 else "")


def _lag_step(s: dict[str, Any]) -> str:
    """The step whose loop lag has a target, as the text names it."""
    apps = s.get("loop_lag_apps")
    return "the largest step" if apps is None else f"{apps} apps"


def _over(step: dict[str, Any]) -> str:
    """Seconds with more than the budget's arrivals, summed over the apps, and how many apps."""
    over = step.get("windows_over_budget_1s")
    if over is None:
        return "–"
    return f"{sum(over.values())} ({len(over)})"


def _floor_runs(floor: dict[str, Any]) -> str:
    runs = floor.get("runs", [floor])
    return " and ".join(str(r["client_cpu_ms_per_request"]) for r in runs)


SCENARIO = Scenario(name="scale", measure=measure, render=render)
