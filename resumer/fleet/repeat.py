"""A background chore on the run's loop (a heartbeat, lease renewal) that always stops.

Stopping sets a flag the chore checks before each round, then cancels its task and waits for
it, at most GRACE seconds. A cancellation that a library swallows in the middle of a call
(seen once in the bench: redis-py's pipeline, the heartbeat back in its sleep with the cancel
lost, and the run hung after its last record) ends the chore at its next check instead of
holding the run's exit for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

GRACE = 2.0  # seconds a stopping chore is waited for: a call gives up within 1 s


class Repeat:
    """`chore()` every `every` seconds in a task of its own, from `start()` to `stop()`."""

    def __init__(
        self, chore: Callable[[], Awaitable[None]], *, every: float, name: str, first: float
    ) -> None:
        self._chore = chore
        self._every = every
        self._first = first  # seconds before the first round (0: at once)
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the rounds (inside the run's event loop); a second start does nothing."""
        if self._task is None:
            self._task = asyncio.create_task(self._rounds(), name=self._name)

    async def stop(self) -> None:
        """Stop: no round starts after this; the one under way is cancelled."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait((self._task,), timeout=GRACE)

    async def _rounds(self) -> None:
        pause = self._first
        while not await self._stopped_within(pause):
            await self._chore()
            pause = self._every

    async def _stopped_within(self, seconds: float) -> bool:
        """Wait `seconds` or until `stop`; True if stopping."""
        if seconds > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._stopping.wait()
        return self._stopping.is_set()
