"""Scenario 8: several runs, one budget (`resumer run --redis URL --ledger NAME`).

Three `resumer run` processes at once (the real CLI, each under the bench's launcher so its CPU
is its own), against a simulator and a real redis-server of their own (`bench/servers.py`),
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

import json
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import redis

from bench import metrics
from bench.harness import Sim
from bench.plan import BUDGET, PACE, SDKAPPID, Plan, Workspace, room_ids
from bench.scale import bench_apps
from bench.servers import redis_server
from bench.single import write_profile
from bench.tools import BenchApp, ToolRun, last_event, run_resumer

RUNS = 3
LEDGER = "bench-incident"
LATENCY_MS = (20, 120)  # the `clean` profile's replies
THROTTLED_TARGET = 3  # issue 11, done when: at most 3 throttled, three runs together
OK_RATE_TARGET = 19.0  # ok answers per second, three runs together
TWICE_TARGET = 8  # rooms sent twice after a run is killed: what it had in flight
DEADLINE = 240.0  # seconds a run may take (the longest, overlapping without Redis, takes ~80)
# Commands the fleet's Lua scripts run inside Redis: commandstats counts them beside the ones
# clients send, so a round trip is any other command (the few top-level SET, DEL and TIME of a
# heartbeat, a run's end and start are left out with them: a handful per run).
_SCRIPTED = {
    name.lower()
    for script in resources.files("resumer.fleet").iterdir()
    if script.name.endswith(".lua")
    for name in re.findall(r"redis\.call\(\s*'(\w+)'", script.read_text(encoding="utf-8"))
}
_BENCH_COMMANDS = {"info", "config|resetstat"}  # the bench's own reads


def overlapping(rooms: Sequence[str]) -> list[list[str]]:
    """Three lists over `rooms`: the first 2/3, the last 2/3, and all of them."""
    third = len(rooms) // 3
    return [list(rooms[: len(rooms) - third]), list(rooms[third:]), list(rooms)]


class RedisUse:
    """What Redis did between `reset` and `read`, from its own statistics."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._cpu = 0.0

    def reset(self) -> None:
        self._client.config_resetstat()
        self._cpu = _cpu_s(self._client.info("cpu"))

    def read(self, requests: int) -> dict[str, Any]:
        """Round trips (commands from clients) and Redis's CPU, per request to the API."""
        stats = self._client.info("commandstats")
        cpu = _cpu_s(self._client.info("cpu")) - self._cpu
        self._client.close()
        # a call refused before it ran (NOSCRIPT) was a round trip too
        calls = {
            k.removeprefix("cmdstat_"): int(v["calls"]) + int(v.get("rejected_calls", 0))
            for k, v in stats.items()
        }
        sent = {k: n for k, n in calls.items() if k not in _SCRIPTED | _BENCH_COMMANDS}
        per = max(requests, 1)
        return {
            "round_trips": sum(sent.values()),
            "round_trips_per_request": round(sum(sent.values()) / per, 3),
            "round_trips_by_command": sent,
            "commands_in_scripts_per_request": round(
                sum(n for k, n in calls.items() if k in _SCRIPTED) / per, 3
            ),
            "redis_cpu_ms_per_request": round(1000 * cpu / per, 4),
        }


# What each run said it did on Redis at its end (`redis_shared`), summed over the runs
_TOLD = ("redis_calls", "slots", "slots_given_up", "leased", "busy", "final", "lost", "expired")


def _told(folder: Path, runs: int, requests: int) -> dict[str, Any]:
    """The runs' own counts of Redis calls (answered ones), slots, leases, rooms met busy..."""
    events = [last_event(folder / f"run-{n}" / "stderr.jsonl", "redis_shared") for n in range(runs)]
    told = {key: sum(int(e.get(key, 0)) for e in events) for key in _TOLD}
    return {
        "told_by_runs": told,
        "runs_telling": sum(1 for e in events if e),  # a killed run tells nothing
        "redis_calls_per_request": round(told["redis_calls"] / max(requests, 1), 3),
    }


def _cpu_s(info: dict[str, Any]) -> float:
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


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


def _together(
    folder: Path,
    url: str,
    lists: Sequence[Sequence[tuple[int, str]]],
    apps: Sequence[BenchApp],
    *,
    extra: Sequence[str],
    kill_after: float | None,
) -> tuple[list[ToolRun], float]:
    """One `resumer run` per list, all started at once; the first is killed at `kill_after`.

    Returns the runs, and the seconds from their start to the last one's end."""
    with ThreadPoolExecutor(len(lists)) as pool:
        started = time.monotonic()
        futures = [
            pool.submit(
                run_resumer,
                _dir(folder / f"run-{n}"),
                url=url,
                rooms=rooms,
                apps=apps,
                deadline=DEADLINE,
                extra=extra,
                kill_after=kill_after if n == 0 else None,
            )
            for n, rooms in enumerate(lists)
        ]
        runs = [future.result() for future in futures]
    return runs, time.monotonic() - started


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _records(folder: Path, runs: int) -> list[list[dict[str, Any]]]:
    """Each run's results log, as records."""
    logs = []
    for n in range(runs):
        log = folder / f"run-{n}" / "results.jsonl"
        text = log.read_text(encoding="utf-8") if log.exists() else ""
        logs.append([json.loads(line) for line in text.splitlines() if line.strip()])
    return logs


