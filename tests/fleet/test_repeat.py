"""fleet.repeat: a chore that stops, even when its cancellation is swallowed mid-round."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from resumer.fleet.repeat import GRACE, Repeat
from tests.support.vtime import run_virtual


def test_rounds_come_every_interval_from_the_first_until_stopped() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def chore() -> None:
            times.append(loop.time())

        repeat = Repeat(chore, every=2.0, first=0.0, name="t")
        repeat.start()
        await asyncio.sleep(7.0)
        await repeat.stop()
        await asyncio.sleep(10.0)
        return [t - times[0] for t in times]

    assert run_virtual(scenario()) == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=1e-3)


def test_a_chore_that_swallows_its_cancellation_still_stops() -> None:
    async def scenario() -> tuple[float, int, bool]:
        loop = asyncio.get_running_loop()
        rounds = 0

        async def stubborn() -> None:
            nonlocal rounds
            rounds += 1
            # a call under way when the stop comes; the cancel is lost, as a library did once
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.5)

        repeat = Repeat(stubborn, every=1.0, first=0.0, name="t")
        repeat.start()
        await asyncio.sleep(1.7)  # in the second round's call (rounds at 0 and 1.5)
        started = loop.time()
        await repeat.stop()
        took = loop.time() - started
        await asyncio.sleep(10.0)
        return took, rounds, repeat._task is not None and repeat._task.done()

    took, rounds, done = run_virtual(scenario())
    assert took < GRACE
    assert rounds == 2  # no round after the stop
    assert done
