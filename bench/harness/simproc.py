"""The simulator in its own process, recording every arrival: `python -m bench.harness.simproc`.

The same `SimModel` and aiohttp app as `resumer sim`, with one addition for the benchmarks:
each request's arrival time (seconds since start), SDKAppID and answer kind is kept, and
GET /bench/arrivals?sdkappid=N returns them as {"t": [...], "kind": [...]}, so pacing lag,
per-second rates and recovery can be measured from the server's side; GET /bench/loop_lag says
how late the simulator's own loop ran (a stalled loop stamps arrivals late, in bunches). Prints
the same `listening on URL` line as `resumer sim`, then serves until SIGTERM or SIGINT.

`--arrival-log FILE` writes one JSON line per arrival (unix time, sdkappid, room, answer kind,
and the door: the index of the listening port it came through, so each client given a port of
its own can be told apart); `--doors N` listens on N ports, each printed on its own line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import signal
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import IO

from aiohttp import web

from resumer.sim.config import SimConfig
from resumer.sim.model import SimModel, _room_id
from resumer.sim.profiles import load_profile
from resumer.sim.replies import Answer
from resumer.sim.server import build_app

DOOR: contextvars.ContextVar[int] = contextvars.ContextVar("door", default=0)


class RecordingModel(SimModel):
    """A SimModel that also keeps (time, kind) of every request, per SDKAppID as sent."""

    def __init__(self, config: SimConfig, *, start: float, log: IO[str] | None = None) -> None:
        super().__init__(config, start=start)
        self.arrivals: defaultdict[str, tuple[list[float], list[str]]] = defaultdict(
            lambda: ([], [])
        )
        self._log = log

    def handle(
        self, query: Mapping[str, str], body: bytes, *, now: float, now_unix: float
    ) -> Answer:
        answer = super().handle(query, body, now=now, now_unix=now_unix)
        times, kinds = self.arrivals[query.get("sdkappid", "")]
        times.append(now - self.start)
        kinds.append(answer.kind)
        if self._log is not None:
            sdkappid = query.get("sdkappid", "")
            line = {
                "t": round(now_unix, 4),
                "sdkappid": int(sdkappid) if sdkappid.isdigit() else None,
                "room": _room_id(body),
                "code": answer.kind,
                "door": DOOR.get(),
            }
            self._log.write(json.dumps(line) + "\n")
        return answer


class LoopLag:
    """How late the simulator's own loop runs: a late loop stamps arrivals late, in bunches."""

    TICK = 0.005  # seconds between checks
    LATE = 0.020  # a tick this late counts as a stall

    def __init__(self) -> None:
        self.max_s = 0.0
        self.stalls = 0
        self.ticks = 0

    async def watch(self) -> None:
        """Sleep a tick at a time, forever, noting how late each wake-up is."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.TICK
            await asyncio.sleep(self.TICK)
            late = loop.time() - due
            self.ticks += 1
            self.max_s = max(self.max_s, late)
            self.stalls += late >= self.LATE

    def as_json(self) -> dict[str, float]:
        """The worst lateness in ms, and how many ticks were stalls."""
        return {"max_ms": round(self.max_s * 1000, 1), "stalls_over_20ms": self.stalls}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(profile: str, port: int, *, doors: int = 1, log: IO[str] | None = None) -> None:
    """Serve the profile on 127.0.0.1:port (and `doors - 1` more ports) until a signal."""
    loop = asyncio.get_running_loop()
    model = RecordingModel(load_profile(profile), start=loop.time(), log=log)
    app = build_app(model)
    ports: dict[int, int] = {}

    @web.middleware
    async def door(request: web.Request, handler: Handler) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        DOOR.set(ports.get(sockname[1], 0) if sockname else 0)
        return await handler(request)

    app.middlewares.append(door)

    async def arrivals(request: web.Request) -> web.StreamResponse:
        times, kinds = model.arrivals.get(request.query.get("sdkappid", ""), ([], []))
        return web.json_response({"t": times, "kind": kinds})

    lag = LoopLag()

    async def health(request: web.Request) -> web.StreamResponse:
        return web.json_response(lag.as_json())

    app.router.add_get("/bench/arrivals", arrivals)
    app.router.add_get("/bench/loop_lag", health)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    for n in range(doors):
        await web.TCPSite(runner, "127.0.0.1", port if n == 0 else 0).start()
        host, bound = runner.addresses[n][:2]
        ports[bound] = n
        print(f"resumer sim listening on http://{host}:{bound} (bench)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watching = asyncio.create_task(lag.watch())
    try:
        await stop.wait()
    finally:
        watching.cancel()
        await runner.cleanup()


def main() -> None:
    """Parse --profile and --port, then serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.harness.simproc")
    parser.add_argument("--profile", required=True, help="a TOML profile file")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--doors", type=int, default=1, help="ports to listen on")
    parser.add_argument("--arrival-log", help="a file of one JSON line per arrival")
    args = parser.parse_args()
    if args.arrival_log is None:
        asyncio.run(serve(args.profile, args.port, doors=args.doors))
        return
    with open(args.arrival_log, "w", encoding="utf-8", buffering=1 << 16) as log:
        asyncio.run(serve(args.profile, args.port, doors=args.doors, log=log))


if __name__ == "__main__":
    main()
