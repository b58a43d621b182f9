"""What Redis did for a part of the fleet scenario: its own statistics, and the runs' count.

Round trips are the commands clients sent (INFO commandstats, less the ones the fleet's Lua
scripts run inside Redis and the bench's own reads); Redis's CPU is from INFO cpu. Each run
also says at its end (`redis_shared`) how many calls Redis answered it, slots, leases...
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import redis

from bench.harness.tools import last_event

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
# What each run said it did on Redis at its end (`redis_shared`), summed over the runs
_TOLD = ("redis_calls", "slots", "slots_given_up", "leased", "busy", "final", "lost", "expired")


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


_TOLD = ("redis_calls", "slots", "slots_given_up", "leased", "busy", "final", "lost", "expired")


def told(folder: Path, runs: int, requests: int) -> dict[str, Any]:
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
