"""Helpers of the end-to-end tests: the real CLI as a subprocess against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resumer.sim.config import SimConfig
from resumer.sim.profiles import DEMO_APPS, DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY


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
    command = [sys.executable, "-m", "resumer", "run", *args, "--log-format", "json"]
    if output:
        command += ["-o", str(log)]
    environment = {**os.environ, "RESUMER_SECRET_KEY": DEMO_SECRET_KEY, **(env or {})}
    done = subprocess.run(
        command,
        input=stdin.encode(),
        capture_output=True,
        env=environment,
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
