"""Outage detection for one app: when every reply is transient, stop the flood and probe instead.

A blind client keeps sending at full rate into a dead API and burns each room's attempts. Here,
after `threshold` transient failures in a row (no reply of any other kind between them), the
app enters an outage: one probe request at a time, each after a growing pause (1, 2, 4, 8 s,
then every 8 s), while every other room waits without spending attempts. The first reply that is
not transient ends the outage and the app goes back to its paced rate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

THRESHOLD = 10  # transient failures in a row that make an outage (½ s of them at 20/s)
FIRST_PAUSE = 1.0  # seconds before the first probe
MAX_PAUSE = 8.0  # seconds between probes at most: a recovered API is noticed within this


@dataclass(slots=True)
class OutageState:
    """The pure bookkeeping: failures in a row, and when the next probe may leave."""

    failures: int = 0  # transient failures in a row
    pause: float | None = None  # None: no outage; else the pause before the next probe
    next_probe: float = 0.0
    started: float = 0.0  # when the current outage began

    @property
    def active(self) -> bool:
        """True while the app is in an outage."""
        return self.pause is not None

    def failed(self, now: float, *, probe: bool = False) -> bool:
        """A transient failure; True if it started an outage.

        During an outage only a failed probe lengthens the pause: the replies to requests that
        left before the outage began say nothing about how long it lasts.
        """
        self.failures += 1
        if self.pause is None:
            if self.failures < THRESHOLD:
                return False
            self.pause, self.started = FIRST_PAUSE, now
        elif probe:
            self.pause = min(self.pause * 2, MAX_PAUSE)
        else:
            return False
        self.next_probe = now + self.pause
        return self.failures == THRESHOLD

    def answered(self, sent_at: float) -> bool:
        """A reply that is not transient to a request sent at `sent_at`; True if it ended an outage.

        A request sent before the outage began says nothing about the API now (a slow reply
        from before the fall), so it does not end it.
        """
        if self.pause is not None and sent_at < self.started:
            return False
        ended = self.pause is not None
        self.failures, self.pause = 0, None
        return ended


class OutageGate:
    """Lets requests through freely, or during an outage one probe at a time."""

    def __init__(
        self, *, clock: Callable[[], float], nap: Callable[[float], Awaitable[None]]
    ) -> None:
        self.state = OutageState()
        self._clock = clock
        self._nap = nap
        self._probe = asyncio.Lock()  # held by the one request probing the API
        self.outages = 0

    def admission(self) -> AbstractAsyncContextManager[bool]:
        """Wrap one request: free outside an outage, else wait to be the next probe.

        Yields True for the probe. A request admitted freely must look again once it has its
        send slot (`may_send`): an outage may have begun while it waited for the pacer.
        """
        if not self.state.active:
            return _FREE  # nearly every request: no generator, no lock
        return self._queued()

    @asynccontextmanager
    async def _queued(self) -> AsyncIterator[bool]:
        """During an outage: wait to be the next probe, or go freely if it ended meanwhile."""
        await self._probe.acquire()
        if not self.state.active:  # it ended while this one queued: go at the paced rate
            self._probe.release()
            yield False
            return
        try:
            wait = self.state.next_probe - self._clock()
            if wait > 0:
                await self._nap(wait)
            yield True
        finally:
            self._probe.release()

    def may_send(self, probing: bool) -> bool:
        """True unless an outage began since this request was admitted as a free one."""
        return probing or not self.state.active

    def failed(self, *, probe: bool = False) -> bool:
        """Record a transient failure; True if it started an outage."""
        started = self.state.failed(self._clock(), probe=probe)
        self.outages += started
        return started

    def answered(self, sent_at: float) -> float | None:
        """Record any other reply; the outage's length if this ended one."""
        started = self.state.started
        return self._clock() - started if self.state.answered(sent_at) else None


_FREE = contextlib.nullcontext(False)  # the admission outside an outage: not a probe
