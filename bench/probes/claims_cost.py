"""What a room's claim costs on Redis: `python -m bench.probes.claims_cost [ROOMS]`.

Against a real redis-server of its own (as the tests start it), one process:
0. floor: sequential PINGs, before and after the burst: what redis-py costs per round trip.
1. burst: ROOMS rooms of one app claimed and released (ok) 50 at a time, as fast as Redis
   answers: the client's CPU µs per claim + release, and Redis's commands per room (from INFO
   commandstats, so a NOSCRIPT reload or a retry would show).
2. paced: 200 rooms at 20/s, each held 0.5 s (a request) with the renewal task running at its
   default period: round trips per room, renewals amortised.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench.harness.servers import redis_server
from resumer.engine.sharing import Hold
from resumer.errors import RedisLostError
from resumer.fleet.claims import RoomClaims
from resumer.fleet.link import Link
from resumer.records import Result, Status

APP = 1400000001
IN_FLIGHT = 50
PACED_ROOMS = 200
RATE = 20.0
HOLD = 0.5


async def stats(link: Link) -> dict[str, int]:
    """Commands Redis served so far, by name, from INFO commandstats."""
    info = await link.redis.info("commandstats")
    counts: dict[str, int] = {}
    for name, stat in info.items():
        counts[name.removeprefix("cmdstat_")] = int(stat["calls"])
        counts["usec:" + name.removeprefix("cmdstat_")] = int(stat["usec"])
    return counts


TOP_LEVEL = ("evalsha", "eval", "script|load", "hello", "ping", "client|setinfo")


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def show(used: dict[str, int], rooms: int) -> None:
    """Round trips (commands the client sent) and the commands the scripts ran, per room."""
    used.pop("info", None)
    used.pop("usec:info", None)
    usec = {k[5:]: used.pop(k) for k in list(used) if k.startswith("usec:")}
    top = sum(v for k, v in usec.items() if k in TOP_LEVEL)  # a script's usec holds its commands'
    print(f"  Redis time per room in commands sent (commandstats usec): {top / rooms:.1f} µs")
    sent = {k: v for k, v in used.items() if k in TOP_LEVEL}
    inside = {k: v for k, v in used.items() if k not in TOP_LEVEL}
    print(f"  round trips per room: {sum(sent.values()) / rooms:.3f} {sent}")
    print(f"  commands in scripts per room: {sum(inside.values()) / rooms:.2f} {inside}")


async def burst(link: Link, rooms: int, prefix: str) -> None:
    claims = RoomClaims(link, ledger="bench", ledger_ttl=3600)
    ok = Status.OK

    async def one(room: str) -> None:
        claim = await claims.claim(APP, room, asyncio.sleep)
        assert claim.hold is Hold.LEASED
        await claims.release(APP, room, claim, Result(ts="", sdkappid=APP, room_id=room, status=ok))

    before = await stats(link)
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, rooms, IN_FLIGHT):
        await asyncio.gather(
            *(one(f"{prefix}{n}") for n in range(start, min(start + IN_FLIGHT, rooms)))
        )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    used = delta(await stats(link), before)
    print(f"burst: {rooms} rooms, {IN_FLIGHT} in flight, {wall:.2f} s wall")
    print(f"  client CPU per claim+release: {cpu / rooms * 1e6:.0f} µs")
    show(used, rooms)


async def floor(link: Link, count: int) -> None:
    """redis-py's own cost: sequential PINGs, the least a round trip costs the client."""
    cpu = time.process_time()
    for _ in range(count):
        await link.redis.ping()
    each = (time.process_time() - cpu) / count * 1e6
    print(f"floor: client CPU per PING (redis-py alone): {each:.0f} µs")


async def paced(link: Link) -> None:
    claims = RoomClaims(link, ledger=None, ledger_ttl=3600)
    claims.start()
    before = await stats(link)

    async def one(room: str) -> None:
        claim = await claims.claim(APP, room, asyncio.sleep)
        await asyncio.sleep(HOLD)
        result = Result(ts="", sdkappid=APP, room_id=room, status=Status.OK)
        await claims.release(APP, room, claim, result)

    tasks = []
    wall = time.perf_counter()
    for n in range(PACED_ROOMS):
        tasks.append(asyncio.create_task(one(f"p{n}")))
        await asyncio.sleep(1 / RATE)
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall
    await claims.close()
    used = delta(await stats(link), before)
    print(f"paced: {PACED_ROOMS} rooms at {RATE:g}/s held {HOLD:g} s each, {wall:.1f} s wall")
    print(
        f"  renewal calls: {claims.stats.renewals} ({claims.stats.renewals / PACED_ROOMS:.3f}/room)"
    )
    show(used, PACED_ROOMS)


async def main(rooms: int) -> None:
    with redis_server() as server:
        lost: list[RedisLostError] = []
        link = await Link.connect(server.url, shown_url=server.url, limit=60, on_lost=lost.append)
        try:
            await burst(link, 200, "w")  # warm-up: scripts loaded, connections open
            await floor(link, rooms)
            await burst(link, rooms, "b")
            await floor(link, rooms)
            await paced(link)
        finally:
            await link.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
