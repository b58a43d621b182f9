"""Run resumer and time its event loop's timers: `python -m bench.harness.looplag OUT ARGS...`.

Everything after OUT is resumer's command line (`run -c ...`). A small task on resumer's own
event loop sleeps 10 ms at a time, the run through, and notes how late each wake-up is: a late
timer is a late pacer slot, so loop lag turns into arrival jitter at the API. At exit, OUT gets
the lateness's p50 / p99 / max in ms, how many ticks were over 5 ms, and the process's CPU time.

The task is put on the loop from outside, by an event loop policy that starts it on the first
loop `asyncio.run` makes: resumer itself has no trace of it, so a run without the bench pays
nothing. `BENCH_LOOP=uvloop` makes that loop uvloop's, to compare the two under the same watch.
The watch costs 100 wake-ups a second, about 2 ms of CPU a second (0.2 % of a core).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import resource
import runpy
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness.arrivals import percentile

TICK = 0.010  # seconds asked of each sleep
LATE_MS = 5.0  # the target: a timer later than this is a pacer slot visibly late


class LoopLag:
    """The lateness of every tick, in seconds."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self.loop = ""  # the loop's class, e.g. "uvloop.Loop"

    async def watch(self) -> None:
        """Sleep a tick at a time until cancelled (asyncio.run cancels it at the run's end).

        Timed by the monotonic clock, not the loop's own: uvloop's `loop.time()` is libuv's,
        in whole milliseconds and cached per iteration, and would hide a timer firing early.
        """
        while True:
            due = time.monotonic() + TICK
            await asyncio.sleep(TICK)
            self.late.append(time.monotonic() - due)

    def as_json(self) -> dict[str, Any]:
        """p50 / p99 / max in ms, the count over LATE_MS, and the process's CPU time.

        `earliest_ms` is the most a timer fired before it was due (negative: early).
        """
        ms = [x * 1000 for x in self.late]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "ticks": len(ms),
            "tick_ms": TICK * 1000,
            "p50_ms": round(percentile(ms, 50), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms, default=0.0), 2),
            "earliest_ms": round(min(ms, default=0.0), 2),
            f"over_{LATE_MS:g}ms": sum(x > LATE_MS for x in ms),
            "loop": self.loop,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        }


def _base_policy() -> type[asyncio.AbstractEventLoopPolicy]:
    if os.environ.get("BENCH_LOOP") == "uvloop":
        import uvloop  # noqa: PLC0415  (only for this comparison; not a bench dependency)

        policy: type[asyncio.AbstractEventLoopPolicy] = uvloop.EventLoopPolicy
        return policy
    return asyncio.DefaultEventLoopPolicy


def watched_policy(lag: LoopLag) -> asyncio.AbstractEventLoopPolicy:
    """A policy whose first new loop carries `lag.watch()` as a task."""
    base = _base_policy()

    # The base is chosen at run time, which mypy cannot follow.
    class Watched(base):  # type: ignore[valid-type, misc]
        started = False

        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop: asyncio.AbstractEventLoop = super().new_event_loop()
            if not Watched.started:
                Watched.started = True
                lag.loop = f"{type(loop).__module__}.{type(loop).__name__}"
                loop.create_task(lag.watch(), name="bench-loop-lag")
            return loop

    policy: asyncio.AbstractEventLoopPolicy = Watched()
    return policy


def main() -> None:
    """Watch the loop while resumer runs as `python -m resumer ARGS`."""
    out = Path(sys.argv[1])
    lag = LoopLag()
    asyncio.set_event_loop_policy(watched_policy(lag))
    atexit.register(lambda: out.write_text(json.dumps(lag.as_json(), indent=2) + "\n"))
    sys.argv = ["resumer", *sys.argv[2:]]
    runpy.run_module("resumer", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
