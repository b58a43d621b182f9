"""Leases on rooms and the shared ledger, against a real redis-server started by the tests."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from resumer.engine.sharing import Claim, Hold
from resumer.fleet import keys
from resumer.fleet.claims import (
    FRESH_MARGIN,
    LEASE_TTL,
    RENEW_SHARE,
    UNNAMED,
    RoomClaims,
    lease_ttl_for,
)
from resumer.fleet.link import Link, time_us
from resumer.records import Result, Status
from resumer.timing import Sleep
from tests.support.servers import RedisServer

APP = 1400000001
DAY = 86400.0


def result(room_id: str, status: Status) -> Result:
    return Result(ts="2026-11-24T10:00:00.000Z", sdkappid=APP, room_id=room_id, status=status)


async def claim_one(run: RoomClaims, room_id: str, sleep: Sleep = asyncio.sleep) -> Claim:
    """One room's claim (a batch of one)."""
    (answer,) = await run.claim(APP, [room_id], sleep)
    return answer


async def release_now(run: RoomClaims, room_id: str, claim: Claim, result: Result) -> None:
    """Release, and give the lease back now rather than with a booking or after the wait."""
    run.release(APP, room_id, claim, result)
    await run.givebacks.flush()


async def test_a_free_room_is_leased_then_busy_then_final_once_released(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    first = await claim_one(run, "r1", asyncio.sleep)
    assert first == Claim(Hold.LEASED, 1)
    assert await peek.get(keys.lease(APP, "r1")) == f"1 {link.runner}"
    assert 0 < await peek.pttl(keys.lease(APP, "r1")) <= LEASE_TTL * 1000
    neighbour = RoomClaims(another, ledger="inc", ledger_ttl=DAY)
    assert await claim_one(neighbour, "r1", asyncio.sleep) == Claim(Hold.BUSY)
    assert (await claim_one(neighbour, "r2", asyncio.sleep)).token == 2  # one fence per app

    await release_now(run, "r1", first, result("r1", Status.OK))
    assert await peek.exists(keys.lease(APP, "r1")) == 0
    status, at = str(await peek.hget(keys.ledger(APP, "inc"), "r1")).split()
    assert status == "ok"
    assert int(at) > 0
    assert await claim_one(neighbour, "r1", asyncio.sleep) == Claim(Hold.FINAL)
    assert (run.stats.leased, run.stats.released) == (1, 1)
    assert (neighbour.stats.leased, neighbour.stats.busy, neighbour.stats.final) == (1, 1, 1)


async def test_an_outcome_that_is_not_final_frees_the_room_and_records_nothing(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    for status in (Status.GAVE_UP, Status.ABORTED):
        claim = await claim_one(run, "r1", asyncio.sleep)
        assert claim.hold is Hold.LEASED
        await release_now(run, "r1", claim, result("r1", status))
        assert await peek.exists(keys.lease(APP, "r1"), keys.ledger(APP, "inc")) == 0
    assert run.held == 0


async def test_a_run_that_lost_its_lease_to_another_records_nothing_and_deletes_nothing(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    first = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    second = RoomClaims(another, ledger="inc", ledger_ttl=DAY)
    mine = await claim_one(first, "r1", asyncio.sleep)
    await peek.delete(keys.lease(APP, "r1"))  # as if it expired while the first run stalled
    theirs = await claim_one(second, "r1", asyncio.sleep)
    assert theirs == Claim(Hold.LEASED, 2)

    with capture_logs() as logs:
        await release_now(first, "r1", mine, result("r1", Status.REJECTED))
    assert [e["event"] for e in logs] == ["lease_lost"]
    assert (logs[0]["sdkappid"], logs[0]["room_id"]) == (APP, "r1")
    assert await peek.get(keys.lease(APP, "r1")) == f"2 {another.runner}"
    assert await peek.exists(keys.ledger(APP, "inc")) == 0
    assert first.stats.lost == 1

    await release_now(second, "r1", theirs, result("r1", Status.OK))
    assert str(await peek.hget(keys.ledger(APP, "inc"), "r1")).startswith("ok ")


async def test_an_expired_lease_nobody_took_still_records_the_outcome(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    claim = await claim_one(run, "r1", asyncio.sleep)
    await peek.delete(keys.lease(APP, "r1"))
    await release_now(run, "r1", claim, result("r1", Status.OK))
    assert str(await peek.hget(keys.ledger(APP, "inc"), "r1")).startswith("ok ")
    assert (run.stats.expired, run.stats.lost) == (1, 0)


async def test_renewal_resets_each_lease_still_held_and_reports_the_lost_once(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    kept = await claim_one(run, "r1", asyncio.sleep)
    taken = await claim_one(run, "r2", asyncio.sleep)
    await peek.pexpire(keys.lease(APP, "r1"), 500)
    await peek.set(keys.lease(APP, "r2"), "99 another-run")
    with capture_logs() as logs:
        await run.renew()
        await run.renew()  # the lost one is not renewed, nor reported, again
        await release_now(run, "r2", taken, result("r2", Status.OK))
    assert [(e["event"], e["room_id"]) for e in logs] == [("lease_lost", "r2")]
    assert await peek.pttl(keys.lease(APP, "r1")) > 500
    assert await peek.get(keys.lease(APP, "r2")) == "99 another-run"
    assert await peek.hget(keys.ledger(APP, "inc"), "r2") is None
    assert (run.stats.renewals, run.stats.lost, run.held) == (2, 1, 1)
    await release_now(run, "r1", kept, result("r1", Status.OK))
    await run.renew()
    assert run.stats.renewals == 2  # nothing held: no call


async def test_the_renewal_task_keeps_a_short_lease_alive_until_release(
    link: Link, peek: aioredis.Redis
) -> None:
    # Renewed every 0.25 s: the lease outlives a loop held up for most of its second.
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, lease_ttl=1.0)
    claim = await claim_one(run, "r1", asyncio.sleep)
    run.start()
    try:
        await asyncio.sleep(1.5)  # past the lease's TTL, on Redis's own clock too
        assert await peek.get(keys.lease(APP, "r1")) == f"1 {link.runner}"
        assert run.stats.renewals >= 1
        assert run.stats.lost == 0
        await release_now(run, "r1", claim, result("r1", Status.GAVE_UP))
        renewals = run.stats.renewals
        await asyncio.sleep(0.5)  # two renewal periods
        assert run.stats.renewals == renewals
    finally:
        await run.close()


async def test_a_lease_not_renewed_expires_and_another_run_takes_the_room(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    dead = RoomClaims(link, ledger=None, ledger_ttl=DAY, lease_ttl=0.05)  # never start()ed
    await claim_one(dead, "r1", asyncio.sleep)
    for _ in range(200):  # Redis's clock, not ours: wait (2 s at most) until it drops the key
        if not await peek.exists(keys.lease(APP, "r1")):
            break
        await asyncio.sleep(0.01)
    live = RoomClaims(another, ledger=None, ledger_ttl=DAY)
    assert await claim_one(live, "r1", asyncio.sleep) == Claim(Hold.LEASED, 2)


async def test_without_a_ledger_name_a_run_honours_only_entries_since_its_start(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    started = await time_us(link.redis)
    early = RoomClaims(link, ledger=None, ledger_ttl=DAY, since_us=started)
    claim = await claim_one(early, "r1", asyncio.sleep)
    await release_now(early, "r1", claim, result("r1", Status.REJECTED))
    assert await peek.exists(keys.ledger(APP, UNNAMED)) == 1

    overlapping = RoomClaims(link, ledger=None, ledger_ttl=DAY, since_us=started)
    assert await claim_one(overlapping, "r1", asyncio.sleep) == Claim(Hold.FINAL)
    later = RoomClaims(link, ledger=None, ledger_ttl=DAY)  # its start: its first claim
    again = await claim_one(later, "r1", asyncio.sleep)
    assert again.hold is Hold.LEASED
    other = RoomClaims(another, ledger="-x", ledger_ttl=DAY)
    assert await claim_one(other, "r1") == Claim(Hold.BUSY)

    # Done again, now ok: the entry and the counts move with it.
    await release_now(later, "r1", again, result("r1", Status.OK))
    assert str(await peek.hget(keys.ledger(APP, UNNAMED), "r1")).startswith("ok ")
    assert await peek.hgetall(keys.ledger_counts(APP, UNNAMED)) == {"ok": "1"}


async def test_a_named_ledger_is_honoured_whole_by_every_run_that_names_it(
    link: Link, peek: aioredis.Redis
) -> None:
    first = RoomClaims(link, ledger="incident-7", ledger_ttl=3600)
    for room, status in (("r1", Status.OK), ("r2", Status.REJECTED), ("r3", Status.INVALID)):
        claim = await claim_one(first, room, asyncio.sleep)
        await release_now(first, room, claim, result(room, status))
    claim = await claim_one(first, "r4", asyncio.sleep)
    await release_now(first, "r4", claim, result("r4", Status.GAVE_UP))

    later = RoomClaims(link, ledger="incident-7", ledger_ttl=3600, since_us=10**18)
    holds = [(await claim_one(later, room, asyncio.sleep)).hold for room in ("r1", "r2", "r3")]
    assert holds == [Hold.FINAL] * 3
    assert (await claim_one(later, "r4", asyncio.sleep)).hold is Hold.LEASED
    other = RoomClaims(link, ledger="incident-8", ledger_ttl=3600)
    assert (await claim_one(other, "r1", asyncio.sleep)).hold is Hold.LEASED

    counts = keys.ledger_counts(APP, "incident-7")
    assert await peek.hgetall(counts) == {"ok": "1", "rejected": "1", "invalid": "1"}
    for key in (keys.ledger(APP, "incident-7"), counts):
        assert 3_500_000 < await peek.pttl(key) <= 3_600_000


async def test_runs_that_overlap_never_send_a_room_twice_whatever_their_ledger_names(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    started = await time_us(link.redis)
    first = RoomClaims(link, ledger="incident-7", ledger_ttl=3600, since_us=started)
    second = RoomClaims(another, ledger="incident-8", ledger_ttl=3600, since_us=started)
    claim = await claim_one(first, "r1", asyncio.sleep)
    assert await claim_one(second, "r1", asyncio.sleep) == Claim(Hold.BUSY)
    await release_now(first, "r1", claim, result("r1", Status.OK))
    assert await claim_one(second, "r1", asyncio.sleep) == Claim(Hold.FINAL)  # not sent again
    # the overlap ledger "-" has it too, for a day; the other name's ledger has nothing
    assert str(await peek.hget(keys.ledger(APP, UNNAMED), "r1")).startswith("ok ")
    assert 86_300_000 < await peek.pttl(keys.ledger(APP, UNNAMED)) <= 86_400_000
    assert await peek.exists(keys.ledger(APP, "incident-8")) == 0


async def test_scripts_flushed_between_calls_are_loaded_again(
    link: Link, server: RedisServer
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    claim = await claim_one(run, "r1", asyncio.sleep)
    assert server.command("SCRIPT", "FLUSH") == "+OK"
    await run.renew()
    await release_now(run, "r1", claim, result("r1", Status.OK))
    assert server.command("SCRIPT", "FLUSH") == "+OK"
    assert (await claim_one(run, "r1", asyncio.sleep)).hold is Hold.FINAL
    assert (run.stats.released, run.stats.lost) == (1, 0)


async def test_a_claim_waits_while_redis_hangs_and_returns_once_it_answers(
    link: Link, server: RedisServer
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    server.pause()
    claiming = asyncio.create_task(claim_one(run, "r1"))
    for _ in range(500):  # until the link gives up on the hung call (SOCKET_TIMEOUT, 1 s)
        if link.lost:
            break
        await asyncio.sleep(0.01)
    assert link.lost
    assert not claiming.done()
    server.resume()
    assert await asyncio.wait_for(claiming, timeout=10) == Claim(Hold.LEASED, 1)


async def test_a_release_whose_app_stopped_while_redis_is_gone_does_not_raise(
    link: Link, server: RedisServer
) -> None:
    class Stopped(Exception):
        pass

    async def stopped(seconds: float) -> None:
        raise Stopped

    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    claim = await claim_one(run, "r1", stopped)
    server.stop()
    run.release(APP, "r1", claim, result("r1", Status.OK))
    with pytest.raises(Stopped):
        await run.givebacks.flush(stopped)  # the wait for Redis ends in the app's stop...
    await run.close()  # ... and the run's end tries once more, and counts it
    assert (run.stats.release_failures, run.held) == (1, 0)


async def test_releasing_a_claim_without_a_lease_or_twice_touches_nothing(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    claim = await claim_one(run, "r1", asyncio.sleep)
    await release_now(run, "r1", Claim(Hold.BUSY), result("r1", Status.OK))
    assert await peek.exists(keys.lease(APP, "r1")) == 1
    await release_now(run, "r1", claim, result("r1", Status.OK))
    await release_now(run, "r1", claim, result("r1", Status.REJECTED))
    assert str(await peek.hget(keys.ledger(APP, "inc"), "r1")).startswith("ok ")
    assert run.stats.released == 1


async def test_a_claim_made_again_after_its_reply_was_lost_gets_the_same_lease(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    first = await claim_one(run, "r1", asyncio.sleep)
    await peek.pexpire(keys.lease(APP, "r1"), 500)
    assert await claim_one(run, "r1", asyncio.sleep) == first
    assert await peek.pttl(keys.lease(APP, "r1")) > 500
    other = RoomClaims(another, ledger="inc", ledger_ttl=DAY)
    assert await claim_one(other, "r1", asyncio.sleep) == Claim(Hold.BUSY)


async def test_renewal_takes_again_a_lease_that_expired_so_no_other_run_claims_the_room(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    # Redis (or this run) stalled past the lease TTL, or Redis restarted empty: the room is
    # still this run's to send, so the next renewal holds it again and reports nothing lost.
    run = RoomClaims(link, ledger="inc", ledger_ttl=DAY)
    claim = await claim_one(run, "r1", asyncio.sleep)
    await peek.delete(keys.lease(APP, "r1"))
    with capture_logs() as logs:
        await run.renew()
    assert logs == []
    assert await peek.get(keys.lease(APP, "r1")) == f"1 {link.runner}"
    assert 0 < await peek.pttl(keys.lease(APP, "r1")) <= LEASE_TTL * 1000
    other = RoomClaims(another, ledger="inc", ledger_ttl=DAY)
    assert await claim_one(other, "r1", asyncio.sleep) == Claim(Hold.BUSY)
    await release_now(run, "r1", claim, result("r1", Status.OK))
    assert (run.stats.lost, run.stats.released, run.held) == (0, 1, 0)


async def test_renewal_does_not_take_back_a_lapsed_lease_on_a_room_another_run_finished(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    # This run stood still past its lease (SIGSTOP): another run claimed, sent and finished the
    # room meanwhile. Waking, the renewal must not make the room this run's again.
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY)
    await claim_one(run, "r1", asyncio.sleep)
    await peek.delete(keys.lease(APP, "r1"))  # lapsed
    other = RoomClaims(another, ledger=None, ledger_ttl=DAY, since_us=0)
    taken = await claim_one(other, "r1", asyncio.sleep)
    await release_now(other, "r1", taken, result("r1", Status.OK))
    with capture_logs() as logs:
        await run.renew()
    assert [log["event"] for log in logs] == ["lease_lost"]
    assert await peek.exists(keys.lease(APP, "r1")) == 0
    assert not run.fresh(APP, "r1", 6.0)
    assert await run.confirm(APP, "r1", asyncio.sleep) is Hold.FINAL
    assert (run.stats.lost, run.stats.dropped, run.held) == (1, 1, 0)


async def test_a_lease_is_fresh_by_the_runs_own_clock_and_confirmed_once_it_is_not(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    now = [100.0]
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, clock=lambda: now[0])
    await claim_one(run, "mine", asyncio.sleep)
    await claim_one(run, "taken", asyncio.sleep)
    assert run.fresh(APP, "mine", 6.0)
    assert not run.fresh(APP, "unclaimed", 6.0)
    now[0] += LEASE_TTL - 6.0 - FRESH_MARGIN  # a request sent now could outlive the lease
    assert not run.fresh(APP, "mine", 6.0)
    assert run.fresh(APP, "mine", 1.0)  # a shorter request timeout still fits
    await peek.delete(keys.lease(APP, "taken"))  # lapsed while this run stood still ...
    other = RoomClaims(another, ledger=None, ledger_ttl=DAY)
    assert (await claim_one(other, "taken", asyncio.sleep)).hold is Hold.LEASED  # ... taken
    assert await run.confirm(APP, "mine", asyncio.sleep) is Hold.LEASED
    assert run.fresh(APP, "mine", 6.0)  # claimed again just now
    assert await run.confirm(APP, "taken", asyncio.sleep) is Hold.BUSY
    assert not run.fresh(APP, "taken", 0.0)  # dropped: never sent by this run
    assert (run.stats.confirmed, run.stats.dropped, run.held) == (2, 1, 1)
    now[0] += 1.0
    await run.renew()  # a renewal that got through makes the lease fresh again
    now[0] += LEASE_TTL - 6.0 - FRESH_MARGIN - 0.5
    assert run.fresh(APP, "mine", 6.0)


@pytest.mark.parametrize("timeout", [0.5, 6.0, 9.0, 30.0])
def test_a_lease_outlives_the_request_timeout_with_a_renewal_period_to_spare(
    timeout: float,
) -> None:
    ttl = lease_ttl_for(timeout)
    assert ttl >= LEASE_TTL
    assert ttl - timeout - FRESH_MARGIN > ttl / RENEW_SHARE  # fresh past the next renewal
