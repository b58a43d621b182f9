"""Helpers of the end-to-end tests: the real CLI as a subprocess against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resumer.sim.config import SimConfig
from resumer.sim.profiles import DEMO_APPS, DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY

DEADLINE = 60.0  # seconds any poll waits before the test fails


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of the CLI did: exit code, stderr, and the results log's records."""

    code: int
    stderr: str
    records: list[dict[str, Any]]

    def by_room(self) -> dict[str, dict[str, Any]]:
        return {r["room_id"]: r for r in self.records}

    def statuses(self) -> dict[str, str]:
        return {r["room_id"]: r["status"] for r in self.records}


def sim_config(**changes: Any) -> SimConfig:
    """The demo apps, no latency, with `changes`."""
    return SimConfig(apps=DEMO_APPS, **changes)


def resumer(
    *args: str,
    tmp: Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
    output: bool = True,
    timeout: float = 120,
) -> Outcome:
    """Run `python -m resumer run ...` with the demo app's key; collect the results log."""
    log = tmp / "results.jsonl"
    command = cli_command(*args, *(["-o", str(log)] if output else []))
    done = subprocess.run(
        command,
        input=stdin.encode(),
        capture_output=True,
        env={**cli_env(), **(env or {})},
        timeout=timeout,
        check=False,
    )
    text = log.read_text(encoding="utf-8") if output and log.exists() else done.stdout.decode()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return Outcome(code=done.returncode, stderr=done.stderr.decode(), records=records)


def app_flags(url: str, sdkappid: int = DEMO_SDKAPPID) -> list[str]:
    """Flags for one app against the simulator at `url`."""
    return ["--sdkappid", str(sdkappid), "--identifier", DEMO_IDENTIFIER, "--endpoint", url]


def room_lines(count: int, prefix: str = "room") -> str:
    return "".join(f"{prefix}-{i}\n" for i in range(count))


def app_stats(stats: dict[str, Any], sdkappid: int = DEMO_SDKAPPID) -> dict[str, Any]:
    result: dict[str, Any] = stats["apps"][str(sdkappid)]
    return result


def cli_command(*args: str) -> list[str]:
    """`python -m resumer run ARGS` with JSON logs."""
    return [sys.executable, "-m", "resumer", "run", *args, "--log-format", "json"]


def cli_env() -> dict[str, str]:
    """The environment with the demo app's secret key."""
    return {**os.environ, "RESUMER_SECRET_KEY": DEMO_SECRET_KEY}


def start_cli(args: list[str], stderr: Path) -> subprocess.Popen[bytes]:
    """Start the CLI in the background; its stderr goes to a file (a pipe could fill up)."""
    with stderr.open("wb") as err:
        return subprocess.Popen(
            cli_command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=cli_env(),
        )


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end, with no input on stdin; its output as text."""
    return subprocess.run(
        cli_command(*args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )


def poll(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Return once `condition()` holds; fail if the deadline passes or `process` ends first."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert process.poll() is None, f"the run ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE:g} s"
        time.sleep(0.05)


def read_log(log: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a results log, and the lines that are not JSON (torn ones)."""
    records: list[dict[str, Any]] = []
    torn: list[str] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            torn.append(line)
    return records, torn


def ok_rooms(records: list[dict[str, Any]]) -> list[str]:
    """The rooms of the ok records, in the log's order."""
    return [r["room_id"] for r in records if r["status"] == "ok"]


def all_rooms(count: int) -> set[str]:
    """The rooms of `room_lines(count)`."""
    return {f"room-{i}" for i in range(count)}
