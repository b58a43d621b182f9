"""One app during a run: its pacer, UserSig, outage gate, queue, stop signal and counts."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

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


class Halt:
    """An app's stop signal, and the naps it cuts short.

    A nap is a future and a timer, as `asyncio.sleep` is; `set` wakes every nap at once. Every
    request naps once in its pacer, so this is the hot path: waiting on an event under a timeout
    instead made each nap that ran its course raise and catch a cancellation and a timeout.
    """

    def __init__(self) -> None:
        self._set = False
        self._naps: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        """The app is stopped."""
        return self._set

    def set(self) -> None:
        """Stop the app: every nap ends now, in Halted."""
        self._set = True
        for woken in self._naps:
            if not woken.done():
                woken.set_result(None)

    async def nap(self, seconds: float) -> None:
        """Sleep, unless and until the app is stopped: then raise Halted."""
        if not self._set:
            loop = asyncio.get_running_loop()
            woken = loop.create_future()
            timer = loop.call_later(seconds, _wake, woken)
            self._naps.add(woken)
            try:
                await woken
            finally:
                timer.cancel()
                self._naps.discard(woken)
            if not self._set:
                return
        raise Halted


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():  # cancelled (the task was), or woken by the stop
        woken.set_result(None)


@dataclass(slots=True)
class AppCounts:
    """Counts of one app, read by the progress display, the metrics and the summary."""

    routed: int = 0  # rooms handed to the app's workers, and invalid ones recorded
    sent: int = 0  # requests sent, retries included
    throttles: int = 0
    skipped: int = 0  # rooms already final (--resume, or another run): neither sent nor written
    statuses: Counter[str] = field(default_factory=Counter)  # rooms with a record, by status
    codes: Counter[str] = field(default_factory=Counter)  # error codes of the rooms not ok
    retry_codes: Counter[int] = field(default_factory=Counter)  # retries, by the code behind
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (action, code)
    # send-to-reply times: counts per DURATION_BUCKETS bucket (+ one over the last), and the sum
    duration_counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0

    @property
    def done(self) -> int:
        """Rooms with a record written."""
        return self.statuses.total()

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
    """One app during the run: its pacer, UserSig, queue, workers' stop signal and counts."""

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
        self.halt = Halt()
        self.nap = self.halt.nap  # sleep, unless and until the app is stopped: then Halted
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
        self.fatal: Verdict | None = None
        self.stopped_because = ""  # the one sentence for the operator, once `fatal` is set
        # The endpoint is the API: a reply was not transient, or carried a JSON envelope.
        self.reached_api = False
        self.outage = OutageGate(clock=asyncio.get_running_loop().time, nap=self.nap)
        self.stats = AppCounts()
        self.margin_said: float | None = None  # the pacer's margin as last logged (attempt)

    def abort(self, verdict: Verdict, sentence: str) -> None:
        """Stop sending for this app at once; `sentence` says why (after "stopped after")."""
        if self.fatal:
            return
        self.fatal = verdict
        self.stopped_because = f"app {self.sdkappid} stopped after {sentence}"
        self.halt.set()
        structlog.get_logger("resumer").error(
            "app_aborted",
            sdkappid=self.sdkappid,
            code=verdict.code,
            info=verdict.info,
            message=self.stopped_because,
        )
