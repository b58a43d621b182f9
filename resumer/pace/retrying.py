"""The retry policy for one room, built from tenacity's explicit pieces (never its defaults)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exception,
    wait_random_exponential,
)

from resumer.api.classify import Verdict

BACKOFF_BASE = 0.5  # seconds: the first retry waits up to this, the n-th up to base·2ⁿ⁻¹
BACKOFF_CAP = 20.0  # seconds: no single wait is longer than this


class Transient(Exception):
    """An attempt failed in a way worth retrying; carries the verdict for the record."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.info)
        self.verdict = verdict


def verdict_wait(error: BaseException) -> float:
    """The least wait the reply asked for (`Verdict.wait`): 100427's cool-down, a Retry-After."""
    return error.verdict.wait if isinstance(error, Transient) else 0.0


def room_retrying(*, max_attempts: int, sleep: Callable[[float], Awaitable[None]]) -> AsyncRetrying:
    """A fresh controller for one room: tenacity's AsyncRetrying holds per-call state, so one
    shared across coroutines would mix up their attempt counts.

    Full-jitter exponential backoff (a uniform draw in [0, base·2ⁿ⁻¹], capped), plus the least
    wait the reply asked for (100427's cool-down, a Retry-After); stops after `max_attempts`
    counted attempts and re-raises the last Transient.
    """
    return AsyncRetrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait_random_exponential(multiplier=BACKOFF_BASE, max=BACKOFF_CAP)
        + wait_exception(verdict_wait),
        retry=retry_if_exception_type(Transient),
        sleep=sleep,
        reraise=True,
    )
