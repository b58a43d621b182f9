"""One app during a run: its pacer, UserSig, outage gate, queue, stop signal and counters."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from resumer.api.classify import Verdict
from resumer.api.usersig import UserSigSource
from resumer.config.model import AppConfig
from resumer.engine.sharing import Alone, Budget, Sharing
from resumer.pace.outage import OutageGate
from resumer.records import Room

QUEUE = 512  # rooms waiting for an app's workers; the input is read no further ahead
# Upper bounds (s) of the request-duration histogram's buckets: the API's own timeout is 3 s.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 6.0, 10.0)


class Halted(Exception):
    """The app was stopped (fatal reply or interrupted) while this room waited."""


@dataclass(slots=True)
class AppStats:
    """Counters of one app, read by the progress display and the summary."""

    routed: int = 0  # rooms handed to the app's workers
    done: int = 0  # rooms with a record written
    sent: int = 0  # requests sent, retries included
    answered: int = 0  # replies that were not transient
    throttles: int = 0
    skipped: int = 0  # rooms already final (--resume): neither sent nor written
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)  # error codes of the rooms not ok
    retry_codes: Counter[int] = field(default_factory=Counter)  # retries, by the code behind
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (action, code)
    # send-to-reply times: counts per DURATION_BUCKETS bucket (+ one over the last), and the sum
    duration_counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0

    @property
    def retries(self) -> int:
        """Retries after a transient failure (throttles and renewals are not retries)."""
        return self.retry_codes.total()

    def answered_request(self, action: str, code: int, seconds: float) -> None:
        """Count one request's answer (or failure) and how long it took."""
        self.requests[action, code] += 1
        self.duration_counts[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.duration_sum += seconds


class App:
    """One app during the run: its pacer, UserSig, queue, workers' stop signal and counters."""

    def __init__(
        self,
        config: AppConfig,
        *,
        rate: float,
        wallclock: Callable[[], float],
        sharing: Sharing | None = None,
    ) -> None:
        self.config = config
        self.sdkappid = config.sdkappid
        sharing = sharing or Alone()
        self.pacer: Budget = sharing.budget(config.sdkappid, rate=rate, sleep=self.nap)
        self.usersigs = UserSigSource(
            sdkappid=config.sdkappid,
            identifier=config.identifier,
            clock=wallclock,
            secret_key=config.secret_key,
            usersig=config.usersig,
        )
        self.queue: asyncio.Queue[Room | None] = asyncio.Queue(maxsize=QUEUE)
        self.aside: list[Room] = []  # rooms another live run held: tried again after the input
        self.halt = asyncio.Event()
        self.fatal: Verdict | None = None
        self.stopped_because = ""  # the one sentence for the operator, once `fatal` is set
        self.outage = OutageGate(clock=asyncio.get_running_loop().time, nap=self.nap)
        self.stats = AppStats()

    async def nap(self, seconds: float) -> None:
        """Sleep, unless and until the app is stopped: then raise Halted."""
        if not self.halt.is_set():
            try:
                async with asyncio.timeout(seconds):
                    await self.halt.wait()
            except TimeoutError:
                return
        raise Halted
