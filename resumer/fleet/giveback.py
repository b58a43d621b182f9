"""Leases a run is done with, on their way back to Redis with the app's next booking.

A room's record is written; its lease goes back, with its final outcome for the ledgers, in the
app's next call to `reserve.lua` (which begins with `giveback.lua`), so a request costs one round
trip instead of two. A lease no booking took within CARRY_WAIT (the app sends nothing more: the
end of its input, a stop, a long wait for a slot) goes on its own, with every other one of its
app then waiting, in one call to `release.lua`; the run's end sends what is left, once.

What waiting costs: another run meets the room BUSY a little longer (it comes back to it), and a
run killed with SIGKILL loses the give-backs that waited, at most CARRY_WAIT of finished rooms:
their outcomes miss the ledgers (the results log has them) and their leases expire after their
TTL, so another run may do those rooms again, as it may the requests that were on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog

from resumer.fleet import keys
from resumer.fleet.link import Link, lua
from resumer.timing import Sleep

CARRY_WAIT = 0.25  # seconds a lease waits for a booking to carry it before it goes alone
MOST = 256  # leases one call gives back: a call's keys and arguments stay small
RELEASED, EXPIRED, LOST = 1, 2, 0  # give_back's answers (see giveback.lua)


@dataclass(frozen=True, slots=True)
class GiveBack:
    """One lease to give back."""

    room_id: str
    value: bytes  # the lease's value as claimed: `TOKEN RUNNER`
    status: str  # the final outcome to record; "" when it is not final
    lost: bool = False  # a renewal found it another run's: reported already


@dataclass(frozen=True, slots=True)
class Carried:
    """Leases of one app on their way back in one call, as KEYS and ARGV of `give_back`."""

    sdkappid: int
    items: tuple[GiveBack, ...]
    keys: list[str]
    args: list[str | bytes]


class GiveBacks:
    """One run's leases waiting to go back, by app (see the module docstring).

    `answered(sdkappid, item, answer)` is told what became of each lease given back;
    `failed(items)` of those that could not be given back (Redis lost past the run's stop).
    """

    def __init__(
        self,
        link: Link,
        *,
        ledger: str,
        unnamed: str,
        ledger_ttl_ms: str,
        overlap_ttl_ms: str,
        answered: Callable[[int, GiveBack, int], None],
        failed: Callable[[int], None],
        wait: float = CARRY_WAIT,
    ) -> None:
        self._link = link
        self._ledger, self._unnamed = ledger, unnamed
        self._ttls = [ledger_ttl_ms, overlap_ttl_ms]
        self._answered = answered
        self._failed = failed
        self._wait = wait
        self._script = link.script(lua("ledger.lua") + lua("giveback.lua") + lua("release.lua"))
        self._waiting: dict[int, list[GiveBack]] = {}
        self._naps: dict[int, Sleep] = {}  # the app's nap: its stop ends a wait for Redis
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False
        self.alone = 0  # calls of their own (no booking carried them)

    def add(self, sdkappid: int, item: GiveBack, sleep: Sleep) -> None:
        """A lease to give back: with the app's next booking, or alone after the wait."""
        self._waiting.setdefault(sdkappid, []).append(item)
        self._naps[sdkappid] = sleep
        self._arm(sdkappid)

    def _arm(self, sdkappid: int) -> None:
        """Time the wait of the app's oldest lease waiting, unless it is timed already (or
        the run ends: `close` gives back what waits)."""
        if sdkappid not in self._timers and not self._closed:
            loop = asyncio.get_running_loop()
            self._timers[sdkappid] = loop.call_later(self._wait, self._due, sdkappid)

    def carry(self, sdkappid: int) -> Carried | None:
        """The app's waiting leases, for a booking to carry (None: none wait)."""
        items = self._waiting.pop(sdkappid, None)
        if not items:
            return None
        if len(items) > MOST:
            items, self._waiting[sdkappid] = items[:MOST], items[MOST:]
        elif (timer := self._timers.pop(sdkappid, None)) is not None:
            # Nothing waits any more: the next lease starts a wait of its own. A timer left
            # to run would send that one alone long before its wait is over.
            timer.cancel()
        keys_ = [
            keys.ledger(sdkappid, self._ledger),
            keys.ledger_counts(sdkappid, self._ledger),
            keys.ledger(sdkappid, self._unnamed),
            keys.ledger_counts(sdkappid, self._unnamed),
            *(keys.lease(sdkappid, item.room_id) for item in items),
        ]
        args: list[str | bytes] = [*self._ttls]
        for item in items:
            args += [item.value, item.room_id, item.status]
        return Carried(sdkappid, tuple(items), keys_, args)

    def carried(self, carried: Carried, answers: object) -> None:
        """What the call that carried them answered; None: not given back, they wait again
        (for the next booking, or alone after the wait)."""
        if answers is None:
            self._put_back(carried)
            self._arm(carried.sdkappid)
            return
        if not isinstance(answers, list) or len(answers) != len(carried.items):
            raise TypeError(f"a resumer script gave back {answers!r}")
        for item, answer in zip(carried.items, answers, strict=True):
            self._answered(carried.sdkappid, item, int(answer))

    def _put_back(self, carried: Carried) -> None:
        """Leases a call did not give back, first in line again."""
        self._waiting.setdefault(carried.sdkappid, [])[:0] = carried.items

    async def flush(self, sleep: Sleep = asyncio.sleep) -> None:
        """Give back what waits now, one call per app (through an outage, waiting with `sleep`)."""
        for sdkappid in list(self._waiting):
            await self._alone(sdkappid, sleep)

    def _due(self, sdkappid: int) -> None:
        """The wait is over: what no booking carried goes alone."""
        self._timers.pop(sdkappid, None)
        if self._waiting.get(sdkappid):
            task = asyncio.create_task(self._alone_now(sdkappid, self._naps[sdkappid]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _alone_now(self, sdkappid: int, sleep: Sleep) -> None:
        with contextlib.suppress(Exception):  # the app stopped: the run's end tries once more
            await self._alone(sdkappid, sleep)

    async def _alone(self, sdkappid: int, sleep: Sleep) -> None:
        while (carried := self.carry(sdkappid)) is not None:
            self.alone += 1
            try:
                answers = await self._link.call(self._call(carried), sleep)
            except BaseException:  # the app's stop ended the wait for Redis: the end tries again
                self._put_back(carried)
                raise
            self.carried(carried, answers)

    def _call(self, carried: Carried) -> Callable[[aioredis.Redis], Awaitable[object]]:
        return lambda client: self._script(keys=carried.keys, args=carried.args, client=client)

    async def close(self) -> None:
        """Give back what still waits, one try per app (the run ends; never a wait for Redis)."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._flushes):
            await task
        for sdkappid in list(self._waiting):
            while (carried := self.carry(sdkappid)) is not None:
                try:
                    answers = await self._call(carried)(self._link.redis)
                except Exception as exc:  # the leases expire on their own after their TTL
                    structlog.get_logger("resumer").debug(
                        "give_back_failed", sdkappid=sdkappid, reason=str(exc)
                    )
                    self._failed(len(carried.items))
                    continue
                self.carried(carried, answers)
