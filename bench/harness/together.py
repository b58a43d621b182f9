"""Several `resumer run` processes at once, one simulator, one redis-server: what each saw.

Scenario 8's parts. Who sent a room is read from each run's results log (a record with
attempts > 0); what the API saw from the simulator (requests per room, arrivals, answers);
what Redis did from its own statistics (`redis_use`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import arrivals
from bench.harness.observe import write_profile
from bench.harness.plan import PACE
from bench.harness.redis_use import RedisUse, told
from bench.harness.servers import RedisServer, free_port, redis_server, tls_files, tls_flags
from bench.harness.sim import Sim
from bench.harness.tools import BenchApp, ToolRun, run_resumer
from resumer.records import Status
from resumer.results.schema import Fields, fields_of

DEADLINE = 240.0  # seconds a run may take (the longest, overlapping without Redis, takes ~80)


def together(
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


def records(folder: Path, runs: int) -> list[list[Fields]]:
    """Each run's results log, as records (through the log's own decoder)."""
    logs = []
    for n in range(runs):
        log = folder / f"run-{n}" / "results.jsonl"
        lines = log.read_bytes().splitlines() if log.exists() else []
        logs.append([f for line in lines if line.strip() and (f := fields_of(line)) is not None])
    return logs


def by_logs(logs: list[list[Fields]]) -> tuple[set[tuple[int, str]], int]:
    """Rooms some run recorded ok, and how many rooms more than one run sent a request for."""
    ok: set[tuple[int, str]] = set()
    senders: dict[tuple[int, str], set[int]] = {}
    for n, records in enumerate(logs):
        for _ts, sdkappid, room_id, status, *_, attempts, _elapsed in records:
            room = (int(sdkappid or 0), room_id)
            if status is Status.OK:
                ok.add(room)
            if attempts:
                senders.setdefault(room, set()).add(n)
    return ok, sum(1 for runs in senders.values() if len(runs) > 1)


def run_figures(run: ToolRun) -> dict[str, Any]:
    """One run's exit, cost, and the rooms it skipped (another run had them)."""
    child = run.child
    return {
        "exit_code": child.exit_code,
        "stopped_at_deadline": child.killed,
        "wall_s": round(child.wall_s, 2),
        "cpu_s": round(child.cpu_s, 3),
        "max_rss_mb": round(child.max_rss_mb, 1),
        "skipped": run.summary.get("skipped"),
    }


def part(
    folder: Path,
    lists: Sequence[Sequence[tuple[int, str]]],
    *,
    profile: Mapping[str, Any],
    apps: Sequence[BenchApp] | None = None,
    shared: bool,
    ledger: str | None,
    kill_after: float | None = None,
    tls: bool = False,
) -> dict[str, Any]:
    """Run the lists at once against a fresh simulator of `profile` and a fresh redis-server
    (over it if `shared`, with `--ledger` if `ledger`; through `rediss://` if `tls`) and gather
    what every side saw.

    `apps`: those of `profile`, each run with all of them (default: the demo app alone).
    """
    tool_apps = list(apps) if apps is not None else [BenchApp()]
    with (
        _redis(folder, tls=tls) as (server, url),
        Sim(write_profile(folder, profile), log=folder / "sim.log") as sim,
    ):
        extra = ["--redis", url, *(["--ledger", ledger] if ledger else [])]
        use = RedisUse(server.url)
        use.reset()
        runs, wall = together(
            folder,
            sim.url,
            lists,
            tool_apps,
            extra=extra if shared else [],
            kill_after=kill_after,
        )
        stats = sim.get("/stats")["apps"]
        arrived = {a.sdkappid: sim.arrivals(a.sdkappid) for a in tool_apps}
        requests = sum(int(stats[str(a.sdkappid)]["requests"]) for a in tool_apps)
        redis_figures = use.read(requests) if shared else None
    if redis_figures is not None:
        redis_figures |= told(folder, len(lists), requests)
    distinct = {room for rooms in lists for room in rooms}
    ok, by_two = by_logs(records(folder, len(lists)))
    per_app = {a.sdkappid: _app(stats[str(a.sdkappid)], *arrived[a.sdkappid]) for a in tool_apps}
    throttled = sum(a["code_100422"] for a in per_app.values())
    accepted = sorted(
        t for times, kinds in arrived.values() for t, k in zip(times, kinds, strict=True)
        if k == arrivals.ACCEPTED
    )  # fmt: skip
    cpu = sum(r.child.cpu_s for r in runs)
    ideal = len(distinct) / (PACE * len(tool_apps))
    figures: dict[str, Any] = {
        "runs": [run_figures(r) for r in runs],
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
        "ok_rate": round(arrivals.rate(accepted), 3),
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


@contextmanager
def _redis(folder: Path, *, tls: bool) -> Iterator[tuple[RedisServer, str]]:
    """A fresh redis-server and the URL the runs name it by: plain, or `rediss://` verified
    with a CA of its own (its plain port stays open for the bench's own INFO)."""
    if not tls:
        with redis_server() as server:
            yield server, server.url
        return
    files = tls_files(_dir(folder / "certs"))
    port = free_port()
    with redis_server(tls_flags(files, port)) as server:
        yield server, f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={files['ca']}"


def _app(stats: dict[str, Any], times: list[float], kinds: list[str]) -> dict[str, Any]:
    """One app's figures: its peak, its throttles, and its ok rate as a share of the pace."""
    accepted = [t for t, k in zip(times, kinds, strict=True) if k == arrivals.ACCEPTED]
    return {
        "requests": int(stats["requests"]),
        "max_arrivals_1s": int(stats["max_arrivals_1s"]),
        "code_100422": int(stats["by_code"].get("100422", 0)),
        "ok_rate": round(arrivals.rate(accepted), 3),
        "share_of_pace": round(arrivals.rate(accepted) / PACE, 4),
    }
