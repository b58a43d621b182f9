"""Scenario 8: several runs, one budget (`resumer run --redis URL --ledger NAME`).

Three `resumer run` processes at once (the real CLI, each under the bench's launcher so its CPU
is its own), against a simulator and a real redis-server of their own (`bench/harness/servers.py`),
started afresh for each part:

1. overlap: one app, lists of 2/3, 2/3 and all of the distinct rooms (400, 400 and 600 of 600:
   lines 0-399, 200-599, 0-599), without --redis, then with --redis and one --ledger;
2. kill: the same rooms for all three, with --redis and a ledger; one run SIGKILLed a few
   seconds in (the others must finish its rooms once its leases expire);
3. apps: three runners, each with every app of a config file, overlapping lists per app;
4. cost: one runner over the apps of part 3, without and with --redis, one after the other.

Who sent a room is read from each run's results log (a record with attempts > 0); what the API
saw from the simulator (requests per room, arrivals, answers); what Redis did from its INFO
commandstats and cpu, reset before each part.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from bench.harness.plan import BUDGET, PACE, SDKAPPID, Plan, Workspace, room_ids
from bench.harness.scenario import Scenario
from bench.harness.together import part
from bench.harness.tools import BenchApp, bench_apps
from bench.markdown import FIGURE_HEADER, cell, load, table

RUNS = 3
LEDGER = "bench-incident"
LATENCY_MS = (20, 120)  # the `clean` profile's replies
THROTTLED_TARGET = 3  # at most 3 throttled, three runs together
OK_RATE_TARGET = 19.0  # ok answers per second, three runs together
TWICE_TARGET = 8  # rooms sent twice after a run is killed: what it had in flight
TRIPS_TARGET = 1.5  # Redis round trips per request sent, three overlapping runs
CPU_RATIO_TARGET = 1.25  # client CPU per request with --redis, × without (one runner)
TLS_RATE_TARGET = 0.95 * BUDGET  # ok answers per second, one run through rediss://


def overlapping(rooms: Sequence[str]) -> list[list[str]]:
    """Three lists over `rooms`: the first 2/3, the last 2/3, and all of them."""
    third = len(rooms) // 3
    return [list(rooms[: len(rooms) - third]), list(rooms[third:]), list(rooms)]


def _profile(apps: Sequence[BenchApp] | None) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "seed": 8,
        "latency": {"min_ms": LATENCY_MS[0], "max_ms": LATENCY_MS[1]},
    }
    if apps is not None:
        profile["apps"] = [
            {"sdkappid": a.sdkappid, "secret_key": a.secret_key, "admins": ["administrator"]}
            for a in apps
        ]
    return profile


def _part(
    ws: Workspace,
    name: str,
    lists: Sequence[Sequence[tuple[int, str]]],
    *,
    apps: Sequence[BenchApp] | None = None,
    shared: bool,
    kill_after: float | None = None,
    tls: bool = False,
) -> dict[str, Any]:
    """One part: the lists at once, over Redis and the ledger if `shared` (`rediss://` if
    `tls`)."""
    folder = ws.dir(f"fleet/{name}")
    profile = _profile(apps)
    return part(
        folder,
        lists,
        profile=profile,
        apps=apps,
        shared=shared,
        ledger=LEDGER,
        kill_after=kill_after,
        tls=tls,
    )


def _one_app(rooms: Sequence[str]) -> list[tuple[int, str]]:
    return [(SDKAPPID, r) for r in rooms]


def _per_app(apps: Sequence[BenchApp], rooms: int) -> list[list[tuple[int, str]]]:
    """Three overlapping lists, each holding every app's share (rooms interleaved by app)."""
    shares = overlapping(room_ids(rooms))
    return [[(a.sdkappid, r) for r in share for a in apps] for share in shares]


