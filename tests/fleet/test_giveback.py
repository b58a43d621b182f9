"""Leases given back with the app's next booking, or alone after the wait, against a real
redis-server: the outcome reaches the ledger either way, in one call for many rooms."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from resumer.fleet import keys
from resumer.fleet.budget import SharedPacer
from resumer.fleet.claims import UNNAMED, RoomClaims
from resumer.fleet.link import Link
from resumer.records import Result, Status

APP = 1400000001
DAY = 86400.0


def ok(room_id: str) -> Result:
    return Result(ts="2026-12-06T10:00:00.000Z", sdkappid=APP, room_id=room_id, status=Status.OK)


async def test_a_booking_carries_the_leases_given_back_before_it(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, carry_wait=60.0)  # only a booking
    claims = await run.claim(APP, ["a", "b", "c"], asyncio.sleep)
    pacer = SharedPacer(link, APP, budget=20.0, sleep=asyncio.sleep, givebacks=run.givebacks)
    for room, claim in zip(("a", "b", "c"), claims, strict=True):
        run.release(APP, room, claim, ok(room))
    assert await peek.hlen(keys.ledger(APP, UNNAMED)) == 0  # not yet: waiting for a booking
    pacer.done(await pacer.acquire())
    assert await peek.hlen(keys.ledger(APP, UNNAMED)) == 3
    assert await peek.exists(*(keys.lease(APP, room) for room in "abc")) == 0
    assert (run.stats.released, run.givebacks.alone, pacer.calls) == (3, 0, 1)
    await run.close()


async def test_leases_no_booking_takes_go_alone_after_the_wait_in_one_call(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY, carry_wait=0.05)
    claims = await run.claim(APP, ["a", "b"], asyncio.sleep)
    for room, claim in zip(("a", "b"), claims, strict=True):
        run.release(APP, room, claim, ok(room))
    for _ in range(200):  # the wait is a loop timer: until it fires and its call is answered
        if run.stats.released == 2:
            break
        await asyncio.sleep(0.01)
    assert run.givebacks.alone == 1  # both in one call
    assert await peek.hgetall(keys.ledger_counts(APP, "inc")) == {"ok": "2"}
    assert await peek.hlen(keys.ledger(APP, UNNAMED)) == 2
    await run.close()


async def test_a_lease_waits_its_own_wait_after_a_booking_carried_the_ones_before(
    link: Link, peek: aioredis.Redis
) -> None:
    # The wait of the first lease, carried by a booking, must not cut short the wait of the
    # next one: it goes with the app's next booking, not alone as the first one's wait ends.
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, carry_wait=0.3)
    claims = await run.claim(APP, ["a", "b"], asyncio.sleep)
    pacer = SharedPacer(link, APP, budget=20.0, sleep=asyncio.sleep, givebacks=run.givebacks)
    run.release(APP, "a", claims[0], ok("a"))
    pacer.done(await pacer.acquire())  # carries "a"
    await asyncio.sleep(0.2)
    run.release(APP, "b", claims[1], ok("b"))
    await asyncio.sleep(0.2)  # past the wait "a" started, within the one of "b"
    assert (run.stats.released, run.givebacks.alone) == (1, 0)
    pacer.done(await pacer.acquire())  # carries "b"
    assert (run.stats.released, run.givebacks.alone) == (2, 0)
    assert await peek.hlen(keys.ledger(APP, UNNAMED)) == 2
    await run.close()
