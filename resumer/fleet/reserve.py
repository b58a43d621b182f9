"""reserve.lua as Python sees it: the constants it is filled in with, its ARGV, its reply.

The script and why it books as it does: fleet.budget, whose SharedPacer is its one caller.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum

from resumer.fleet.generation import GENERATION_TTL_MS
from resumer.fleet.link import lua
from resumer.pace.pacer import SKEW, WINDOW
from resumer.pace.pacing import (
    BETA,
    MIN_RATE,
    NUDGE,
    QUIET,
    SCALE,
    SHRINK,
    START_COVER,
    STEP,
    WIDEST_COVER,
)

EPOCH = 1_700_000_000  # Unix seconds (November 2023): the script's µs count from here, exactly
AHEAD = 1.0  # seconds: the furthest ahead the script books a slot
KEEP = 2.0  # seconds of slots kept in `keys.sends`: a window and some
TTL = 60.0  # seconds an app's keys outlive its last reservation
LIVE = 10.0  # seconds a runner's --rate stays in the app's line after its last reservation
US = 1_000_000
NS = 1_000_000_000


class ThrottleAnswer(IntEnum):
    """What the script made of the throttle report a reservation carried."""

    NONE = 0  # nothing reported
    STALE = 1  # the send was booked before the episode's answer: nothing new
    CUT = 2  # a neighbour: the shared rate was cut
    WIDENED = 3  # jitter: the shared margin widened, TAT moved back by as much


@dataclasses.dataclass(frozen=True, slots=True)
class Reservation:
    """The script's answer; times in µs since EPOCH on Redis's clock."""

    booked: bool  # False: nothing booked, ask again at `at`
    wiped: bool  # the app's generation is gone or another: Redis lost the shared state
    now: int  # when the script ran
    at: int  # the slot booked (or when to ask again)
    rate: float  # the app's shared rate, under the budget less the shared margin, requests/s
    throttle: ThrottleAnswer
    cover: float  # the shared margin, as the seconds of arrival jitter J it covers: budget/(1+J)
    given: list[int] = dataclasses.field(default_factory=list)  # give_back's answers
    count: int = 1  # slots booked, from `at` on
    interval: int = 0  # µs between them

    @property
    def slot(self) -> int:
        """The slot booked; 0 if none was."""
        return self.at if self.booked else 0

    @property
    def wait(self) -> float:
        """Seconds from the script's run to the slot (or to asking again)."""
        return (self.at - self.now) / US

    @classmethod
    def parse(cls, reply: object) -> Reservation:
        if not isinstance(reply, list) or len(reply) != 9 or not isinstance(reply[6], list):
            raise TypeError(f"unexpected reply from reserve.lua: {reply!r}")
        booked, now, at, rate, throttle, cover = (int(value) for value in reply[:6])
        return cls(
            booked=booked == 1,
            wiped=booked == -1,
            now=now,
            at=at,
            rate=rate / US,
            throttle=ThrottleAnswer(throttle),
            cover=cover / NS,
            given=[int(answer) for answer in reply[6]],
            count=int(reply[7]),
            interval=int(reply[8]),
        )

    @property
    def margin(self) -> float:
        """The part of the budget the fleet leaves unused for arrival jitter: 1 − 1/(1 + J)."""
        return 1 - 1 / (1 + self.cover)


def reserve_source() -> str:
    """The script, its constants filled in from the Python ones it must agree with."""
    return (
        lua("ledger.lua")
        + lua("giveback.lua")
        + lua(
            "reserve.lua",
            EPOCH=EPOCH,
            BETA=repr(BETA),
            SCALE=repr(SCALE),
            MIN_RATE=repr(MIN_RATE),
            WINDOW_S=repr(WINDOW),
            WINDOW_US=round(WINDOW * US),
            SKEW_US=round(SKEW * US),
            AHEAD_US=round(AHEAD * US),
            KEEP_US=round(KEEP * US),
            TTL_MS=round(TTL * 1000),
            GENERATION_TTL_MS=GENERATION_TTL_MS,
            LIVE_US=round(LIVE * US),
            # The fleet's margin never goes below where a run's starts: each runner may send up
            # to budget.LATE after its slot, and the runners' lateness adds (see pacing.Margin).
            LEAST_COVER=repr(START_COVER),
            WIDEST_COVER=repr(WIDEST_COVER),
            STEP=repr(STEP),
            NUDGE=repr(NUDGE),
            QUIET=repr(QUIET),
            SHRINK=repr(SHRINK),
        )
    )


def reserve_args(
    *,
    budget: float,
    caller: str,
    report: int = 0,
    ended: float | None = None,
    unused: int = 0,
    generation: str = "",
    now: int | None = None,
    count: int = 1,
) -> list[str]:
    """The script's ARGV (see reserve.lua) up to the leases it gives back: `caller` is the
    runner's name, `ended` is seconds ago the caller's first request ended (None: no news),
    `generation` the app's as the caller met it ("": not checked); `now` (µs) is for tests;
    `count` the slots wanted."""
    return [
        repr(budget),
        str(report),
        "-1" if ended is None else str(round(ended * US)),
        str(unused),
        caller,
        generation,
        "" if now is None else str(now),
        str(count),
    ]


def asked_member(budget: float, caller: str) -> str:
    """The caller's entry in `keys.asked`, as reserve.lua writes it from ARGV 1 and 5."""
    return f"{budget!r} {caller}"