def _line(name: str, f: dict[str, Any]) -> str:
    redis_part = f" {f['redis']['round_trips_per_request']} trips/req" if f["redis"] else ""
    return (
        f"bench:   {name}: {f['requests']} requests for {f['distinct_rooms']} rooms, "
        f"100422 × {f['code_100422']}, max in 1 s {f['max_arrivals_1s']}, by two runs "
        f"{f['rooms_sent_by_two_runs']}, not ok {f['rooms_not_ok']}, {f['ok_rate']} ok/s, "
        f"{f['wall_s']} s (ideal {f['ideal_s']}), {f['client_cpu_ms_per_request']} ms CPU/req"
        + redis_part
    )


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The four parts, and their targets."""
    load_before = os.getloadavg()
    lists = [_one_app(rooms) for rooms in overlapping(room_ids(plan.fleet_rooms))]
    parts: dict[str, dict[str, Any]] = {}
    parts["alone"] = _part(ws, "overlap-alone", lists, shared=False)
    parts["shared"] = _part(ws, "overlap-redis", lists, shared=True)
    same = [_one_app(room_ids(plan.fleet_kill_rooms))] * RUNS
    parts["killed"] = _part(ws, "killed", same, shared=True, kill_after=plan.fleet_kill_after)
    apps = bench_apps(plan.fleet_apps)
    per_app = _per_app(apps, plan.fleet_rooms_per_app)
    parts["apps"] = _part(ws, "apps", per_app, apps=apps, shared=True)
    everything = [per_app[-1]]  # one runner, every room of every app
    # CPU per request of one run varies by a tenth or more from run to run on a shared
    # machine: the two are run in turn, several times, and each row is its median run.
    pairs = [
        (
            _part(ws, f"cost-alone-{n}", everything, apps=apps, shared=False),
            _part(ws, f"cost-redis-{n}", everything, apps=apps, shared=True),
        )
        for n in range(plan.fleet_cost_pairs)
    ]
    one = [_one_app(room_ids(plan.fleet_rooms))]
    parts["plain"] = _part(ws, "plain", one, shared=True)
    parts["tls"] = _part(ws, "tls", one, shared=True, tls=True)
    parts["cost_alone"] = _median([alone for alone, _ in pairs])
    parts["cost_shared"] = _median([shared for _, shared in pairs])
    for name, figures in parts.items():
        print(_line(name, figures), flush=True)
    shared, killed = parts["shared"], parts["killed"]
    base = max(parts["cost_alone"]["client_cpu_ms_per_request"], 1e-9)
    return {
        "runs": RUNS,
        "rooms": plan.fleet_rooms,
        "kill_rooms": plan.fleet_kill_rooms,
        "kill_after_s": plan.fleet_kill_after,
        "apps": plan.fleet_apps,
        "rooms_per_app": plan.fleet_rooms_per_app,
        "ledger": LEDGER,
        "latency_ms": list(LATENCY_MS),
        "planned_rate": PACE,
        "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
        "parts": parts,
        "cost_pairs": plan.fleet_cost_pairs,
        "cpu_ratio": round(parts["cost_shared"]["client_cpu_ms_per_request"] / base, 3),
        "meets": {
            "shared: rooms_not_ok==0": shared["rooms_not_ok"] == 0,
            "shared: rooms_sent_by_two_runs==0": shared["rooms_sent_by_two_runs"] == 0,
            f"shared: max_arrivals_1s<={BUDGET}": shared["max_arrivals_1s"] <= BUDGET,
            f"shared: code_100422<={THROTTLED_TARGET}": shared["code_100422"] <= THROTTLED_TARGET,
            f"shared: ok_rate>={OK_RATE_TARGET}": shared["ok_rate"] >= OK_RATE_TARGET,
            "killed: the others exit 0": all(r["exit_code"] == 0 for r in killed["runs"][1:]),
            "killed: rooms_not_ok==0": killed["rooms_not_ok"] == 0,
            f"killed: rooms_received_twice<={TWICE_TARGET}": killed["rooms_received_twice"]
            <= TWICE_TARGET,
            f"killed: max_arrivals_1s<={BUDGET}": killed["max_arrivals_1s"] <= BUDGET,
            f"shared: round_trips_per_request<={TRIPS_TARGET}": shared["redis"][
                "round_trips_per_request"
            ]
            <= TRIPS_TARGET,
            f"cost: cpu_ratio<={CPU_RATIO_TARGET}": parts["cost_shared"][
                "client_cpu_ms_per_request"
            ]
            <= CPU_RATIO_TARGET * base,
            f"tls: ok_rate>={TLS_RATE_TARGET}": parts["tls"]["ok_rate"] >= TLS_RATE_TARGET,
        },
    }


COST_HEADER = (
    *("run", "requests", "client CPU ms/request", "round trips/request"),
    *("Redis calls/request (runs' count)", "commands in scripts/request"),
    *("Redis CPU ms/request", "round trips by command"),
)


def render(f: dict[str, Any]) -> str:
    """Section 8 of RESULTS.md, from these figures."""
    parts = f["parts"]
    alone, shared, killed, apps = parts["alone"], parts["shared"], parts["killed"], parts["apps"]
    meets = f["meets"]
    lists = ", ".join(str(n) for n in shared["lists"])
    return "\n".join(
        [
            f"## 8. Several runs, one budget: {f['runs']} runs at once, Redis shared",
            "",
            f"Three `resumer run` processes started together against one simulator (replies "
            f"{f['latency_ms'][0]}–{f['latency_ms'][1]} ms, a strict 20/s window per app) and "
            "a real `redis-server` of their own, both fresh for each part. Who sent a room: "
            "each run's results log (a record with attempts); what the API saw: the "
            "simulator; what Redis did: its `INFO commandstats` and `cpu`, reset before the "
            "part, and each run's `redis_shared` event.",
            "",
            f"**Overlapping lists** ({lists} rooms of one app, {shared['distinct_rooms']} "
            "distinct: the first 2/3, the last 2/3, all), without `--redis`, then with "
            f"`--redis` and `--ledger {f['ledger']}`:",
            "",
            table(
                ("figure", "without --redis", "with --redis", "target (with)", ""),
                _overlap_rows(alone, shared, meets),
            ),
            "",
            f"**A run killed**: {f['kill_rooms']} rooms, the same list for all three, `--redis` "
            f"and a ledger; the first run SIGKILLed {f['kill_after_s']:g} s after its start "
            "(its leases expire 10 s after their last renewal; the others do its rooms then):",
            "",
            table(FIGURE_HEADER, _killed_rows(killed, meets)),
            "",
            f"**{f['apps']} apps**: three runners, each with every app in its config file and "
            f"overlapping lists per app ({f['rooms_per_app']} distinct rooms per app, "
            f"{apps['distinct_rooms']} in all), `--redis` and a ledger. Share: an app's ok "
            f"answers per second / {f['planned_rate']}.",
            "",
            table(
                ("app", "requests", "100422", "max in 1 s", "ok/s", "share of pace"),
                _app_rows(apps),
            ),
            "",
            "**What sharing costs**: one runner over the same apps and rooms (every room of "
            "every app, no overlap), without and with `--redis`, one after the other; and the "
            "parts above. Round trips: commands Redis received from the clients (every command "
            "of `INFO commandstats` but the ones its Lua scripts run, and the bench's own "
            "`INFO`), which includes a `HELLO` per new connection; the runs' own count of "
            "calls Redis answered is beside it.",
            "",
            table(COST_HEADER, _cost_rows(f)),
            "",
            f"With `--redis`, client CPU per request is {f['cpu_ratio']} × that without "
            f"(one runner, {f['apps']} apps{_pairs(f)}). Targets: "
            + "; ".join(f"{k}: {cell(v)}" for k, v in meets.items())
            + f".{_tls(f)} Load average (1, 5, 15 min) before and after: "
            f"{load(f['load_average'])}.",
        ]
    )


def _tls(f: dict[str, Any]) -> str:
    """What `rediss://` costs a run beside `redis://`, when the report has both."""
    if "tls" not in f["parts"]:
        return ""
    tls, plain = f["parts"]["tls"], f["parts"]["plain"]
    ratio = tls["client_cpu_ms_per_request"] / max(plain["client_cpu_ms_per_request"], 1e-9)
    return (
        f" Through `rediss://` one run kept {tls['ok_rate']} ok answers/s "
        f"({tls['ok_rate'] / BUDGET:.3f} of {BUDGET:g}/s; {plain['ok_rate']} through "
        f"`redis://`), at {ratio:.2f} × the client CPU per request."
    )


def _pairs(f: dict[str, Any]) -> str:
    """How the two runs over every app were compared, when they ran more than once."""
    pairs = f.get("cost_pairs", 1)
    if pairs == 1:
        return ""
    runs = [
        ", ".join(str(x) for x in f["parts"][name]["client_cpu_ms_per_request_runs"])
        for name in ("cost_alone", "cost_shared")
    ]
    return (
        f"; each ran {pairs} times, in turn, and each row is its median run: ms per request "
        f"without {runs[0]}, with {runs[1]}"
    )


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median client CPU per request, with every run's figure beside it."""
    ranked = sorted(runs, key=lambda run: run["client_cpu_ms_per_request"])
    return ranked[len(ranked) // 2] | {
        "client_cpu_ms_per_request_runs": [r["client_cpu_ms_per_request"] for r in runs]
    }


