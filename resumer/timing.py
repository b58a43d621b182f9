"""The two shapes of time every waiting part takes injected, so tests can drive it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Clock = Callable[[], float]  # seconds, monotonic: usually the running loop's `time`
Sleep = Callable[[float], Awaitable[None]]  # waits that many seconds: usually `asyncio.sleep`
