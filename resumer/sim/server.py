"""The simulator over HTTP: an aiohttp server around `SimModel`, on loopback.

POST /v4/live_engine_http_srv/resume_mcu_task    the API
GET  /stats                                      the model's stats (?rooms=0: no per-room map)
POST /reset                                      zero the stats, for tests
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from resumer.sim.config import SimConfig
from resumer.sim.model import SimModel

RESUME_PATH = "/v4/live_engine_http_srv/resume_mcu_task"
HANG_S = 3600.0  # a hung reply waits this long, far beyond any client's timeout


def build_app(model: SimModel) -> web.Application:
    """The aiohttp application serving `model`; its clock is the running loop's."""

    async def resume(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        if (delay := model.arrival_delay()) > 0:
            await asyncio.sleep(delay)  # the trip over a jittery network, before it is counted
        now = loop.time()  # the arrival, before the body is read: what the window measures
        body = await request.read()
        answer = model.handle(request.query, body, now=now, now_unix=time.time())
        if answer.hang:
            # cancelled when the client gives up (handler_cancellation) or the server closes
            await asyncio.sleep(HANG_S)
            raise web.HTTPGatewayTimeout
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        return web.Response(
            status=answer.status, body=answer.body, content_type=answer.content_type
        )

    async def stats(request: web.Request) -> web.StreamResponse:
        rooms = request.query.get("rooms", "1") not in {"0", "false", "no"}
        return web.json_response(model.stats(now=asyncio.get_running_loop().time(), rooms=rooms))

    async def reset(request: web.Request) -> web.StreamResponse:
        model.reset_stats(now=asyncio.get_running_loop().time())
        return web.json_response({"reset": True})

    app = web.Application()
    app.router.add_post(RESUME_PATH, resume)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


class RunningSim:
    """A simulator serving on a loopback port, started by `start_sim`; close it when done."""

    def __init__(self, *, url: str, model: SimModel, runner: web.AppRunner) -> None:
        self.url = url  # e.g. http://127.0.0.1:8080, the base URL a client is pointed at
        self.model = model
        self._runner = runner

    def stats(self, *, rooms: bool = True) -> dict[str, Any]:
        """The stats now; call it on the simulator's event loop."""
        return self.model.stats(now=asyncio.get_running_loop().time(), rooms=rooms)

    def reset(self) -> None:
        """Zero the stats; call it on the simulator's event loop."""
        self.model.reset_stats(now=asyncio.get_running_loop().time())

    async def close(self) -> None:
        """Stop serving; requests still in flight get up to the shutdown timeout."""
        await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def start_sim(
    config: SimConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    shutdown_timeout: float = 1.0,
) -> RunningSim:
    """Start serving `config` on host:port (0: a free port); OSError if it cannot listen."""
    model = SimModel(config, start=asyncio.get_running_loop().time())
    runner = web.AppRunner(
        build_app(model),
        access_log=None,  # one line per request would cost more than the request itself
        handler_cancellation=True,  # a client that gives up on a hung reply frees its handler
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningSim(url=f"http://{url_host}:{bound_port}", model=model, runner=runner)
