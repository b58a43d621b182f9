"""The link to Redis fails closed, against a real redis-server started by the tests."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from resumer.errors import RedisLostError, UsageError
from resumer.fleet.connect import SOCKET_TIMEOUT
from resumer.fleet.link import Link
from tests.support.servers import RedisServer


async def test_a_redis_that_answers_ping_but_refuses_writes_is_lost_until_the_limit(
    server: RedisServer,
) -> None:
    # Out of memory (noeviction), Redis still answers PING but refuses every write: the run
    # must not take PONG for "back", or it flaps lost/back forever and never stops (exit 3).
    lost: list[RedisLostError] = []
    link = await Link.connect(server.url, shown_url=server.url, limit=1.0, on_lost=lost.append)
    try:
        assert server.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK"
        assert server.command("CONFIG", "SET", "maxmemory", "1") == "+OK"

        async def write(client: aioredis.Redis) -> object:
            return await client.set("resumer:test", "1")

        with capture_logs() as logs:
            calling = asyncio.create_task(link.call(write, asyncio.sleep))
            for _ in range(1000):  # the prober's backoff and the limit, 1 s, on a real Redis
                if lost:
                    break
                await asyncio.sleep(0.01)
            assert lost, "the limit passed without on_lost"
            assert not calling.done()
            calling.cancel()
        events = [entry["event"] for entry in logs]
        assert events.count("redis_lost") == 1
        assert "redis_back" not in events
        assert "OutOfMemoryError" in str(lost[0])
    finally:
        server.command("CONFIG", "SET", "maxmemory", "0")
        await link.close()


async def test_a_redis_that_takes_writes_again_is_back(server: RedisServer) -> None:
    lost: list[RedisLostError] = []
    link = await Link.connect(server.url, shown_url=server.url, limit=30.0, on_lost=lost.append)
    try:
        server.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        server.command("CONFIG", "SET", "maxmemory", "1")

        async def write(client: aioredis.Redis) -> object:
            return await client.set("resumer:test", "1")

        calling = asyncio.create_task(link.call(write, asyncio.sleep))
        for _ in range(500):
            if link.lost:
                break
            await asyncio.sleep(0.01)
        assert link.lost
        server.command("CONFIG", "SET", "maxmemory", "0")
        assert await asyncio.wait_for(calling, timeout=10) is True
        assert not link.lost
        assert (link.outages, lost) == (1, [])
    finally:
        await link.close()


@pytest.mark.parametrize("password", ["", ":wrong@"])
async def test_a_redis_that_wants_a_password_is_one_plain_sentence(
    server: RedisServer, password: str
) -> None:
    url = server.url.replace("redis://", f"redis://{password}")
    assert server.command("CONFIG", "SET", "requirepass", "s3cret") == "+OK"
    with pytest.raises(UsageError, match=r"wants a password, or another one: put it in the URL"):
        await Link.connect(url, shown_url="redis://shown", limit=1.0)


async def test_an_error_the_probe_does_not_meet_still_ends_in_the_limit(
    server: RedisServer,
) -> None:
    # The probe's write succeeds but the run's own command is refused (here an ACL): only a
    # call that succeeds ends the outage, so the clock runs on to the limit (exit 3).
    lost: list[RedisLostError] = []
    link = await Link.connect(server.url, shown_url=server.url, limit=1.0, on_lost=lost.append)
    try:
        assert server.command("ACL", "SETUSER", "default", "-time") == "+OK"
        with capture_logs() as logs:
            calling = asyncio.create_task(link.call(lambda r: r.time(), asyncio.sleep))
            for _ in range(1000):
                if lost:
                    break
                await asyncio.sleep(0.01)
            assert lost, "the limit passed without on_lost"
            calling.cancel()
        events = [entry["event"] for entry in logs]
        assert (events.count("redis_lost"), events.count("redis_back")) == (1, 0)
        assert "NoPermissionError" in str(lost[0])
    finally:
        await link.close()


async def test_a_call_that_succeeds_after_a_hang_ends_the_outage(server: RedisServer) -> None:
    link = await Link.connect(server.url, shown_url=server.url, limit=30.0)
    try:
        server.pause()
        with capture_logs() as logs:
            calling = asyncio.create_task(link.call(lambda r: r.time(), asyncio.sleep))
            for _ in range(500):
                if link.lost:
                    break
                await asyncio.sleep(0.01)
            assert link.lost
            server.resume()
            await asyncio.wait_for(calling, timeout=10)
        assert not link.lost
        events = [entry["event"] for entry in logs]
        assert (events.count("redis_lost"), events.count("redis_back"), link.outages) == (1, 1, 1)
    finally:
        await link.close()


async def test_a_call_cut_by_its_timeout_leaves_no_answer_behind(server: RedisServer) -> None:
    link = await Link.connect(server.url, shown_url=server.url, limit=30.0)
    try:
        await link.redis.set("a", b"A")
        await link.redis.set("b", b"B")
        server.pause()
        started = asyncio.get_running_loop().time()
        calling = asyncio.create_task(link.call(lambda r: r.get("a"), asyncio.sleep))
        for _ in range(500):
            if link.lost:
                break
            await asyncio.sleep(0.01)
        # Cut within the link's bound, by `call` itself: its client has no socket timeout.
        assert asyncio.get_running_loop().time() - started < 2 * SOCKET_TIMEOUT
        server.resume()
        assert await asyncio.wait_for(calling, timeout=10) == b"A"
        # The answer to the call that was cut is not read as the next call's.
        for _ in range(20):
            assert await link.call(lambda r: r.get("b"), asyncio.sleep) == b"B"
    finally:
        await link.close()
