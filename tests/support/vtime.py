"""An event loop with virtual time: timers fire at once, in order, and `loop.time()` jumps.

Tests of anything that waits (the pacer, the run loop's backoff) run on it,
so they take milliseconds and never depend on how busy the machine is. An idle turn never
waits for real time, so nothing may feed the loop from another thread: a run on it takes its
input from an in-loop source (`tests.support.sources`).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
TICK = 1e-6  # seconds the clock moves on an idle turn of the loop


class _Selector(selectors.DefaultSelector):
    """Polls real file descriptors without blocking; a wait for a timer moves the clock instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if not ready:
            # Creep at least a microsecond per idle turn, as a real clock would: a timer that
            # reschedules itself "now" (float rounding in a leaky bucket) must still come due.
            self._loop.advance(max(timeout or 0.0, TICK))
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector loop whose clock only moves when every task waits for a timer."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(selector=_Selector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
