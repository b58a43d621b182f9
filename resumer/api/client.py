"""The HTTP edge: build a `resume_mcu_task` request and send it with aiohttp.

aiohttp's exceptions stop here, translated into `TransportError`s; callers get a `Reply` or one
of resumer's own errors. The transport is one small callable, so tests can swap it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from resumer.api.classify import MAX_BODY_BYTES, retry_after_seconds
from resumer.errors import ConnectError, RequestTimeout
from resumer.records import Reply

LATE = 0.1  # seconds past its deadline a timeout may fire before the loop counts as held up
LATE_GRACE = 0.2  # seconds a reply that came while the process stood still gets to be read
API_PATH = "/v4/live_engine_http_srv/resume_mcu_task"
MAX_RANDOM = 4294967295  # the `random` query parameter is a uint32


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One attempt at resuming one room. Its `query` holds the UserSig: never log it."""

    url: str
    query: tuple[tuple[str, str], ...]
    body: bytes
    # Called as the request reaches the wire: its connection is ready, the write follows at
    # once. Usually at once; later when a new connection had to open first (as httpx's "trace"
    # extension tells a caller of each step).
    on_wire: Callable[[], None] | None = None


def build_request(
    *,
    base_url: str,
    sdkappid: int,
    identifier: str,
    usersig: str,
    random: int,
    room_id: str,
    on_wire: Callable[[], None] | None = None,
) -> Request:
    """The request for one attempt, with this attempt's own `random` and UserSig."""
    return Request(
        url=base_url.rstrip("/") + API_PATH,
        query=(
            ("sdkappid", str(sdkappid)),
            ("identifier", identifier),
            ("usersig", usersig),
            ("random", str(random)),
            ("contenttype", "json"),
        ),
        body=json.dumps({"RoomId": room_id}, ensure_ascii=False).encode(),
        on_wire=on_wire,
    )


Transport = Callable[[Request], Awaitable[Reply]]


class AiohttpTransport:
    """Sends requests over one keep-alive aiohttp session shared by every app of the run."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._seconds = timeout
        self._wallclock = wallclock  # to read a Retry-After given as an HTTP date

    @classmethod
    def new_session(cls, *, connections: int) -> aiohttp.ClientSession:
        """A session whose pool holds `connections` keep-alive connections."""
        connector = _WireConnector(limit=connections, keepalive_timeout=30)
        return aiohttp.ClientSession(
            connector=connector,
            headers={"Content-Type": "application/json"},
            skip_auto_headers=("User-Agent",),
        )

    async def __call__(self, request: Request) -> Reply:
        try:
            async with asyncio.timeout(None) as deadline:
                watch = _Watch(deadline, self._seconds)
                try:
                    return await self._post(request)
                finally:
                    watch.cancel()
        except TimeoutError as exc:
            raise RequestTimeout(f"no reply within {self._seconds:g} s") from exc

    async def _post(self, request: Request) -> Reply:
        _ON_WIRE.set(request.on_wire)  # this task's, for _WireConnector (each post sets it)
        try:
            # Never follow a redirect: it would carry the UserSig to the Location host, as a GET
            # that resumes nothing. A 3xx is a reply like any other; classify says what it means.
            async with self._session.post(
                request.url,
                params=request.query,
                data=request.body,
                timeout=NO_TIMEOUT,  # the run's own (see _Watch)
                allow_redirects=False,
            ) as response:
                body = await _read_body(response)
                retry_after = response.headers.get(aiohttp.hdrs.RETRY_AFTER)
                return Reply(
                    http_status=response.status,
                    body=body,
                    location=response.headers.get(aiohttp.hdrs.LOCATION, ""),
                    retry_after=(
                        None
                        if retry_after is None
                        else retry_after_seconds(retry_after, now=self._wallclock())
                    ),
                )
        except aiohttp.InvalidURL as exc:
            # not the URL itself: it may hold credentials (http://user:pass@host)
            raise ConnectError("the endpoint is not a valid URL: check --endpoint") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectError(_describe(exc)) from exc


NO_TIMEOUT = aiohttp.ClientTimeout()
_ON_WIRE: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("on_wire")


class _WireConnector(aiohttp.TCPConnector):
    """A connector that tells the request (its `on_wire`) when it has its connection.

    aiohttp writes the request as soon as `connect` returns, in the same task, so that moment is
    when it reaches the wire. The request is not passed down to the connector: the hook rides
    in a context variable, which `connect` reads in the task that `_post` set it in.
    """

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Any],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature, overridden
    ) -> aiohttp.connector.Connection:
        connection = await super().connect(req, traces, timeout)
        if (on_wire := _ON_WIRE.get(None)) is not None:
            on_wire()
        return connection


class _Watch:
    """A request's timeout that a reply waiting to be read outruns.

    A timer due while the process stood still (SIGSTOP, a frozen VM, a loop held up) fires on
    the first turn after it wakes, in the same turn that reads the reply which came meanwhile,
    and before the request's task could take it: the reply would be read as a timeout and the
    room sent again. A timer that fires more than LATE past its due time gives the loop
    LATE_GRACE more, once: a reply already in the socket is read by then; none is a timeout.
    """

    def __init__(self, deadline: asyncio.Timeout, seconds: float) -> None:
        self._deadline = deadline
        self._loop = asyncio.get_running_loop()
        self._extended = False
        due = self._loop.time() + seconds
        self._handle = self._loop.call_at(due, self._fire, due)

    def _fire(self, due: float) -> None:
        now = self._loop.time()
        if now - due > LATE and not self._extended:
            self._extended = True
            self._handle = self._loop.call_at(now + LATE_GRACE, self._fire, now + LATE_GRACE)
            return
        self._deadline.reschedule(now)

    def cancel(self) -> None:
        self._handle.cancel()


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The whole body (to its Content-Length, its last chunk or the connection's end, however
    many segments it came in), or its first MAX_BODY_BYTES + 1 bytes if it is longer.

    An over-long body is read no further: aiohttp then closes that connection instead of
    reusing it, so a huge reply costs one connection and 64 KiB, never the memory it claims.
    """
    limit = MAX_BODY_BYTES + 1
    body = bytearray()
    async for chunk in response.content.iter_any():  # each piece as it arrives, to the end
        body += chunk
        if len(body) >= limit:
            return bytes(body[:limit])
    return bytes(body)


def _reason(error: OSError) -> str:
    """Why a connection failed, in plain words: "connection refused", not asyncio's
    "Connect call failed ('127.0.0.1', 1)"."""
    if isinstance(error, socket.gaierror) or not error.errno or error.errno < 0:
        return (error.strerror or str(error) or type(error).__name__).lower()
    return os.strerror(error.errno).lower()


def _describe(exc: BaseException) -> str:
    """A short description of a connection error, without the URL (it holds the UserSig)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before replying"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the reply was cut off"
    return f"connection error ({type(exc).__name__})"
