"""What the run loop shares with other runs: an app's send budget and its rooms in flight.

    Sharing                      one per run: makes each app's budget, holds the claims
    ├── Alone                    this module: the process paces alone, every room is its own
    └── fleet.RedisSharing       on Redis: the budget, throttle state and rooms shared by every
                                 run that names the same Redis

The run loop talks to these interfaces only; it never asks whether a Redis is there. Before a
room is sent it is claimed, with the next rooms of its app in one call (engine.claimed):
`LEASED` (send it, then `release` with its record), `BUSY` (another live run is on it: put it
aside and come back when the input is done) or `FINAL` (another run finished it: skip it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from resumer.errors import RedisLostError
from resumer.pace.pacer import Pacer
from resumer.records import Result
from resumer.timing import Sleep


class Budget(Protocol):
    """Grants one app's send slots (`pacer.Pacer` is the local one)."""

    @property
    def rate(self) -> float:
        """The rate the app is paced at now, requests/s."""

    @property
    def margin(self) -> float:
        """The part of the budget left unused for arrival jitter now."""

    async def acquire(self) -> int:
        """Wait for the next slot; return its grant number (for `throttled` and `done`)."""

    def left(self, grant: int) -> None:
        """The request of `grant` reaches the wire now (later than granted, maybe)."""

    def done(self, grant: int) -> None:
        """The request of `grant` is over, whatever became of it."""

    def throttled(self, grant: int) -> bool:
        """The request of `grant` was throttled; True if that slowed the app down."""


class Hold(StrEnum):
    """What a claim on a room found."""

    LEASED = "leased"  # this run holds the room now: send it
    BUSY = "busy"  # another live run holds it: come back to it when the input is done
    FINAL = "final"  # another run finished it: skip it


class Dropped(Exception):
    """Another run took a room over (or finished it) while this run's lease on it lapsed."""

    def __init__(self, hold: Hold) -> None:
        super().__init__(hold.value)
        self.hold = hold


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a claim; `token` fences a lease (0: no lease to release)."""

    hold: Hold
    token: int = 0


LEASED = Claim(Hold.LEASED)


class Sharing(Protocol):
    """What one run shares with the others (see the module docstring)."""

    def budget(self, sdkappid: int, *, rate: float, sleep: Sleep) -> Budget:
        """The budget of one app; `sleep` is the app's nap, which a stop cuts short."""

    async def claim(self, sdkappid: int, room_ids: list[str], sleep: Sleep) -> list[Claim]:
        """Claim rooms of one app before they are sent, one claim each, in their order (waits
        through a Redis outage, with `sleep`)."""

    def fresh(self, sdkappid: int, room_id: str, timeout: float) -> bool:
        """This run's hold on the room outlives a request sent now, for sure, and needs no
        second look (else `confirm`)."""

    async def confirm(self, sdkappid: int, room_id: str, sleep: Sleep) -> Hold:
        """Claim a room again whose hold may have lapsed, or that another run may have
        finished since (fleet.claims.RECHECK): LEASED, or BUSY/FINAL (dropped)."""

    def release(self, sdkappid: int, room_id: str, claim: Claim, result: Result | None) -> None:
        """The room's record is written: give the lease back and record a final outcome (on its
        way: it may go with the app's next booking).

        `result` None: the room was never sent after all (the run stopped while it waited for
        a slot): the lease is given back so another run need not wait for it to expire.
        """

    def watch(self, on_lost: Callable[[RedisLostError], None]) -> None:
        """Call `on_lost` if what is shared is gone past its timeout (the run stops: exit 3)."""


class Alone:
    """No sharing: each app paced by this process alone; every room is this run's."""

    def budget(self, sdkappid: int, *, rate: float, sleep: Sleep) -> Budget:
        return Pacer(budget=rate, sleep=sleep)

    async def claim(self, sdkappid: int, room_ids: list[str], sleep: Sleep) -> list[Claim]:
        return [LEASED] * len(room_ids)

    def fresh(self, sdkappid: int, room_id: str, timeout: float) -> bool:
        return True

    async def confirm(self, sdkappid: int, room_id: str, sleep: Sleep) -> Hold:
        return Hold.LEASED

    def release(self, sdkappid: int, room_id: str, claim: Claim, result: Result | None) -> None:
        return None

    def watch(self, on_lost: Callable[[RedisLostError], None]) -> None:
        return None
