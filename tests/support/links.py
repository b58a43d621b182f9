"""A run's link to a test's redis-server."""

from __future__ import annotations

from resumer.errors import RedisLostError
from resumer.fleet.link import Link
from tests.support.servers import RedisServer


async def connect(server: RedisServer) -> Link:
    """A run's link to `server` (its own runner id); losing Redis for good is not expected."""
    lost: list[RedisLostError] = []
    return await Link.connect(server.url, shown_url=server.url, limit=60, on_lost=lost.append)
