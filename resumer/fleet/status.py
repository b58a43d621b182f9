"""`resumer status`: what the runs on one Redis are doing, read from the keys they keep there.

Read-only: it writes nothing and takes no lease, so it is safe to run at any time, as often as
anyone likes, beside runs in progress.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis

from resumer.fleet import keys
from resumer.fleet.link import time_us
from resumer.fleet.reserve import EPOCH, LIVE, US
from resumer.pace.pacing import START_COVER

SCAN_COUNT = 1000  # keys asked for per SCAN step


@dataclass(frozen=True, slots=True)
class Runner:
    """One live run, from its heartbeat."""

    runner: str
    host: str
    pid: int
    apps: list[int]
    started: float  # Unix time
    seen: float  # Unix time of its last heartbeat


@dataclass(frozen=True, slots=True)
class AppState:
    """One app's shared state."""

    sdkappid: int
    sent_last_second: int  # sends the fleet booked in the last second: its rate now
    cut_rate: float | None  # the rate of the last fleet-wide cut, if one is remembered
    cut_ago: float | None  # seconds since that cut
    margin: float  # the part of the budget left for arrival jitter, as last learned
    line: float | None  # the app's shared line: the lowest rate its live runners asked for
    asked: dict[str, float]  # runner -> the rate it asked for (--rate), runners heard lately
    leases: int  # rooms in flight, leased by some run
    ledgers: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> status -> rooms


@dataclass(frozen=True, slots=True)
class FleetState:
    """Everything `resumer status` shows."""

    redis: str
    runners: list[Runner]
    apps: list[AppState]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def read_status(client: aioredis.Redis, *, shown_url: str) -> FleetState:
    """Read the runs' heartbeats and every app's shared state."""
    runners = await _runners(client)
    sdkappids = {int(a) for a in await client.smembers(keys.APPS)}
    sdkappids.update(app for runner in runners for app in runner.apps)
    now = await time_us(client) - EPOCH * US  # as the budget's keys count time
    apps = [await _app(client, sdkappid, now) for sdkappid in sorted(sdkappids)]
    return FleetState(redis=shown_url, runners=runners, apps=apps)


async def _runners(client: aioredis.Redis) -> list[Runner]:
    names = [k async for k in client.scan_iter(match=keys.RUNNERS + "*", count=SCAN_COUNT)]
    beats = await client.mget(names) if names else []
    runners = []
    for beat in beats:
        if beat is None:  # expired between the SCAN and the MGET: gone
            continue
        data = json.loads(beat)
        runners.append(
            Runner(
                runner=str(data["runner"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                apps=[int(a) for a in data["apps"]],
                started=float(data["started"]),
                seen=float(data.get("seen", data["started"])),
            )
        )
    return sorted(runners, key=lambda r: r.started)


async def _app(client: aioredis.Redis, sdkappid: int, now: int) -> AppState:
    sent = await client.zcount(keys.sends(sdkappid), f"({now - US}", now)
    rate_max, cut_at, cover = await client.hmget(
        keys.rate(sdkappid), ["rate_max", "cut_at", "cover"]
    )
    jitter = START_COVER if cover is None else float(cover)  # as widened last (not shrunk since)
    asked: dict[str, float] = {}
    for member in await client.zrangebyscore(keys.asked(sdkappid), now - round(LIVE * US), "+inf"):
        rate, _, runner = _text(cast("bytes | str", member)).partition(" ")
        asked[runner] = min(float(rate), asked.get(runner, float(rate)))
    leases = 0
    async for _ in client.scan_iter(match=_glob(keys.lease(sdkappid, "")) + "*", count=SCAN_COUNT):
        leases += 1
    ledgers: dict[str, dict[str, int]] = {}
    prefix = keys.ledger_counts(sdkappid, "")
    async for key in client.scan_iter(match=_glob(prefix) + "*", count=SCAN_COUNT):
        counts = await client.hgetall(key)
        name = _text(key)[len(prefix) :]
        ledgers[name] = {_text(k): int(v) for k, v in sorted(counts.items()) if int(v)}
    return AppState(
        sdkappid=sdkappid,
        sent_last_second=int(sent),
        cut_rate=None if rate_max is None else round(float(rate_max), 2),
        cut_ago=None if cut_at is None else round((now - int(cut_at)) / US, 1),
        margin=round(jitter / (1 + jitter), 4),
        line=min(asked.values(), default=None),
        asked=dict(sorted(asked.items())),
        leases=leases,
        ledgers=dict(sorted(ledgers.items())),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob(text: str) -> str:
    """`text` with SCAN's pattern characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
