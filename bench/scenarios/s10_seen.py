"""Scenario 10: what remembering the rooms costs, in memory and in stalls, now and as before.

A run remembers every room it has seen (to drop duplicates) and, with --resume, every room
final in the log. Now: one set of 64-bit fingerprints for all apps (`resumer.seen`); before:
Python sets of room IDs per app (`bench/probes/plain_sets.py`, run beside it in the same way).

- Memory: `resumer run --dry-run` over 10k and 3M room IDs, at 1 app and at 100 apps, and at
  1 app with --resume over a log that holds every room as final: the growth of peak RSS from
  the small input to the large one, per room.
- Time, in this process: the Router over 3M rooms (100 apps, interleaved as a run's input is;
  and 1 app): CPU per room, the longest single `route` call, and the longest run of BATCH
  calls, which is what the dispatcher routes in one turn of the event loop
  (resumer.engine.dispatch): a stall of the loop that long, felt by every timer. CPU time of
  this thread, collector off, each at the lesser of two passes (see `_route_timing`).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from bench.harness.child import ChildRun, run_child
from bench.harness.plan import IDENTIFIER, Plan, Workspace
from bench.harness.scenario import Scenario
from bench.harness.tomltext import toml_text
from bench.harness.tools import BenchApp, bench_apps
from bench.markdown import cell, table
from bench.probes.plain_sets import PlainRouter
from resumer.engine.handover import BATCH
from resumer.engine.routing import Router
from resumer.records import Room

BYTES_TARGET = 40  # per room at 3M rooms, peak RSS growth
STALL_TARGET_MS = 5.0
LAUNCHERS = {"now": ("-m", "resumer"), "before": ("-m", "bench.probes.plain_sets")}
ROUTERS: dict[str, Callable[[list[int]], Router]] = {"now": Router, "before": PlainRouter}


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """Memory per room (dry runs) and routing's cost and stalls, now and before."""
    load_before = os.getloadavg()
    memory = {
        f"{apps} app{'s' if apps > 1 else ''}{', --resume' if resume else ''}": _memory(
            ws, plan.seen_sizes, apps, resume=resume
        )
        for apps, resume in ((1, False), (100, False), (1, True))
    }
    timing = {
        f"{apps} app{'s' if apps > 1 else ''}": {
            code: _route_timing(make, apps, plan.seen_sizes[-1]) for code, make in ROUTERS.items()
        }
        for apps in (100, 1)
    }
    now_bytes = [row["now"]["bytes_per_room"] for row in memory.values()]
    now_stalls = [row["now"]["max_call_ms"] for row in timing.values()]
    return {
        "sizes": list(plan.seen_sizes),
        "room_id_format": "live_00000001 (13 bytes)",
        "batch": BATCH,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "memory": memory,
        "timing": timing,
        "meets": {
            f"bytes_per_room<={BYTES_TARGET}": max(now_bytes) <= BYTES_TARGET,
            f"max_call_ms<={STALL_TARGET_MS:g}": max(now_stalls) <= STALL_TARGET_MS,
        },
    }


def _memory(
    ws: Workspace, sizes: tuple[int, int], apps: int, *, resume: bool
) -> dict[str, dict[str, Any]]:
    """Both codes' dry runs at both sizes; bytes per room of the growth between them."""
    folder = ws.dir(f"seen/{apps}-apps{'-resume' if resume else ''}")
    config = _config(folder, apps)
    row: dict[str, dict[str, Any]] = {}
    for code, launcher in LAUNCHERS.items():
        runs = []
        for size in sizes:
            rooms = _input(folder, size, apps)
            log = _final_log(folder, size, apps) if resume else None
            child = _dry_run(folder, launcher, config, rooms, log, name=f"{code}-{size}")
            runs.append((size, child))
        (low, small), (high, large) = runs
        growth = (large.max_rss_mb - small.max_rss_mb) * 2**20 / (high - low)
        row[code] = {
            "max_rss_mb": [round(small.max_rss_mb, 1), round(large.max_rss_mb, 1)],
            "wall_s": [round(small.wall_s, 2), round(large.wall_s, 2)],
            "cpu_s": [round(small.cpu_s, 2), round(large.cpu_s, 2)],
            "exit_codes": [small.exit_code, large.exit_code],
            "bytes_per_room": round(growth, 1),
        }
    return row


def _room_ids(size: int, apps: int) -> Iterator[tuple[int, str]]:
    """(sdkappid, room ID) for `size` rooms over `apps` apps, interleaved as in a scale step."""
    sdkappids = [a.sdkappid for a in bench_apps(apps)]
    for n in range(size):
        yield sdkappids[n % apps], f"live_{n // apps + 1:08d}"


def _input(folder: Path, size: int, apps: int) -> Path:
    path = folder / f"rooms-{size}.txt"
    if not path.exists():
        with open(path, "w", encoding="utf-8") as out:
            for sdkappid, room in _room_ids(size, apps):
                out.write(
                    f"{room}\n" if apps == 1 else f'{{"RoomId":"{room}","sdkappid":{sdkappid}}}\n'
                )
    return path


def _final_log(folder: Path, size: int, apps: int) -> Path:
    """A results log holding every room of the input as `ok` (the least a record needs)."""
    path = folder / f"results-{size}.jsonl"
    if not path.exists():
        with open(path, "w", encoding="utf-8") as out:
            for sdkappid, room in _room_ids(size, apps):
                out.write(f'{{"sdkappid":{sdkappid},"room_id":"{room}","status":"ok"}}\n')
    return path


