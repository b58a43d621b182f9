"""`sharing.Sharing` on Redis: the budget, throttle state and rooms in flight of every run that
names the same Redis, and this run's heartbeat, which `resumer status` reads."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import structlog
from redis.exceptions import RedisError

from resumer.config.model import DEFAULT_TIMEOUT
from resumer.config.sharing import SharingConfig
from resumer.engine.sharing import Budget, Claim, Hold
from resumer.errors import RedisLostError, UsageError
from resumer.fleet import keys
from resumer.fleet.budget import SharedPacer
from resumer.fleet.claims import OVERLAP_TTL, RoomClaims, lease_ttl_for
from resumer.fleet.generation import UNVERSIONED, Generations, meet, refuse_other_protocols
from resumer.fleet.keys import PROTOCOL
from resumer.fleet.link import Link, reason, time_us
from resumer.fleet.repeat import Repeat
from resumer.fleet.reserve import asked_member, reserve_source
from resumer.records import Result, Status
from resumer.timing import Sleep

HEARTBEAT = 2.0  # seconds between two heartbeats of a run
HEARTBEAT_TTL_MS = 10_000  # a heartbeat lasts this long: a run not heard of for 10 s is gone


class RedisSharing:
    """What one run shares on Redis; made by `open`, which also starts and stops it."""

    def __init__(
        self,
        link: Link,
        claims: RoomClaims,
        *,
        sdkappids: Sequence[int],
        started_us: int,
        generations: Generations | None = None,
    ) -> None:
        self._link = link
        self._generations = generations
        self._started_us = started_us  # Redis's clock at the start
        self._claims = claims
        self._sdkappids = tuple(sdkappids)
        self._started = time.time()
        self._budgets: list[SharedPacer] = []
        self._heartbeat = Repeat(self._beat, every=HEARTBEAT, first=0, name="resumer-heartbeat")
        self._log = structlog.get_logger("resumer")

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: SharingConfig,
        *,
        sdkappids: Sequence[int],
        finished: Iterable[tuple[int, str, Status]] | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> AsyncIterator[RedisSharing]:
        """Connect (one sentence and exit 2 if Redis does not answer), run, then let go.

        `finished`: with --resume, the final records of the results log, recorded again in
        this run's ledgers before its first claim (fleet.republish). `request_timeout`: the
        run's, which its leases must outlive (claims.lease_ttl_for).
        """
        link = await Link.connect(
            settings.redis, shown_url=settings.shown_redis, limit=settings.redis_timeout
        )
        try:
            try:  # at the start, not failed closed: a Redis that refuses is a usage error
                started_us = await time_us(link.redis)
                beats = await _beats(link)
                protocols = [int(b.get("protocol", UNVERSIONED)) for b in beats]
                if await _first_protocol_runs(link):
                    protocols.append(UNVERSIONED)
                refuse_other_protocols(protocols, settings.shown_redis)
                since_us = _overlap_start(beats, started_us)
                generations = await meet(link, sdkappids)
                claims = RoomClaims(
                    link,
                    ledger=settings.ledger,
                    ledger_ttl=settings.ledger_ttl if settings.ledger else OVERLAP_TTL,
                    since_us=since_us,
                    lease_ttl=lease_ttl_for(request_timeout),
                    generations=generations,
                )
                link.script(reserve_source())  # the pacers' (`budget`), made once the run starts
                await link.load_scripts()
            except (RedisError, OSError) as exc:
                raise UsageError(
                    f"cannot use Redis at {settings.shown_redis} ({reason(exc)}): fix it or --redis"
                ) from None
            sharing = cls(
                link,
                claims,
                sdkappids=sdkappids,
                started_us=started_us,
                generations=generations,
            )
            try:
                if finished is not None:
                    await sharing._republish(finished, settings.shown_redis)
                sharing._heartbeat.start()  # started already after a republish: a no-op
                claims.start()
                yield sharing
            finally:
                await sharing._heartbeat.stop()
                await claims.close()
                sharing._tell()
                with contextlib.suppress(RedisError, OSError):
                    async with link.redis.pipeline(transaction=False) as pipe:  # one round trip
                        pipe.delete(keys.RUNNERS + link.runner)
                        for budget in sharing._budgets:  # its --rate no longer holds the line
                            pipe.zrem(
                                keys.asked(budget.sdkappid),
                                asked_member(budget.budget, link.runner),
                            )
                        await pipe.execute()
        finally:
            await link.close()

    @property
    def runner(self) -> str:
        """This run's name on the Redis."""
        return self._link.runner

    def budget(self, sdkappid: int, *, rate: float, sleep: Sleep) -> Budget:
        pacer = SharedPacer(
            self._link,
            sdkappid,
            budget=rate,
            sleep=sleep,
            generations=self._generations,
            givebacks=self._claims.givebacks,
        )
        self._budgets.append(pacer)
        return pacer

    async def claim(self, sdkappid: int, room_ids: list[str], sleep: Sleep) -> list[Claim]:
        return await self._claims.claim(sdkappid, room_ids, sleep)

    def fresh(self, sdkappid: int, room_id: str, timeout: float) -> bool:
        return self._claims.fresh(sdkappid, room_id, timeout)

    async def confirm(self, sdkappid: int, room_id: str, sleep: Sleep) -> Hold:
        return await self._claims.confirm(sdkappid, room_id, sleep)

    def release(self, sdkappid: int, room_id: str, claim: Claim, result: Result | None) -> None:
        self._claims.release(sdkappid, room_id, claim, result)

    def watch(self, on_lost: Callable[[RedisLostError], None]) -> None:
        self._link.on_lost = on_lost

    async def _republish(
        self, finished: Iterable[tuple[int, str, Status]], shown_redis: str
    ) -> None:
        """Record the log's final rooms again (fleet.republish), after a first heartbeat, and
        with the heartbeat going: a run started meanwhile sees this one, or started before
        these stamps. A Redis that fails meanwhile is a refusal (exit 2): nothing was sent."""
        try:
            await self._write_beat()
            self._heartbeat.start()
            rooms = await self._claims.republish(finished, self._sdkappids)
        except (RedisError, OSError) as exc:
            raise UsageError(
                f"cannot use Redis at {shown_redis} ({reason(exc)}) to record again the rooms "
                "final in the results log: nothing was sent; run the same command again once "
                "Redis answers"
            ) from None
        self._log.info("ledger_republished", rooms=rooms, ledger=self._claims.ledger)

    def _tell(self) -> None:
        """What sharing did, in one event at the end: for the review after the incident."""
        self._log.info(
            "redis_shared",
            runner=self._link.runner,
            redis_calls=self._link.calls,
            slots=sum(b.calls for b in self._budgets),
            slots_given_up=sum(b.missed for b in self._budgets),
            redis_outages=self._link.outages,
            **asdict(self._claims.stats),
        )

    async def _beat(self) -> None:
        """Say that this run is alive, and on which apps (every HEARTBEAT seconds)."""
        with contextlib.suppress(RedisError, OSError):  # the link's callers see the loss
            await self._write_beat()

    async def _write_beat(self) -> None:
        beat = {
            "runner": self._link.runner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": round(self._started, 3),
            "started_us": self._started_us,
            "protocol": PROTOCOL,
            "apps": list(self._sdkappids),
            "seen": round(time.time(), 3),
        }
        async with self._link.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.RUNNERS + self._link.runner, json.dumps(beat), px=HEARTBEAT_TTL_MS)
            pipe.sadd(keys.APPS, *self._sdkappids)
            await pipe.execute()


async def _beats(link: Link) -> list[dict[str, Any]]:
    """The heartbeats of the runs alive now."""
    names = [k async for k in link.redis.scan_iter(match=keys.RUNNERS + "*", count=1000)]
    beats: list[dict[str, Any]] = []
    for beat in await link.redis.mget(names) if names else []:
        if beat is not None:  # None: it expired since the SCAN
            with contextlib.suppress(ValueError, TypeError):
                data = json.loads(beat)
                if isinstance(data, dict):
                    beats.append(data)
    return beats


async def _first_protocol_runs(link: Link) -> bool:
    """True if a run of protocol 1, whose heartbeats had no hash tag, is alive now."""
    names = [k async for k in link.redis.scan_iter(match=keys.RUNNERS_V1 + "*", count=1000)]
    return bool(names)


def _overlap_start(beats: list[dict[str, Any]], started_us: int) -> int:
    """Since when a run without --ledger honours the outcomes other runs recorded: its own
    start, or the start of the oldest run alive now, if earlier.

    Runs that overlap thus never send one room twice, whichever started first; a run started
    after every other ended does every room again (a new incident may have broken them anew).
    """
    starts = [started_us]
    for beat in beats:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            starts.append(int(beat["started_us"]))
    return min(starts)
