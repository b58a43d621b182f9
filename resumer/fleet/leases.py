"""The leases one run holds on rooms, by app, and their renewal on Redis (see fleet.claims).

Renewal (`renew.lua`, one call per app per tick) sets the PX of every lease this run holds back
to the TTL, each only if it is still this run's, takes again one that is gone (it expired during
a stall of Redis or of this run longer than the TTL) unless a ledger says the room is final
meanwhile, and reports those another run holds or finished (`lease_lost`). Leases are renewed for
as long as a room is held, while it waits for a send slot as while its request is out, so the TTL
need not cover the longest wait plus the request timeout: it bounds only how long the rooms of a
runner that died (SIGKILL, a lost host) stay BUSY.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from resumer.fleet import keys
from resumer.fleet.link import Link, lua
from resumer.timing import Clock, Sleep


@dataclass(slots=True)
class Held:
    """This run's lease on one room."""

    value: bytes  # the lease's value as claimed: `TOKEN RUNNER`
    sleep: Sleep  # the nap of the room's app, for its release
    renewed: float  # loop clock when the call that last set or renewed it left
    lost: bool = False  # renewal found it gone or another run's: not renewed, already reported
    recheck: bool = False  # leased soon after a republish: claimed again before its request


class HeldLeases:
    """The leases of one run, by app and room.

    `since(sleep)` is the Redis time (µs, as a string) from which overlap-ledger entries count;
    `lost(sdkappid, room_id)` is told of a lease a renewal found gone or another run's.
    """

    def __init__(
        self,
        link: Link,
        *,
        ledger: str,
        unnamed: str,
        named: bool,
        lease_ttl_ms: str,
        since: Callable[[Sleep], Awaitable[str]],
        lost: Callable[[int, str], None],
        clock: Clock,
    ) -> None:
        self._link = link
        self._ledger, self._unnamed, self._named = ledger, unnamed, named
        self._lease_ttl_ms = lease_ttl_ms
        self._since = since
        self._lost = lost
        self._clock = clock
        self._renew = link.script(lua("renew.lua"))
        self._held: dict[int, dict[str, Held]] = {}  # sdkappid -> room -> lease

    def get(self, sdkappid: int, room_id: str) -> Held | None:
        return self._held.get(sdkappid, {}).get(room_id)

    def put(self, sdkappid: int, room_id: str, held: Held) -> None:
        self._held.setdefault(sdkappid, {})[room_id] = held

    def forget(self, sdkappid: int, room_id: str) -> Held | None:
        """Take the room's lease out (None: not held)."""
        rooms = self._held.get(sdkappid, {})
        held = rooms.pop(room_id, None)
        if not rooms:
            self._held.pop(sdkappid, None)
        return held

    @property
    def count(self) -> int:
        """Rooms held now (as far as this run knows: lost ones are not counted)."""
        return sum(not h.lost for rooms in self._held.values() for h in rooms.values())

    async def renew(self) -> int:
        """Renew every lease held now, one call per app; the number of calls made."""
        made = await asyncio.gather(*(self._renew_app(app) for app in list(self._held)))
        return sum(made)

    async def _renew_app(self, sdkappid: int) -> int:
        rooms = [
            (room, held) for room, held in self._held.get(sdkappid, {}).items() if not held.lost
        ]
        if not rooms:
            return 0
        since = await self._since(asyncio.sleep)
        keys_ = [
            keys.ledger(sdkappid, self._ledger),
            keys.ledger(sdkappid, self._unnamed),
            *(keys.lease(sdkappid, room_id) for room_id, _ in rooms),
        ]
        args: list[str | bytes] = [self._lease_ttl_ms, since, "1" if self._named else "0"]
        for room_id, held in rooms:
            args += [held.value, room_id]
        left = self._clock()

        async def call(client: aioredis.Redis) -> object:
            nonlocal left
            left = self._clock()
            return await self._renew(keys=keys_, args=args, client=client)

        lost = set(ints(await self._link.call(call, asyncio.sleep)))
        for position, (_, held) in enumerate(rooms, start=1):
            if position not in lost:
                held.renewed = max(held.renewed, left)
        for position in sorted(lost):
            room_id, held = rooms[position - 1]
            if not held.lost and self.get(sdkappid, room_id) is held:
                # Not renewed again; its release still records a final outcome if nobody took it.
                held.lost = True
                self._lost(sdkappid, room_id)
        return 1


def ints(answer: object) -> list[int]:
    """A script's array of integers (a TypeError if Redis answered something else)."""
    if not isinstance(answer, list):
        raise TypeError(f"a resumer script answered {answer!r}, not an array")
    return [int(item) for item in answer]
