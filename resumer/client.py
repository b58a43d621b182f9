"""The HTTP edge: build a `resume_mcu_task` request and send it with aiohttp.

aiohttp's exceptions stop here, translated into `TransportError`s; callers get a `Reply` or one
of resumer's own errors. The transport is one small callable, so tests can swap it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from resumer.classify import MAX_BODY_BYTES
from resumer.errors import ConnectError, RequestTimeout
from resumer.records import Reply

API_PATH = "/v4/live_engine_http_srv/resume_mcu_task"
MAX_RANDOM = 4294967295  # the `random` query parameter is a uint32


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One attempt at resuming one room. Its `query` holds the UserSig: never log it."""

    url: str
    query: tuple[tuple[str, str], ...]
    body: bytes


def build_request(
    *, base_url: str, sdkappid: int, identifier: str, usersig: str, random: int, room_id: str
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
    )


Transport = Callable[[Request], Awaitable[Reply]]


class AiohttpTransport:
    """Sends requests over one keep-alive aiohttp session shared by every app of the run."""

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._seconds = timeout

    @classmethod
    def new_session(cls, *, connections: int) -> aiohttp.ClientSession:
        """A session whose pool holds `connections` keep-alive connections."""
        connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=30)
        return aiohttp.ClientSession(
            connector=connector,
            headers={"Content-Type": "application/json"},
            skip_auto_headers=("User-Agent",),
        )

    async def __call__(self, request: Request) -> Reply:
        try:
            async with self._session.post(
                request.url, params=request.query, data=request.body, timeout=self._timeout
            ) as response:
                # Read at most one byte past the limit: a huge body is not an envelope anyway.
                body = await response.content.read(MAX_BODY_BYTES + 1)
                return Reply(http_status=response.status, body=body)
        except TimeoutError as exc:
            raise RequestTimeout(f"no reply within {self._seconds:g} s") from exc
        except aiohttp.InvalidURL as exc:
            raise ConnectError(f"invalid endpoint URL {request.url!r}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectError(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    """A short description of a connection error, without the URL (it holds the UserSig)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before replying"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the reply was cut off"
    return f"connection error ({type(exc).__name__})"
