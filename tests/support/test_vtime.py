"""The virtual-time loop itself: sleeps take no real time, and the clock moves by their length."""

import asyncio
import time

from tests.support.vtime import run_virtual


def test_a_long_sleep_takes_no_real_time_and_moves_the_clock() -> None:
    async def nap() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return loop.time() - start

    started = time.perf_counter()
    assert run_virtual(nap()) >= 3600
    assert time.perf_counter() - started < 1
