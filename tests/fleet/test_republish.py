"""A --resume's final rooms recorded again on Redis, against a real redis-server: another run's
claims find them FINAL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from resumer.config.sharing import SharingConfig
from resumer.engine.sharing import Claim, Hold
from resumer.errors import UsageError
from resumer.fleet import keys
from resumer.fleet.claims import OVERLAP_TTL, RECHECK, UNNAMED, RoomClaims
from resumer.fleet.link import Link, time_us
from resumer.fleet.republish import republish
from resumer.fleet.sharing import RedisSharing
from resumer.records import Result, Status
from tests.support.links import connect
from tests.support.servers import RedisServer, redis_cluster

APP = 1400000001
OTHER = 1400000002
DAY = 86400.0
WEEK = 7 * DAY


async def test_republished_rooms_are_final_to_a_claim_by_another_run_resumed_beside(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    started = await time_us(link.redis)  # both runs start together, after the wipe
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, since_us=started)
    finished = [(APP, "r1", Status.OK), (APP, "r2", Status.REJECTED), (OTHER, "r3", Status.OK)]
    assert await run.republish(finished, [APP]) == 2  # r3's app is not this run's

    neighbour = RoomClaims(another, ledger=None, ledger_ttl=DAY, since_us=started)
    assert (await neighbour.claim(APP, ["r1"], asyncio.sleep))[0] == Claim(Hold.FINAL)
    assert (await neighbour.claim(APP, ["r2"], asyncio.sleep))[0] == Claim(Hold.FINAL)
    assert (await neighbour.claim(APP, ["r4"], asyncio.sleep))[0].hold is Hold.LEASED
    assert (await neighbour.claim(OTHER, ["r3"], asyncio.sleep))[0].hold is Hold.LEASED
    status, at = str(await peek.hget(keys.ledger(APP, UNNAMED), "r1")).split()
    assert (status, int(at) >= started) == ("ok", True)  # stamped now, release.lua's format
    assert await peek.hgetall(keys.ledger_counts(APP, UNNAMED)) == {"ok": "1", "rejected": "1"}
    for key in (keys.ledger(APP, UNNAMED), keys.ledger_counts(APP, UNNAMED)):
        assert DAY * 1000 - 60_000 < await peek.pttl(key) <= OVERLAP_TTL * 1000


async def test_a_named_ledger_gets_them_too_and_a_later_run_naming_it_skips_them(
    link: Link, another: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger="inc", ledger_ttl=WEEK)
    assert await run.republish([(APP, "r1", Status.INVALID)], [APP]) == 1
    for name, ttl in (("inc", WEEK), (UNNAMED, OVERLAP_TTL)):
        assert str(await peek.hget(keys.ledger(APP, name), "r1")).startswith("invalid ")
        assert await peek.hgetall(keys.ledger_counts(APP, name)) == {"invalid": "1"}
        assert ttl * 1000 - 60_000 < await peek.pttl(keys.ledger_counts(APP, name)) <= ttl * 1000
    later = RoomClaims(another, ledger="inc", ledger_ttl=WEEK, since_us=2**62)  # honours "inc" only
    assert (await later.claim(APP, ["r1"], asyncio.sleep))[0] == Claim(Hold.FINAL)


async def test_a_room_met_again_moves_its_count_and_ends_with_its_last_status(
    link: Link, peek: aioredis.Redis
) -> None:
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY)
    (claim,) = await run.claim(APP, ["r1"], asyncio.sleep)
    done = Result(ts="2026-11-24T10:00:00.000Z", sdkappid=APP, room_id="r1", status=Status.REJECTED)
    run.release(APP, "r1", claim, done)
    await run.givebacks.flush()
    finished = [(APP, "r1", Status.REJECTED), (APP, "r1", Status.OK), (APP, "r2", Status.OK)]
    assert await run.republish(finished, [APP]) == 2
    assert str(await peek.hget(keys.ledger(APP, UNNAMED), "r1")).startswith("ok ")
    assert await peek.hgetall(keys.ledger_counts(APP, UNNAMED)) == {"ok": "2"}


async def test_batches_go_one_call_per_app_and_every_room_lands_in_its_apps_keys(
    link: Link, peek: aioredis.Redis
) -> None:
    finished = [(APP if n % 3 else OTHER, f"r{n}", Status.OK) for n in range(10)]
    republished = await _republish(link, finished, [APP, OTHER], batch=4)
    assert republished == 10
    assert await peek.hlen(keys.ledger(APP, UNNAMED)) == 6
    assert await peek.hlen(keys.ledger(OTHER, UNNAMED)) == 4


async def _republish(
    link: Link, finished: list[tuple[int, str, Status]], apps: list[int], *, batch: int
) -> int:
    return await republish(
        link,
        finished,
        sdkappids=apps,
        ledger=UNNAMED,
        overlap=UNNAMED,
        ledger_ttl_ms=str(round(DAY * 1000)),
        overlap_ttl_ms=str(round(DAY * 1000)),
        batch=batch,
    )


async def test_a_resumed_run_republishes_before_its_first_claim_and_says_how_many(
    server: RedisServer,
) -> None:
    settings = SharingConfig(redis=server.url, shown_redis=server.url)
    finished = [(APP, f"r{n}", Status.OK) for n in range(1500)]  # two batches
    with capture_logs() as logs:
        async with (
            RedisSharing.open(settings, sdkappids=[APP], finished=iter(finished)),
            RedisSharing.open(settings, sdkappids=[APP]) as neighbour,  # started after it
        ):
            assert (await neighbour.claim(APP, ["r1499"], asyncio.sleep))[0] == Claim(Hold.FINAL)
            assert (await neighbour.claim(APP, ["r1500"], asyncio.sleep))[0].hold is Hold.LEASED
    [event] = [e for e in logs if e["event"] == "ledger_republished"]
    assert (event["rooms"], event["ledger"], event["log_level"]) == (1500, UNNAMED, "info")


async def test_a_redis_lost_while_republishing_is_a_refusal_before_anything_is_sent(
    server: RedisServer,
) -> None:
    settings = SharingConfig(redis=server.url, shown_redis=server.url)

    def finished() -> Iterator[tuple[int, str, Status]]:
        yield from ((APP, f"r{n}", Status.OK) for n in range(1000))  # the first batch goes
        server.stop()
        yield APP, "r1000", Status.OK

    with pytest.raises(UsageError, match="to record again the rooms final in the results log"):
        async with RedisSharing.open(settings, sdkappids=[APP], finished=finished()):
            pytest.fail("the run must not start")


async def test_a_room_leased_before_another_run_republished_it_is_dropped_before_its_request(
    link: Link, another: Link
) -> None:
    now = [0.0]
    started = await time_us(link.redis)
    run = RoomClaims(link, ledger=None, ledger_ttl=DAY, since_us=started, clock=lambda: now[0])
    neighbour = RoomClaims(another, ledger=None, ledger_ttl=DAY, since_us=started)
    assert await run.republish([], [APP]) == 0  # this run's log held nothing final
    assert (await run.claim(APP, ["theirs"], asyncio.sleep))[0].hold is Hold.LEASED
    assert (await run.claim(APP, ["free"], asyncio.sleep))[0].hold is Hold.LEASED
    assert not run.fresh(APP, "theirs", 1.0)  # leased within RECHECK of the republish
    assert await neighbour.republish([(APP, "theirs", Status.OK)], [APP]) == 1  # a bit later

    with capture_logs() as logs:
        assert await run.confirm(APP, "theirs", asyncio.sleep) is Hold.FINAL
    assert [(e["event"], e["log_level"]) for e in logs] == [("room_dropped", "info")]
    assert await run.confirm(APP, "free", asyncio.sleep) is Hold.LEASED
    assert run.fresh(APP, "free", 1.0)  # looked at again: sent on its slot
    now[0] = RECHECK
    assert (await run.claim(APP, ["later"], asyncio.sleep))[0].hold is Hold.LEASED
    assert run.fresh(APP, "later", 1.0)  # past the window: no second look
    assert (run.stats.rechecked, run.stats.confirmed, run.stats.dropped) == (2, 0, 1)


async def test_on_a_cluster_each_call_goes_to_its_apps_node() -> None:
    apps = [1400000001, 1400000002, 1400000003, 1400000004]  # their tags' slots spread
    with redis_cluster() as nodes:
        first, other = await connect(nodes[0]), await connect(nodes[2])
        try:
            finished = [(apps[n % 4], f"r{n}", Status.OK) for n in range(40)]
            assert await _republish(first, finished, apps, batch=7) == 40
            beside = RoomClaims(other, ledger=None, ledger_ttl=DAY, since_us=0)
            for sdkappid, room_id, _ in finished:
                assert (await beside.claim(sdkappid, [room_id], asyncio.sleep))[0] == Claim(
                    Hold.FINAL
                )
        finally:
            await first.close()
            await other.close()
