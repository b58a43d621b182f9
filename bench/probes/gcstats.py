"""Count the cyclic garbage collector's work in resumer: `python -m bench.probes.gcstats OUT ...`.

Everything after OUT is resumer's command line (`run -c ...`). At exit, OUT gets a JSON object:
collections and seconds per generation, the longest single pause, and the process's CPU time.
A long pause stops the event loop, and with it every app's pacing, for that long.
"""

from __future__ import annotations

import atexit
import gc
import json
import resource
import runpy
import sys
import time
from pathlib import Path
from typing import Any


class GcClock:
    """Times every collection through `gc.callbacks`."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        generation = int(info["generation"])
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest = max(self.longest, took)

    def as_json(self) -> dict[str, Any]:
        """The counts, the times and the process's CPU time so far."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "collections": self.count,
            "seconds": [round(s, 3) for s in self.seconds],
            "total_s": round(sum(self.seconds), 3),
            "longest_pause_ms": round(self.longest * 1000, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        }


def main() -> None:
    """Time the collector while resumer runs as `python -m resumer ARGS`."""
    out = Path(sys.argv[1])
    clock = GcClock()
    gc.callbacks.append(clock)
    atexit.register(lambda: out.write_text(json.dumps(clock.as_json(), indent=2) + "\n"))
    sys.argv = ["resumer", *sys.argv[2:]]
    runpy.run_module("resumer", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
