"""The CPU floor under any aiohttp client: `ENDPOINT=... python bench/harness/floor.py N`.

With SDKAPPID, IDENTIFIER and USERSIG in the environment too, it sends N `resume_mcu_task`
requests as fast as the simulator answers (its budget raised out of the way), 200 at a time,
over one keep-alive session set up as resumer's (`AiohttpTransport`), and does nothing else:
no pacing, no retries, no results log. Its CPU time per request, measured in the same run as
resumer's at scale, says how much of resumer's cost is aiohttp's own (and how fast the machine
is today). Prints the number of ErrorCode 0 replies.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys

from resumer.api.client import MAX_RANDOM, AiohttpTransport, build_request

IN_FLIGHT = 200


async def main(count: int) -> int:
    """Send `count` requests; the number answered with ErrorCode 0."""
    session = AiohttpTransport.new_session(connections=IN_FLIGHT)
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

    async with session:
        todo = iter(range(count))

        async def worker() -> None:
            for n in todo:
                await one(n)

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return ok


if __name__ == "__main__":
    print(asyncio.run(main(int(sys.argv[1]))))
