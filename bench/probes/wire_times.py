"""resumer that notes when each request was granted and reached the wire:
`python -m bench.probes.wire_times FILE run ...`.

Scenario 5 runs its largest step once more under this launcher when a step had more than 20
arrivals in a second at the simulator: were the client's sends too close at the wire, or did
the simulator read well-spaced sends late? The launcher wraps the pacer's `acquire` and `left`
(each request's hook as its connection is ready) and writes, at exit, per app, every grant's
(granted, at the wire) on the monotonic clock, as JSON to FILE. Then it runs the real CLI.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from resumer.cli.main import main
from resumer.engine.attempt import Attempts
from resumer.pace.pacer import Pacer

Times = dict[int, list[float]]  # grant: [granted, at the wire]


def record(into: dict[int, Times], apps: dict[int, int]) -> None:
    """Wrap Pacer.acquire, Pacer.left and Attempts._send to fill `into` (by pacer) and `apps`
    (pacer → SDKAppID)."""
    acquire, left, send = Pacer.acquire, Pacer.left, Attempts._send

    async def acquire_noted(self: Pacer) -> int:
        grant = await acquire(self)
        now = time.monotonic()
        into.setdefault(id(self), {})[grant] = [now, now]
        return grant

    def left_noted(self: Pacer, grant: int) -> None:
        left(self, grant)
        if (times := into.get(id(self), {}).get(grant)) is not None:
            times[1] = time.monotonic()

    def send_noted(self: Attempts, flight: Any, grant: int) -> Coroutine[Any, Any, Any]:
        apps[id(flight.app.pacer)] = flight.app.sdkappid
        return send(self, flight, grant)

    Pacer.acquire = acquire_noted  # type: ignore[method-assign]
    Pacer.left = left_noted  # type: ignore[method-assign]
    Attempts._send = send_noted  # type: ignore[method-assign]


def writer(path: Path, into: dict[int, Times], apps: dict[int, int]) -> Callable[[], None]:
    def write() -> None:
        by_app = {
            str(apps[pacer]): [times[g] for g in sorted(times)]
            for pacer, times in into.items()
            if pacer in apps
        }
        path.write_text(json.dumps(by_app))

    return write


if __name__ == "__main__":
    target, args = Path(sys.argv[1]), sys.argv[2:]
    pacers: dict[int, Times] = {}
    owners: dict[int, int] = {}
    record(pacers, owners)
    atexit.register(writer(target, pacers, owners))
    sys.exit(main(args))
