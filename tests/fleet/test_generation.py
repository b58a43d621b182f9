"""A Redis that lost the runs' shared state mid-run, and runs of another protocol, against a real
redis-server: a claim or a booking that finds the app's generation gone stops the run before
anything more is claimed or booked; a live run of another protocol is refused at the start."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from resumer.engine.app import Halted
from resumer.errors import RedisLostError, UsageError
from resumer.fleet import keys
from resumer.fleet.budget import SharedPacer
from resumer.fleet.claims import RoomClaims
from resumer.fleet.generation import meet, refuse_other_protocols
from resumer.fleet.link import Link
from resumer.fleet.sharing import _beats
from tests.support.servers import RedisServer

APP = 1400000001
DAY = 86400.0


class Stopping:
    """The run's side: `on_lost` stops it, and from then on its naps raise (as App.nap does)."""

    def __init__(self) -> None:
        self.lost: list[RedisLostError] = []

    def on_lost(self, error: RedisLostError) -> None:
        self.lost.append(error)

    async def nap(self, seconds: float) -> None:
        if self.lost:
            raise Halted
        await asyncio.sleep(min(seconds, 0.01))


async def test_a_claim_after_a_flush_stops_the_run_and_claims_nothing(
    server: RedisServer, peek: aioredis.Redis
) -> None:
    run = Stopping()
    link = await Link.connect(server.url, shown_url=server.url, limit=60, on_lost=run.on_lost)
    try:
        generations = await meet(link, [APP])
        assert generations.of(APP).startswith(f"{keys.PROTOCOL} ")
        claims = RoomClaims(link, ledger=None, ledger_ttl=DAY, generations=generations)
        await claims.claim(APP, ["before"], run.nap)
        await peek.flushall()
        with pytest.raises(Halted):
            await claims.claim(APP, ["after"], run.nap)
        assert len(run.lost) == 1
        assert "lost the runs' shared state" in str(run.lost[0])
        assert await peek.exists(keys.lease(APP, "after")) == 0
    finally:
        await link.close()


async def test_a_booking_after_a_flush_stops_the_run_and_books_nothing(
    server: RedisServer, peek: aioredis.Redis
) -> None:
    run = Stopping()
    link = await Link.connect(server.url, shown_url=server.url, limit=60, on_lost=run.on_lost)
    try:
        generations = await meet(link, [APP])
        pacer = SharedPacer(link, APP, budget=20.0, sleep=run.nap, generations=generations)
        pacer.done(await pacer.acquire())
        await peek.flushall()
        with pytest.raises(Halted):
            await pacer.acquire()
        assert len(run.lost) == 1
        assert await peek.exists(keys.tat(APP)) == 0  # nothing booked after the wipe
    finally:
        await link.close()


async def test_a_second_run_meets_the_first_runs_generation(server: RedisServer) -> None:
    first = await Link.connect(server.url, shown_url=server.url, limit=60)
    second = await Link.connect(server.url, shown_url=server.url, limit=60)
    try:
        assert (await meet(first, [APP])).of(APP) == (await meet(second, [APP])).of(APP)
    finally:
        await first.close()
        await second.close()


async def test_a_generation_left_by_another_protocol_is_replaced(
    server: RedisServer, peek: aioredis.Redis
) -> None:
    await peek.set(keys.generation(APP), "1 0123")  # no run of it is live (checked before)
    link = await Link.connect(server.url, shown_url=server.url, limit=60)
    try:
        assert (await meet(link, [APP])).of(APP).startswith(f"{keys.PROTOCOL} ")
    finally:
        await link.close()


async def test_a_live_run_of_another_protocol_is_refused_naming_both(
    server: RedisServer, peek: aioredis.Redis
) -> None:
    old = {"runner": "h:1:a", "started_us": 1}  # a heartbeat from before the protocol existed
    await peek.set(keys.RUNNERS + "h:1:a", json.dumps(old), px=10_000)
    link = await Link.connect(server.url, shown_url=server.url, limit=60)
    try:
        beats = await _beats(link)
    finally:
        await link.close()
    with pytest.raises(UsageError) as refused:
        refuse_other_protocols((int(b.get("protocol", 1)) for b in beats), "redis://x")
    assert f"v1; this one v{keys.PROTOCOL}" in str(refused.value)
    refuse_other_protocols([keys.PROTOCOL], "redis://x")  # the same: nothing to say
