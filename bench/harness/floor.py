"""The CPU floor under any aiohttp client: `ENDPOINT=... python bench/harness/floor.py N`.

With SDKAPPID, IDENTIFIER and USERSIG in the environment too, it sends N `resume_mcu_task`
requests as fast as the simulator answers (its budget raised out of the way), 200 at a time,
over one keep-alive session set up as resumer's (`AiohttpTransport`), and does nothing else:
no pacing, no retries, no results log. Its CPU time per request, measured in the same run as
resumer's at scale, says how much of resumer's cost is aiohttp's own (and how fast the machine
is today). Prints the number of ErrorCode 0 replies.

`--paced APPS RATE` sends the N requests as APPS apps of RATE requests/s each instead, every
app on a grid of its own (a sleep to each slot, then a task per request), the least a paced
client can do. Replies then come one by one, not in bunches of 200 per turn of the loop: the
difference between the two floors is what pacing itself costs aiohttp and asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random

from resumer.api.client import MAX_RANDOM, AiohttpTransport, build_request

IN_FLIGHT = 200
PACED_CONNECTIONS = 1000  # enough that a paced app never waits for a connection


async def main(count: int, paced: tuple[int, float] | None) -> int:
    """Send `count` requests (as fast as answered, or `paced`); the number with ErrorCode 0."""
    session = AiohttpTransport.new_session(connections=PACED_CONNECTIONS if paced else IN_FLIGHT)
    send = AiohttpTransport(session, timeout=30)
    ok = 0

    async def one(n: int) -> None:
        nonlocal ok
        request = build_request(
            base_url=os.environ["ENDPOINT"],
            sdkappid=int(os.environ["SDKAPPID"]),
            identifier=os.environ["IDENTIFIER"],
            usersig=os.environ["USERSIG"],
            random=random.randint(0, MAX_RANDOM),
            room_id=f"floor_{n}",
        )
        reply = await send(request)
        ok += json.loads(reply.body).get("ErrorCode") == 0

    todo = iter(range(count))

    async def worker() -> None:
        for n in todo:
            await one(n)

    async def grid(requests: int, rate: float) -> None:
        loop = asyncio.get_running_loop()
        slot = loop.time()
        tasks = []
        for n in range(requests):
            slot += 1 / rate
            await asyncio.sleep(max(0.0, slot - loop.time()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)

    async with session:
        if paced is None:
            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        else:
            apps, rate = paced
            await asyncio.gather(*(grid(count // apps, rate) for _ in range(apps)))
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--paced", nargs=2, metavar=("APPS", "RATE"))
    args = parser.parse_args()
    pace = None if args.paced is None else (int(args.paced[0]), float(args.paced[1]))
    print(asyncio.run(main(args.count, pace)))