def _pct(part: dict[str, Any]) -> str:
    return f"{part['code_100422']} ({part['throttled_fraction']:.1%})"


def _overlap_rows(
    alone: dict[str, Any], shared: dict[str, Any], meets: dict[str, bool]
) -> list[list[object]]:
    def both(key: str) -> list[object]:
        return [alone[key], shared[key]]

    wall = [f"{p['wall_s']} s (× {p['wall_over_ideal']})" for p in (alone, shared)]
    trips = shared["redis"]["round_trips_per_request"]
    return [
        ["requests; per distinct room",
         *(f"{p['requests']}; {p['requests_per_room']}" for p in (alone, shared)), "", None],
        ["throttled (100422)", _pct(alone), _pct(shared), "≤ 3",
         meets["shared: code_100422<=3"]],
        ["max arrivals in any 1 s", *both("max_arrivals_1s"), "≤ 20",
         meets["shared: max_arrivals_1s<=20"]],
        ["rooms sent by two runs", *both("rooms_sent_by_two_runs"), "0",
         meets["shared: rooms_sent_by_two_runs==0"]],
        ["rooms not ok", *both("rooms_not_ok"), "0", meets["shared: rooms_not_ok==0"]],
        ["ok answers per second, together", *both("ok_rate"), "≥ 19.0",
         meets["shared: ok_rate>=19.0"]],
        [f"wall time (× the ideal, {shared['ideal_s']} s)", *wall, "", None],
        ["rooms skipped by each run", *(_skipped(p) for p in (alone, shared)), "", None],
        ["client CPU per request (3 runs)",
         *(f"{p['client_cpu_ms_per_request']} ms" for p in (alone, shared)), "", None],
        ["Redis round trips per request", "–", trips, "", None],
    ]  # fmt: skip


