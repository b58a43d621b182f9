"""The tools under test, each run as a child process against a simulator's URL.

resumer runs through its real CLI; the two baselines are the scripts in `bench/baselines/`.
Each gives a `ToolRun`: what the process cost and how many rooms it ended `ok`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.child import ChildRun, run_child
from bench.harness.plan import IDENTIFIER, SDKAPPID, SECRET_KEY
from bench.harness.tomltext import toml_text
from resumer.api.usersig import make_usersig

BASELINES = Path(__file__).resolve().parent.parent / "baselines"
FIRST_SDKAPPID = 1500000001  # the apps of the runs with many (`bench_apps`)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchApp:
    """An app known to both the simulator and the tool."""

    sdkappid: int = SDKAPPID
    secret_key: str = SECRET_KEY


def bench_apps(count: int) -> list[BenchApp]:
    """`count` apps, each with its own secret key."""
    return [
        BenchApp(sdkappid=FIRST_SDKAPPID + n, secret_key=f"bench-secret-key-{n}")
        for n in range(count)
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolRun:
    """What one tool did: its process, and the rooms it left ok and not ok."""

    child: ChildRun
    rooms_ok: int
    rooms_not_ok: int
    summary: dict[str, Any] = field(default_factory=dict)  # resumer's run_finished event


def run_resumer(
    folder: Path,
    *,
    url: str,
    rooms: Sequence[tuple[int, str]],
    apps: Sequence[BenchApp] = (BenchApp(),),
    deadline: float = 600.0,
    launcher: Sequence[str] = ("-m", "resumer"),
    extra: Sequence[str] = (),
    kill_after: float | None = None,
) -> ToolRun:
    """`python -m resumer run -c config.toml rooms.txt -o results.jsonl` over (sdkappid, room).

    `launcher` is what follows `python`: a profiler can be put in front of `-m resumer`.
    `extra` are more options of `resumer run`, such as `--metrics HOST:PORT`. `kill_after`:
    SIGKILL resumer that many seconds in.
    """
    config = folder / "config.toml"
    config.write_text(
        toml_text(
            {
                "endpoint": url,
                "apps": [
                    {
                        "sdkappid": app.sdkappid,
                        "identifier": IDENTIFIER,
                        "secret_key_env": f"BENCH_KEY_{app.sdkappid}",
                    }
                    for app in apps
                ],
            }
        )
    )
    rooms_file = folder / "rooms.txt"
    write_rooms(rooms_file, rooms, plain=len(apps) == 1)
    results = folder / "results.jsonl"
    results.unlink(missing_ok=True)
    child = run_child(
        [
            sys.executable,
            *launcher,
            *("run", "-c", str(config), str(rooms_file), "-o", str(results)),
            *("--log-format", "json", "--no-progress", *extra),
        ],
        stdout=folder / "stdout.txt",
        stderr=folder / "stderr.jsonl",
        env={f"BENCH_KEY_{app.sdkappid}": app.secret_key for app in apps},
        deadline=deadline,
        kill_tool_after=kill_after,
    )
    ok = set()
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["status"] == "ok":
                ok.add((record["sdkappid"], record["room_id"]))
    wanted = set(rooms)
    return ToolRun(
        child=child,
        rooms_ok=len(ok & wanted),
        rooms_not_ok=len(wanted - ok),
        summary=last_event(folder / "stderr.jsonl", "run_finished"),
    )


def dry_run(folder: Path, *, rooms_file: Path) -> ChildRun:
    """`resumer run --dry-run` over a file of room IDs: reads and checks, sends nothing."""
    return run_child(
        [
            *(sys.executable, "-m", "resumer", "run", "--dry-run", str(rooms_file)),
            *("--sdkappid", str(SDKAPPID), "--identifier", IDENTIFIER),
            *("--endpoint", "http://127.0.0.1:9", "--log-format", "json"),
        ],
        stdout=folder / f"dry-run-{rooms_file.stem}.txt",
        stderr=folder / f"dry-run-{rooms_file.stem}.err",
        env={"RESUMER_SECRET_KEY": SECRET_KEY},
    )


def run_baseline(
    folder: Path, script: str, *, url: str, rooms: Sequence[str], deadline: float
) -> ToolRun:
    """A baseline script of `bench/baselines/` (".sh": bash, ".py": Python) over `rooms`."""
    rooms_file = folder / "rooms.txt"
    write_rooms(rooms_file, [(SDKAPPID, r) for r in rooms], plain=True)
    usersig = make_usersig(
        sdkappid=SDKAPPID, identifier=IDENTIFIER, secret_key=SECRET_KEY, now=int(time.time())
    )
    path = BASELINES / script
    command = ["bash", str(path)] if script.endswith(".sh") else [sys.executable, str(path)]
    child = run_child(
        command,
        stdin=rooms_file,
        stdout=folder / "stdout.tsv",
        stderr=folder / "stderr.txt",
        env={"ENDPOINT": url, "SDKAPPID": str(SDKAPPID), "IDENTIFIER": IDENTIFIER}
        | {"USERSIG": usersig},
        deadline=deadline,
    )
    ok = _baseline_ok(folder / "stdout.tsv") & set(rooms)
    return ToolRun(child=child, rooms_ok=len(ok), rooms_not_ok=len(set(rooms) - ok))


def write_rooms(path: Path, rooms: Sequence[tuple[int, str]], *, plain: bool) -> None:
    """One room per line: the bare ID for one app, else a JSON line naming the app."""
    with open(path, "w", encoding="utf-8") as out:
        for sdkappid, room in rooms:
            if plain:
                out.write(f"{room}\n")
            else:
                out.write(json.dumps({"RoomId": room, "sdkappid": sdkappid}) + "\n")


def _baseline_ok(stdout: Path) -> set[str]:
    """Rooms whose last printed line says ok: "ok", or a reply with ErrorCode 0."""
    last: dict[str, bool] = {}
    for line in stdout.read_text(encoding="utf-8", errors="replace").splitlines():
        room, tab, reply = line.partition("\t")
        if tab:
            last[room] = reply == "ok" or _error_code(reply) == 0
    return {room for room, ok in last.items() if ok}


def _error_code(reply: str) -> object:
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    return data.get("ErrorCode") if isinstance(data, dict) else None


def last_event(log: Path, name: str) -> dict[str, Any]:
    """The last JSON log event called `name` in resumer's stderr, or {}."""
    found: dict[str, Any] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("event") == name:
                    found = event
    return found
