"""`--resume` with `--redis`: the rooms the results log holds final, recorded again in the
ledgers this run writes before its first claim, so that a run resumed beside it skips them.

Why: a Redis that lost its state (see fleet.generation) lost the ledgers with it. Runs that
stopped on the wipe and are resumed together, each from its own log, would otherwise each send
again every room only the other's log holds final. Each resumed run now records its log's final
rooms in the overlap ledger "-" and in its `--ledger`, if it has one, as `release.lua` records a
room (the same `STATUS TIME_US` entry, counts twin and TTLs), stamped with Redis's time now: a
claim by any run alive meanwhile finds them FINAL.

Stamped after this run's heartbeat is up (fleet.sharing): a run that starts and does not see
that heartbeat took its start time before it was written, so before these stamps, and honours
them; one that sees it honours "-" from this run's start on anyway.

Streamed: the log is read a line at a time, and at most BATCH rooms wait for Redis at once,
sent as one script call per app (each call touches one app's keys: Redis Cluster). What is
kept besides is one fingerprint per room (resumer.seen), to count the rooms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from resumer.fleet import keys
from resumer.fleet.link import Link, lua
from resumer.records import Status
from resumer.seen import SeenRooms, tag

BATCH = 1000  # rooms held before they are sent: one call per app, each at most this many


async def republish(
    link: Link,
    finished: Iterable[tuple[int, str, Status]],
    *,
    sdkappids: Sequence[int],
    ledger: str,
    overlap: str,
    ledger_ttl_ms: str,
    overlap_ttl_ms: str,
    batch: int = BATCH,
) -> int:
    """Record `finished` (sdkappid, room_id, final status) in `ledger` and `overlap`; the
    number of rooms recorded. Rooms of apps this run does not do are left out.

    A Redis error is raised as it is: the caller says what it means (at the start, a refusal).
    """
    script = link.script(lua("ledger.lua") + lua("republish.lua"))
    apps = set(sdkappids)
    waiting: dict[int, list[str]] = {}  # sdkappid -> room, status, room, status, ...
    held = 0
    rooms = SeenRooms()

    async def send() -> None:
        nonlocal held
        calls = [
            script(
                keys=[
                    keys.ledger(sdkappid, ledger),
                    keys.ledger_counts(sdkappid, ledger),
                    keys.ledger(sdkappid, overlap),
                    keys.ledger_counts(sdkappid, overlap),
                ],
                args=[ledger_ttl_ms, overlap_ttl_ms, *pairs],
                client=link.redis,
            )
            for sdkappid, pairs in waiting.items()
        ]
        waiting.clear()
        held = 0
        # Every call is waited for, failed or not, before the first failure is raised.
        for answer in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(answer, BaseException):
                raise answer

    for sdkappid, room_id, status in finished:
        if sdkappid not in apps:
            continue
        waiting.setdefault(sdkappid, []).extend((room_id, status.value))
        rooms.add(tag(sdkappid), room_id)
        held += 1
        if held >= batch:
            await send()
    if held:
        await send()
    return len(rooms)
