"""The simulator over real HTTP on 127.0.0.1: the API route, /stats, /reset, delays, threads."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from resumer.api.usersig import make_usersig
from resumer.sim.config import Latency, SimConfig
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from resumer.sim.server import RESUME_PATH, RunningSim, start_sim
from resumer.sim.thread import SimThread
from tests.sim.helpers import config


def live_query() -> dict[str, str]:
    """A query signed now, for the real clock of a running server."""
    usersig = make_usersig(
        sdkappid=DEMO_SDKAPPID,
        identifier=DEMO_IDENTIFIER,
        secret_key=DEMO_SECRET_KEY,
        now=int(time.time()),
    )
    return {
        "sdkappid": str(DEMO_SDKAPPID),
        "identifier": DEMO_IDENTIFIER,
        "usersig": usersig,
        "random": "7",
        "contenttype": "json",
    }


async def post(session: aiohttp.ClientSession, sim: RunningSim, room: str) -> tuple[int, bytes]:
    async with session.post(
        sim.url + RESUME_PATH, params=live_query(), json={"RoomId": room}
    ) as response:
        return response.status, await response.read()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def serve(cfg: SimConfig) -> RunningSim:
    return await start_sim(cfg, shutdown_timeout=0.1)


async def test_a_request_gets_the_api_envelope(session: aiohttp.ClientSession) -> None:
    async with await serve(config()) as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        async with session.post(
            sim.url + RESUME_PATH, params=live_query(), json={"RoomId": "mix1"}
        ) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            data = await response.json()
        assert data["ErrorCode"] == 0
        assert data["ActionStatus"] == "OK"
        assert sim.stats()["apps"][str(DEMO_SDKAPPID)]["rooms"] == {"mix1": 1}


async def test_a_burst_beyond_the_rate_gets_100422(session: aiohttp.ClientSession) -> None:
    async with await serve(config()) as sim:
        replies = await asyncio.gather(*(post(session, sim, f"r{i}") for i in range(25)))
        codes = sorted(json.loads(body)["ErrorCode"] for _, body in replies)
        assert codes == [0] * 20 + [100422] * 5


async def test_stats_and_reset_over_http(session: aiohttp.ClientSession) -> None:
    async with await serve(config(scripts={"a": ("http502",)})) as sim:
        status, body = await post(session, sim, "a")
        assert status == 502
        assert b"Bad Gateway" in body
        async with session.get(sim.url + "/stats") as response:
            stats: dict[str, Any] = await response.json()
        app = stats["apps"][str(DEMO_SDKAPPID)]
        assert app["by_code"] == {"http502": 1}
        assert app["rooms"] == {"a": 1}
        async with session.get(sim.url + "/stats", params={"rooms": "0"}) as response:
            assert "rooms" not in (await response.json())["apps"][str(DEMO_SDKAPPID)]
        async with session.post(sim.url + "/reset") as response:
            assert response.status == 200
        assert sim.stats()["apps"][str(DEMO_SDKAPPID)]["requests"] == 0


async def test_slow_and_hung_replies(session: aiohttp.ClientSession) -> None:
    cfg = config(scripts={"a": ("slow", "hang")}, latency=Latency(slow_ms=150))
    async with await serve(cfg) as sim:
        started = time.monotonic()
        status, _ = await post(session, sim, "a")
        assert status == 200
        assert time.monotonic() - started >= 0.14
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.2):
                await post(session, sim, "a")
        assert sim.stats()["apps"][str(DEMO_SDKAPPID)]["by_code"] == {"0": 1, "hang": 1}


def test_the_simulator_in_a_thread() -> None:
    with SimThread(config()) as sim:
        request = urllib.request.Request(  # noqa: S310 - an http URL on loopback
            sim.url + RESUME_PATH + "?" + urllib.parse.urlencode(live_query()),
            data=b'{"RoomId": "t1"}',
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - as above
            assert json.load(response)["ErrorCode"] == 0
        assert sim.stats()["apps"][str(DEMO_SDKAPPID)]["accepted"] == 1
        sim.reset()
        assert sim.stats(rooms=False)["apps"][str(DEMO_SDKAPPID)]["accepted"] == 0


def test_a_thread_on_a_busy_port_raises_at_start() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match="in use"), SimThread(config(), port=port):
            pass