def _config(folder: Path, apps: int) -> Path:
    path = folder / "config.toml"
    table = {
        "endpoint": "http://127.0.0.1:9",
        "apps": [
            {"sdkappid": a.sdkappid, "identifier": IDENTIFIER, "secret_key_env": _key_env(a)}
            for a in bench_apps(apps)
        ],
    }
    path.write_text(toml_text(table))
    return path


def _key_env(app: BenchApp) -> str:
    return f"BENCH_KEY_{app.sdkappid}"


def _dry_run(
    folder: Path,
    launcher: tuple[str, ...],
    config: Path,
    rooms: Path,
    log: Path | None,
    *,
    name: str,
) -> ChildRun:
    resume = ("-o", str(log), "--resume") if log else ()
    return run_child(
        [sys.executable, *launcher, "run", "--dry-run", "-c", str(config), str(rooms), *resume],
        stdout=folder / f"dry-run-{name}.txt",
        stderr=folder / f"dry-run-{name}.err",
        env={_key_env(a): a.secret_key for a in bench_apps(100)},
        deadline=1200,
    )


def _route_timing(make: Callable[[list[int]], Router], apps: int, size: int) -> dict[str, Any]:
    """A Router over `size` rooms: CPU per room, the longest batch, the longest call.

    Timed in this thread's CPU time with the garbage collector off (a collection's pause is
    not the sets' doing; resumer tunes those apart: cli._tune_gc). Each way of timing runs
    twice, with a new Router each time, and each batch or call counts at the lesser of its
    two times: a stall of the structure's own comes back at the same room in every pass, a
    slice the shared machine took (steal time shows as this thread's) does not.
    """
    sdkappids = [a.sdkappid for a in bench_apps(apps)]
    gc.disable()
    try:
        batches = _least(*(_timed(make(sdkappids), size, apps, each=False) for _ in range(2)))
        calls = _least(*(_timed(make(sdkappids), size, apps, each=True) for _ in range(2)))
    finally:
        gc.enable()
    gc.collect()
    return {
        "rooms": size,
        "ns_per_room": round(sum(batches) / size),
        "max_batch_ms": round(max(batches) / 1e6, 2),
        "max_call_ms": round(max(calls) / 1e6, 2),
    }


def _timed(router: Router, size: int, apps: int, *, each: bool) -> array[int]:
    """The CPU ns of every batch, or of every call (the clock costs about as much as a call)."""
    clock = time.thread_time_ns
    times = array("Q")
    for batch in _batches(size, apps):
        if each:
            for entry in batch:
                began = clock()
                router.route(entry)
                times.append(clock() - began)
        else:
            began = clock()
            for entry in batch:
                router.route(entry)
            times.append(clock() - began)
    return times


def _least(first: array[int], second: array[int]) -> array[int]:
    return array("Q", map(min, first, second))


def _batches(size: int, apps: int) -> Iterator[list[Room]]:
    """The rooms in lists of BATCH, made before they are timed."""
    rooms = _room_ids(size, apps)
    while batch := [Room(room_id=r, sdkappid=s) for s, r in islice(rooms, BATCH)]:
        yield batch


def render(s: dict[str, Any]) -> str:
    """Section 10 of RESULTS.md, from these figures."""
    small, large = s["sizes"]
    memory = [
        [
            case,
            f"{row['now']['bytes_per_room']} / {row['before']['bytes_per_room']}",
            f"{row['now']['max_rss_mb'][1]} / {row['before']['max_rss_mb'][1]}",
            f"{row['now']['cpu_s'][1]} / {row['before']['cpu_s'][1]}",
        ]
        for case, row in s["memory"].items()
    ]
    timing = [
        [
            case,
            f"{row['now']['ns_per_room']} / {row['before']['ns_per_room']}",
            f"{row['now']['max_call_ms']} / {row['before']['max_call_ms']}",
            f"{row['now']['max_batch_ms']} / {row['before']['max_batch_ms']}",
        ]
        for case, row in s["timing"].items()
    ]
    targets = "; ".join(f"{k}: {cell(v)}" for k, v in s["meets"].items())
    load = f"{s['load_before']} before, {s['load_after']} after"
    return "\n".join(
        [
            "## 10. Remembering the rooms: fingerprints now / Python sets before",
            "",
            f"`resumer run --dry-run` over {small:,} and {large:,} room IDs like "
            f"{s['room_id_format']}; each cell: as shipped (`resumer.seen`) / with the sets of "
            "before (`bench/probes/plain_sets.py`). Bytes per room: peak RSS growth from the "
            "small input to the large one, per room.",
            "",
            table(["input", "bytes per room", f"peak RSS MB at {large:,}", "CPU s"], memory),
            "",
            f"The Router alone, in the bench's process, over {large:,} rooms (interleaved over "
            f"the apps as a run's input is): CPU per room, the longest `route` call, and the "
            f"longest {s['batch']} calls in a row (what the dispatcher routes in one turn of "
            "the event loop: a stall that long). The thread's CPU time, the garbage collector "
            "off, each call and batch at the lesser of two passes: the structures' own cost, "
            "not the machine's other jobs' nor a collection's.",
            "",
            table(["apps", "ns per room", "longest call ms", f"longest {s['batch']} ms"], timing),
            "",
            f"Targets: {targets}. Load average (1, 5, 15 min): {load}.",
        ]
    )


SCENARIO = Scenario(name="seen", measure=measure, render=render)
