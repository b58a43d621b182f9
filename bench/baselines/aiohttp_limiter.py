"""Resume the mixed stream of every room listed on stdin: aiohttp, AsyncLimiter, tenacity.

    ENDPOINT=... SDKAPPID=... IDENTIFIER=... USERSIG=... python aiohttp_limiter.py < rooms.txt

The API allows 20 requests/s, so an AsyncLimiter(20, 1) paces the calls, and tenacity's @retry
retries whatever fails. Prints "RoomId<TAB>ok" or "RoomId<TAB>failed: why" per room.
"""

import asyncio
import os
import random
import sys
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import retry

URL = os.environ["ENDPOINT"] + "/v4/live_engine_http_srv/resume_mcu_task"
PARAMS = {
    "sdkappid": os.environ["SDKAPPID"],
    "identifier": os.environ["IDENTIFIER"],
    "usersig": os.environ["USERSIG"],
    "contenttype": "json",
}

limiter = AsyncLimiter(20, 1)  # 20 requests per second, the API's limit


class ApiError(Exception):
    """The API answered with a non-zero ErrorCode."""


@retry
async def resume(session: aiohttp.ClientSession, room_id: str) -> dict[str, Any]:
    async with limiter:
        params = {**PARAMS, "random": str(random.randint(0, 2**32 - 1))}
        async with session.post(URL, params=params, json={"RoomId": room_id}) as resp:
            resp.raise_for_status()
            reply: dict[str, Any] = await resp.json(content_type=None)
    if reply["ErrorCode"] != 0:
        raise ApiError(f"{reply['ErrorCode']} {reply.get('ErrorInfo', '')}")
    return reply


async def resume_and_report(session: aiohttp.ClientSession, room_id: str) -> None:
    try:
        await resume(session, room_id)
    except Exception as exc:
        print(f"{room_id}\tfailed: {exc}", flush=True)
    else:
        print(f"{room_id}\tok", flush=True)


async def main() -> None:
    rooms = [line.strip() for line in sys.stdin if line.strip()]
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(resume_and_report(session, room) for room in rooms))


if __name__ == "__main__":
    asyncio.run(main())
