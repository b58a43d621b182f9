"""A real redis-server of each test's own, on a free loopback port, and the clients the tests
of the fleet talk to it with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from resumer.fleet.link import Link
from tests.support.links import connect
from tests.support.servers import RedisServer, redis_server


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
async def link(server: RedisServer) -> AsyncIterator[Link]:
    connected = await connect(server)
    yield connected
    await connected.close()


@pytest.fixture
async def another(server: RedisServer) -> AsyncIterator[Link]:
    """The link of another run on the same Redis (its own runner id)."""
    connected = await connect(server)
    yield connected
    await connected.close()


@pytest.fixture
async def peek(server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client of the test's own, to look at the keys and to play another run."""
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    yield client
    await client.aclose()
