"""What a shared budget costs per grant: `python -m bench.probes.budget_cost [GRANTS] [BUDGET]`.

One runner takes GRANTS slots from `pacer.Pacer` (alone) and from `fleet.budget.SharedPacer`
(on a real redis-server of its own), each request over at once, the two in alternating rounds
so a drift of the shared machine weighs on both. The budget is raised (1,000/s by default) so a
few seconds give thousands of grants; the work per grant is the same as at 20/s. Prints, per
variant: client CPU per grant (the process's user + system time over the grants), Redis round
trips per grant (EVALSHA and SCRIPT LOAD calls, from Redis's own command statistics) and Redis's
CPU per grant. Say the machine's load beside the figures (`uptime`).
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench.harness.servers import redis_server
from resumer.engine.sharing import Budget
from resumer.errors import RedisLostError
from resumer.fleet.budget import SharedPacer
from resumer.fleet.link import Link
from resumer.pace.pacer import Pacer

ROUNDS = 3
APP = 1400000001


async def grants(budget: Budget, count: int) -> float:
    """Client CPU seconds for `count` grants."""
    start = time.process_time()
    for _ in range(count):
        budget.done(await budget.acquire())
    return time.process_time() - start


def lost(error: RedisLostError) -> None:
    raise SystemExit(f"Redis lost: {error}")


async def shared(url: str, count: int, rate: float) -> dict[str, float]:
    link = await Link.connect(url, shown_url=url, limit=10, on_lost=lost)
    try:
        await link.redis.flushall()
        await link.redis.config_resetstat()
        cpu_before = await link.redis.info("cpu")
        pacer = SharedPacer(link, APP, budget=rate, sleep=asyncio.sleep)
        client = await grants(pacer, count)
        stats = await link.redis.info("commandstats")
        cpu_after = await link.redis.info("cpu")
    finally:
        await link.close()
    trips = sum(stats.get(f"cmdstat_{n}", {}).get("calls", 0) for n in ("evalsha", "script|load"))
    server = sum(
        float(cpu_after[k]) - float(cpu_before[k]) for k in ("used_cpu_sys", "used_cpu_user")
    )
    return {
        "client_us": client / count * 1e6,
        "trips": trips / count,
        "redis_us": server / count * 1e6,
    }


async def alone(count: int, rate: float) -> dict[str, float]:
    client = await grants(Pacer(budget=rate), count)
    return {"client_us": client / count * 1e6, "trips": 0.0, "redis_us": 0.0}


def main(count: int, rate: float) -> None:
    results: dict[str, list[dict[str, float]]] = {"Pacer": [], "SharedPacer": []}
    with redis_server() as server:
        for _ in range(ROUNDS):
            results["Pacer"].append(asyncio.run(alone(count, rate)))
            results["SharedPacer"].append(asyncio.run(shared(server.url, count, rate)))
    print(f"{count} grants at {rate:g}/s, {ROUNDS} rounds each (median shown)")
    for name, runs in results.items():
        figures = {key: sorted(run[key] for run in runs)[ROUNDS // 2] for key in runs[0]}
        print(
            f"{name:12} client CPU {figures['client_us']:7.1f} µs/grant   "
            f"round trips {figures['trips']:.3f}/grant   "
            f"Redis CPU {figures['redis_us']:5.1f} µs/grant"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 3000, float(args[1]) if len(args) > 1 else 1000.0)
