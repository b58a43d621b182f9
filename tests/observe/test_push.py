"""Pushes to a Pushgateway: bounded as a whole, any failure a count and a reason, basic auth."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from resumer.observe import metrics
from resumer.observe.metrics import MetricsPusher, exported, split_credentials

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on a free loopback port, for the length of the block; its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in list(writers):
            writer.close()
        writers.clear()


writers: set[asyncio.StreamWriter] = set()  # connections to close when a server stops


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, then answer one byte every 0.2 s: each socket read succeeds, the reply never ends."""
    writers.add(writer)
    with_reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    for byte in with_reply + b"x" * 1000:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except (ConnectionError, RuntimeError):
            return
        await asyncio.sleep(0.2)


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"hello from something else\r\n\r\n")
    await writer.drain()
    writer.close()


async def test_a_push_to_a_server_that_trickles_is_given_up_at_its_deadline() -> None:
    async with serving(trickle) as url:
        pusher = MetricsPusher({}, url)
        started = time.monotonic()
        assert await pusher.push(0.5) is False
        assert time.monotonic() - started < 1.5  # urllib alone would wait until the server ends
        assert pusher.last_error == "no answer within 0.5 s"
        # the first push's thread still waits: no second one is started beside it
        assert await pusher.push(0.5) is False
        assert pusher.failures == 2
        assert "the push before had no answer" in pusher.last_error


async def test_a_reply_that_is_not_http_is_a_failed_push_not_an_exception() -> None:
    async with serving(not_http) as url:
        pusher = MetricsPusher({}, url)
        assert await pusher.push(2.0) is False
    assert pusher.failures == 1
    assert pusher.last_error == "the reply was not HTTP (BadStatusLine)"


async def test_the_final_push_holds_the_end_of_the_run_at_most_its_own_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "FINAL_PUSH_TIMEOUT", 0.5)
    async with serving(trickle) as url:
        started = time.monotonic()
        async with exported({}, listen=None, push=url) as pusher:
            pass
        assert time.monotonic() - started < 1.5
        assert pusher is not None
        assert pusher.failures == 1


async def test_a_user_and_password_in_the_url_are_sent_as_basic_auth() -> None:
    seen: list[bytes] = []

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async with serving(gateway) as url:
        pusher = MetricsPusher({}, url.replace("//", "//ops:p%40ss@"))
        assert await pusher.push(2.0) is True, pusher.last_error
    head = seen[0].decode()
    assert head.startswith("PUT /metrics/job/resumer/instance/")
    token = base64.b64encode(b"ops:p@ss").decode()
    assert f"Authorization: Basic {token}\r\n" in head


def test_credentials_are_split_from_the_url() -> None:
    assert split_credentials("http://a:b@gw:9091/x") == ("http://gw:9091/x", ("a", "b"))
    assert split_credentials("http://gw:9091") == ("http://gw:9091", None)