def _by_logs(logs: list[list[dict[str, Any]]]) -> tuple[set[tuple[int, str]], int]:
    """Rooms some run recorded ok, and how many rooms more than one run sent a request for."""
    ok: set[tuple[int, str]] = set()
    senders: dict[tuple[int, str], set[int]] = {}
    for n, records in enumerate(logs):
        for record in records:
            room = (int(record["sdkappid"]), str(record["room_id"]))
            if record["status"] == "ok":
                ok.add(room)
            if record["attempts"]:
                senders.setdefault(room, set()).add(n)
    return ok, sum(1 for runs in senders.values() if len(runs) > 1)


def _part(
    ws: Workspace,
    name: str,
    lists: Sequence[Sequence[tuple[int, str]]],
    *,
    apps: Sequence[BenchApp] | None = None,
    shared: bool,
    ledger: bool = True,
    kill_after: float | None = None,
) -> dict[str, Any]:
    """Run the lists at once (over Redis if `shared`) and gather what every side saw."""
    folder = ws.dir(f"fleet/{name}")
    tool_apps = list(apps) if apps is not None else [BenchApp()]
    with (
        redis_server() as server,
        Sim(write_profile(folder, _profile(apps)), log=folder / "sim.log") as sim,
    ):
        extra = ["--redis", server.url, *(["--ledger", LEDGER] if ledger else [])]
        use = RedisUse(server.url)
        use.reset()
        runs, wall = _together(
            folder,
            sim.url,
            lists,
            tool_apps,
            extra=extra if shared else [],
            kill_after=kill_after,
        )
        stats = sim.get("/stats")["apps"]
        arrivals = {a.sdkappid: sim.arrivals(a.sdkappid) for a in tool_apps}
        requests = sum(int(stats[str(a.sdkappid)]["requests"]) for a in tool_apps)
        redis_figures = use.read(requests) if shared else None
    if redis_figures is not None:
        redis_figures |= _told(folder, len(lists), requests)
    distinct = {room for rooms in lists for room in rooms}
    ok, by_two = _by_logs(_records(folder, len(lists)))
    per_app = {a.sdkappid: _app(stats[str(a.sdkappid)], *arrivals[a.sdkappid]) for a in tool_apps}
    throttled = sum(a["code_100422"] for a in per_app.values())
    accepted = sorted(
        t for times, kinds in arrivals.values() for t, k in zip(times, kinds, strict=True)
        if k == metrics.ACCEPTED
    )  # fmt: skip
    cpu = sum(r.child.cpu_s for r in runs)
    ideal = len(distinct) / (PACE * len(tool_apps))
    figures: dict[str, Any] = {
        "runs": [_run(r) for r in runs],
        "lists": [len(rooms) for rooms in lists],
        "distinct_rooms": len(distinct),
        "requests": requests,
        "requests_per_room": round(requests / max(len(distinct), 1), 3),
        "code_100422": throttled,
        "throttled_fraction": round(throttled / max(requests, 1), 4),
        "max_arrivals_1s": max(a["max_arrivals_1s"] for a in per_app.values()),
        "rooms_sent_by_two_runs": by_two,
        "rooms_received_twice": sum(
            1 for a in tool_apps for sent in stats[str(a.sdkappid)]["rooms"].values() if sent > 1
        ),
        "rooms_not_ok": len(distinct - ok),
        "ok_rate": round(metrics.rate(accepted), 3),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "wall_over_ideal": round(wall / ideal, 3),
        "client_cpu_s": round(cpu, 3),
        "client_cpu_ms_per_request": round(1000 * cpu / max(requests, 1), 3),
        "redis": redis_figures,
    }
    if apps is not None:
        figures["apps"] = {str(k): v for k, v in per_app.items()}
    return figures


def _app(stats: dict[str, Any], times: list[float], kinds: list[str]) -> dict[str, Any]:
    """One app's figures: its peak, its throttles, and its ok rate as a share of the pace."""
    accepted = [t for t, k in zip(times, kinds, strict=True) if k == metrics.ACCEPTED]
    return {
        "requests": int(stats["requests"]),
        "max_arrivals_1s": int(stats["max_arrivals_1s"]),
        "code_100422": int(stats["by_code"].get("100422", 0)),
        "ok_rate": round(metrics.rate(accepted), 3),
        "share_of_pace": round(metrics.rate(accepted) / PACE, 4),
    }


def _run(run: ToolRun) -> dict[str, Any]:
    child = run.child
    return {
        "exit_code": child.exit_code,
        "stopped_at_deadline": child.killed,
        "wall_s": round(child.wall_s, 2),
        "cpu_s": round(child.cpu_s, 3),
        "max_rss_mb": round(child.max_rss_mb, 1),
        "skipped": run.summary.get("skipped"),
    }


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


def fleet(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Scenario 8: the four parts, and the issue's targets."""
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
    parts["cost_alone"] = _part(ws, "cost-alone", everything, apps=apps, shared=False)
    parts["cost_shared"] = _part(ws, "cost-redis", everything, apps=apps, shared=True)
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
        },
    }