def _skipped(part: dict[str, Any]) -> str:
    return ", ".join(str(r["skipped"]) for r in part["runs"])


def _killed_rows(k: dict[str, Any], meets: dict[str, bool]) -> list[list[object]]:
    codes = ", ".join(str(r["exit_code"]) for r in k["runs"])
    busy = k["redis"]["told_by_runs"]
    return [
        ["exit codes (the killed one first)", codes, "0 for the other two",
         meets["killed: the others exit 0"]],
        ["rooms not ok", k["rooms_not_ok"], "0", meets["killed: rooms_not_ok==0"]],
        ["rooms the API received more than once", k["rooms_received_twice"], "≤ 8",
         meets["killed: rooms_received_twice<=8"]],
        ["max arrivals in any 1 s", k["max_arrivals_1s"], "≤ 20",
         meets["killed: max_arrivals_1s<=20"]],
        ["throttled (100422); requests", f"{_pct(k)}; {k['requests']}", "", None],
        ["rooms sent by two runs (by the results logs)", k["rooms_sent_by_two_runs"], "", None],
        ["rooms met busy; leases lost (the two that lived)",
         f"{busy['busy']}; {busy['lost']}", "", None],
        ["ok answers per second; wall time",
         f"{k['ok_rate']}; {k['wall_s']} s (ideal {k['ideal_s']} s)", "", None],
    ]  # fmt: skip


def _app_rows(part: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [
        [app, a["requests"], a["code_100422"], a["max_arrivals_1s"], a["ok_rate"],
         a["share_of_pace"]]
        for app, a in part["apps"].items()
    ]  # fmt: skip
    shares = [a["share_of_pace"] for a in part["apps"].values()]
    rows.append([
        "all", part["requests"], part["code_100422"], f"{part['max_arrivals_1s']} (worst)",
        part["ok_rate"], f"{min(shares)}–{max(shares)}",
    ])  # fmt: skip
    return rows


def _cost_rows(f: dict[str, Any]) -> list[list[object]]:
    names = {
        "cost_alone": f"1 runner, {f['apps']} apps, no Redis",
        "cost_shared": f"1 runner, {f['apps']} apps, `--redis`",
        "alone": "3 runs, 1 app, overlapping, no Redis",
        "shared": "3 runs, 1 app, overlapping, `--redis`",
        "killed": "3 runs, 1 app, one killed, `--redis`",
        "apps": f"3 runs, {f['apps']} apps, `--redis`",
        "plain": "1 run, 1 app, `redis://`",
        "tls": "1 run, 1 app, `rediss://` (a CA of its own)",
    }
    rows: list[list[object]] = []
    for key, name in names.items():
        if key not in f["parts"]:
            continue  # a report from before the part existed
        p = f["parts"][key]
        r = p["redis"]
        if r is None:
            rows.append([name, p["requests"], p["client_cpu_ms_per_request"], "–", "–", "–",
                         "–", "–"])  # fmt: skip
            continue
        by = ", ".join(f"{k} {v}" for k, v in sorted(r["round_trips_by_command"].items()))
        rows.append([
            name, p["requests"], p["client_cpu_ms_per_request"], r["round_trips_per_request"],
            r["redis_calls_per_request"], r["commands_in_scripts_per_request"],
            r["redis_cpu_ms_per_request"], by,
        ])  # fmt: skip
    return rows


SCENARIO = Scenario(name="fleet", measure=measure, render=render)
