"""Prometheus metrics of a run: served at /metrics (`--metrics`) or pushed (`--metrics-push`).

Nothing is counted for metrics alone. When Prometheus scrapes or a push is due, the apps' own
counters (`AppCounts`, the ones the summary and the progress display read) are copied into a
frozen snapshot, so the hot path pays nothing for metrics and their counters agree exactly with
the summary and the results log. The copy is taken on the run's event loop, the only thread
that changes those counters, so it never holds half an update, and it costs microseconds; the
text of the exposition (milliseconds of Python at 50 apps) is made from it in a worker thread,
so a scrape does not stall the loop that paces the requests.

A push runs in a daemon thread of its own and is awaited for PUSH_TIMEOUT seconds as a whole
(connect, send, read: urllib's own timeout is per socket read, so a server that trickles a
byte at a time would hold it for ever). A push not done by then is left behind: the thread
cannot block the exit, and no other push starts while it lives. Whatever goes wrong is
counted and said once at the end, in a warning; the run's own exit code is never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from http.client import HTTPException
from urllib.error import URLError
from urllib.parse import unquote, urlsplit, urlunsplit

from aiohttp import web
from prometheus_client import push_to_gateway
from prometheus_client.exposition import CONTENT_TYPE_LATEST, basic_auth_handler, default_handler

from resumer.api.classify import printable
from resumer.engine.app import App
from resumer.errors import MetricsError
from resumer.observe.exposition import AppSnapshot, Families, exposition, families, snapshot

PUSH_EVERY = 15.0  # seconds between pushes to a Pushgateway; one more at the end
PUSH_TIMEOUT = 5.0  # seconds one push may take as a whole before it is given up (the run goes on)
FINAL_PUSH_TIMEOUT = 3.0  # seconds the push at the end may hold the run's exit
LAST_SCRAPE_WAIT = 5.0  # seconds /metrics stays up after the run, unless scraped once before then
JOB = "resumer"  # the Pushgateway's job label


class MetricsServer:
    """Serves /metrics on the run's own loop (aiohttp), so a scrape reads the counters in step."""

    def __init__(self, apps: Mapping[int, App]) -> None:
        self._apps = apps
        self._runner: web.AppRunner | None = None
        self._final = False  # the run is over: the counters will not change again
        self._final_scraped = asyncio.Event()

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; MetricsError with a sentence if that cannot be done."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise MetricsError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}): "
                "give a free port with --metrics HOST:PORT"
            ) from None

    async def stop(self, *, linger: float = LAST_SCRAPE_WAIT) -> None:
        """Stop serving once the final state was scraped, or after `linger` seconds."""
        if self._runner is None:
            return
        self._final = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(linger):
                await self._final_scraped.wait()
        await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        final = self._final  # read before the copy: this scrape then sees the final state
        body = await asyncio.to_thread(exposition, snapshot(self._apps))
        if final:
            self._final_scraped.set()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class MetricsPusher:
    """Pushes the run's metrics to a Pushgateway every PUSH_EVERY seconds and at the end."""

    def __init__(self, apps: Mapping[int, App], url: str) -> None:
        self._apps = apps
        self.url = url  # as given, credentials too: show it masked
        self._gateway, self._credentials = split_credentials(url)
        self._grouping = {"instance": socket.gethostname()}
        self._thread: threading.Thread | None = None  # the last push's, perhaps still alive
        self.failures = 0
        self.last_error = ""

    async def run(self, every: float = PUSH_EVERY) -> None:
        """Push periodically until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.push()

    async def push(self, deadline: float = PUSH_TIMEOUT) -> bool:
        """One push of the metrics as they are now, done within `deadline` seconds or given up;
        False (and counted) if it failed in any way."""
        if self._thread is not None and self._thread.is_alive():
            return self._failed(f"the push before had no answer within {PUSH_TIMEOUT:g} s")
        now = snapshot(self._apps)  # taken on the loop
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(
            target=self._push_reporting, args=(now, deadline, loop, done), daemon=True
        )
        self._thread.start()
        try:
            async with asyncio.timeout(deadline):
                await done
        except TimeoutError:
            return self._failed(f"no answer within {deadline:g} s")
        except Exception as exc:  # a push must never stop or fail the run
            return self._failed(push_error(exc))
        return True

    def _failed(self, error: str) -> bool:
        self.failures += 1
        self.last_error = error
        return False

    def _push_reporting(
        self,
        apps: tuple[AppSnapshot, ...],
        timeout: float,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[None],
    ) -> None:
        """The push, in its thread; its outcome handed to the loop if anyone still waits."""
        error: Exception | None = None
        try:
            self._push(apps, timeout)
        except Exception as exc:  # handed to the loop, which says it
            error = exc

        def settle() -> None:
            if done.done():  # given up already
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    def _push(self, apps: tuple[AppSnapshot, ...], timeout: float) -> None:
        push_to_gateway(
            self._gateway,
            job=JOB,
            registry=Families(families(apps)),
            grouping_key=self._grouping,
            timeout=timeout,
            handler=self._handler,
        )

    def _handler(
        self,
        url: str,
        method: str,
        timeout: float | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        """prometheus-client's handler: with basic auth when the URL held a user and password."""
        if self._credentials is None:
            return default_handler(url, method, timeout, headers, data)
        user, password = self._credentials
        return basic_auth_handler(url, method, timeout, headers, data, user, password)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without its user:password@, and that pair (percent-decoded), if it held one."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def push_error(exc: BaseException) -> str:
    """What went wrong with a push, in a few words (never the server's text unescaped)."""
    if isinstance(exc, URLError):  # HTTPError too: "HTTP Error 401: Unauthorized"
        reason = exc.reason if not hasattr(exc, "code") else exc
        return printable(str(reason), 200)
    if isinstance(exc, HTTPException):  # BadStatusLine and the rest: the reply was not HTTP
        return f"the reply was not HTTP ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return printable(exc.strerror or str(exc), 200)
    return printable(f"{type(exc).__name__}: {exc}", 200)


@asynccontextmanager
async def exported(
    apps: Mapping[int, App], *, listen: tuple[str, int] | None, push: str | None
) -> AsyncIterator[MetricsPusher | None]:
    """Serve and/or push the run's metrics while the block runs; the final state at its end.

    The server lingers after the block until one scrape has read the final state, at most
    LAST_SCRAPE_WAIT seconds; the pusher pushes once more. The pusher is returned so the caller
    can say whether pushes failed (a Pushgateway that is down never stops the run).
    """
    server = MetricsServer(apps) if listen else None
    pusher = MetricsPusher(apps, push) if push else None
    if server is not None and listen is not None:
        await server.start(*listen)
    pushing = asyncio.create_task(pusher.run()) if pusher else None
    try:
        yield pusher
    finally:
        if pushing is not None and pusher is not None:
            await stop_quietly(pushing)
            await pusher.push(FINAL_PUSH_TIMEOUT)
        if server is not None:
            await server.stop()


async def stop_quietly(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
