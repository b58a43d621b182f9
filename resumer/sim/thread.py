"""The simulator on its own event loop in a background thread, for tests that run the CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from resumer.sim.config import SimConfig
from resumer.sim.server import RunningSim, start_sim

START_TIMEOUT = 10.0  # seconds to wait for the server to listen, or for a stats call
T = TypeVar("T")


class SimThread:
    """`with SimThread(config) as sim:` serves on `sim.url` until the block ends."""

    def __init__(self, config: SimConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._started: Future[tuple[asyncio.AbstractEventLoop, RunningSim, asyncio.Event]]
        self._started = Future()
        self._thread = threading.Thread(target=self._main, name="resumer-sim", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:PORT."""
        return self._running()[1].url

    def stats(self, *, rooms: bool = True) -> dict[str, Any]:
        """The stats now (computed on the simulator's loop)."""
        return self._call(lambda sim: sim.stats(rooms=rooms))

    def reset(self) -> None:
        """Zero the stats."""
        self._call(lambda sim: sim.reset())

    def start(self) -> None:
        """Start serving; raises what the server raised if it could not listen."""
        self._thread.start()
        self._started.result(timeout=START_TIMEOUT)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._started.done() and self._started.exception() is None:
            loop, _, stop = self._started.result()
            loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> tuple[asyncio.AbstractEventLoop, RunningSim, asyncio.Event]:
        if not self._started.done():
            raise RuntimeError("the simulator thread is not running: use it as a context manager")
        return self._started.result()

    def _call(self, fn: Callable[[RunningSim], T]) -> T:
        """Run `fn(sim)` on the simulator's loop, where the model lives, and return its value."""
        loop, sim, _ = self._running()

        async def on_loop() -> T:
            return fn(sim)

        return asyncio.run_coroutine_threadsafe(on_loop(), loop).result(timeout=START_TIMEOUT)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            sim = await start_sim(self._config, host=self._host, port=self._port)
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        stop = asyncio.Event()
        self._started.set_result((asyncio.get_running_loop(), sim, stop))
        try:
            await stop.wait()
        finally:
            await sim.close()
