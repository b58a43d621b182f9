"""The HTTP edge against raw stub servers on 127.0.0.1: bodies read whole, no redirect followed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from resumer.api.classify import MAX_BODY_BYTES, Action, classify
from resumer.api.client import AiohttpTransport, build_request
from resumer.errors import ConnectError
from resumer.records import Reply
from resumer.sim.config import Latency
from resumer.sim.thread import SimThread
from tests.support.e2e import sim_config

ENVELOPE = json.dumps(
    {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, "RequestId": "Id-split"}
).encode()
USERSIG = "eJy-the-usersig"

# Writes one reply; gets the connection's writer.
Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


class Stub:
    """A raw HTTP/1.1 server: reads each request whole, then lets `answer` write the reply."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []  # each request's head
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                await self.answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def stub(answer: Answer) -> AsyncIterator[Stub]:
    server_stub = Stub(answer)
    server = await asyncio.start_server(server_stub.handle, "127.0.0.1", 0)
    server_stub.port = server.sockets[0].getsockname()[1]
    async with server:
        yield server_stub
        server.close()


async def send(port: int) -> Reply:
    request = build_request(
        base_url=f"http://127.0.0.1:{port}",
        sdkappid=1400000001,
        identifier="administrator",
        usersig=USERSIG,
        random=7,
        room_id="room-1",
    )
    async with AiohttpTransport.new_session(connections=4) as session:
        transport = AiohttpTransport(session, timeout=5.0, wallclock=lambda: 1_000_000.0)
        return await transport(request)


async def in_two_segments(writer: asyncio.StreamWriter, first: bytes, second: bytes) -> None:
    """Write `first`, push it onto the wire, pause, then write `second`: two TCP segments."""
    writer.write(first)
    await writer.drain()
    await asyncio.sleep(0.005)
    writer.write(second)
    await writer.drain()


async def test_a_body_split_in_two_segments_is_read_whole_by_its_content_length() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(ENVELOPE)
    half = len(ENVELOPE) // 2

    async def answer(writer: asyncio.StreamWriter) -> None:
        await in_two_segments(writer, head + ENVELOPE[:half], ENVELOPE[half:])

    async with stub(answer) as server:
        reply = await send(server.port)
    assert reply.body == ENVELOPE
    verdict = classify(reply)
    assert (verdict.action, verdict.request_id) == (Action.OK, "Id-split")


async def test_a_chunked_body_split_mid_chunk_is_read_to_its_last_chunk() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    half = len(ENVELOPE) // 2
    chunks = b"%x\r\n%s\r\n" % (half, ENVELOPE[:half])
    chunks += b"%x\r\n%s\r\n0\r\n\r\n" % (len(ENVELOPE) - half, ENVELOPE[half:])
    cut = len(chunks) // 2 + 3  # inside the second chunk

    async def answer(writer: asyncio.StreamWriter) -> None:
        await in_two_segments(writer, head + chunks[:cut], chunks[cut:])

    async with stub(answer) as server:
        reply = await send(server.port)
    assert reply.body == ENVELOPE
    assert classify(reply).action is Action.OK


async def test_a_body_over_the_cap_is_read_no_further_than_the_cap() -> None:
    size = 4 * MAX_BODY_BYTES
    for framing in (b"Content-Length: %d\r\n" % size, b"Transfer-Encoding: chunked\r\n"):
        chunked = framing.startswith(b"Transfer")

        async def answer(
            writer: asyncio.StreamWriter, chunked: bool = chunked, framing: bytes = framing
        ) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n")
            for _ in range(size // 4096):
                piece = b"x" * 4096
                writer.write(b"1000\r\n" + piece + b"\r\n" if chunked else piece)
                await writer.drain()
            writer.write(b"0\r\n\r\n" if chunked else b"")

        async with stub(answer) as server:
            reply = await send(server.port)
        assert len(reply.body) == MAX_BODY_BYTES + 1, framing
        verdict = classify(reply)
        assert verdict.action is Action.RETRY
        assert f"over {MAX_BODY_BYTES} bytes" in verdict.info


async def test_a_body_cut_off_before_its_content_length_is_a_connection_error() -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + ENVELOPE)
        await writer.drain()
        writer.close()

    async with stub(answer) as server:
        with pytest.raises(ConnectError, match=r"cut off|closed"):
            await send(server.port)


async def test_a_redirect_is_not_followed_and_its_target_gets_nothing() -> None:
    async def elsewhere(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(ENVELOPE), ENVELOPE))

    async with stub(elsewhere) as target:
        location = f"http://127.0.0.1:{target.port}/steal?usersig={USERSIG}".encode()

        async def redirect(writer: asyncio.StreamWriter) -> None:
            writer.write(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location
            )

        async with stub(redirect) as server:
            reply = await send(server.port)
    assert target.requests == []
    assert (reply.http_status, reply.location) == (302, location.decode())
    verdict = classify(reply)
    assert verdict.action is Action.FATAL
    assert verdict.info == f"HTTP 302 (a redirect to http://127.0.0.1:{target.port})"
    assert USERSIG not in verdict.info


async def test_a_redirect_loop_costs_one_request() -> None:
    async def loop_back(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
        )

    async with stub(loop_back) as server:
        reply = await send(server.port)
    assert len(server.requests) == 1
    assert reply.http_status == 307
    assert classify(reply).info == "HTTP 307 (a redirect)"


async def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    for header, seconds in ((b"7", 7.0), (b"Mon, 12 Jan 1970 13:47:00 GMT", 20.0), (b"soon", None)):

        async def answer(writer: asyncio.StreamWriter, header: bytes = header) -> None:
            writer.write(
                b"HTTP/1.1 429 Too Many\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n" % header
            )

        async with stub(answer) as server:
            reply = await send(server.port)  # the wall clock reads 1,000,000 (13:46:40 on day 12)
        assert (reply.http_status, reply.retry_after) == (429, seconds), header


async def test_a_refused_connection_says_so_in_plain_words() -> None:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there now
    with pytest.raises(ConnectError) as refused:
        await send(port)
    assert str(refused.value) == f"cannot connect to 127.0.0.1:{port}: connection refused"


async def test_a_reply_that_came_while_the_process_stood_still_is_read_not_a_timeout() -> None:
    # The loop is held up (as by SIGSTOP) past the request's timeout while the simulator, in
    # its own thread, answers: on waking, the reply waiting in the socket counts.
    request = build_request(
        base_url="",
        sdkappid=1400000001,
        identifier="administrator",
        usersig=USERSIG,
        random=7,
        room_id="room-1",
    )
    with SimThread(sim_config(latency=Latency(min_ms=100, max_ms=100))) as sim:
        request = dataclasses.replace(request, url=sim.url + request.url)
        async with AiohttpTransport.new_session(connections=4) as session:
            transport = AiohttpTransport(session, timeout=0.3)
            await transport(request)  # a connection in the pool: the next request leaves at once
            loop = asyncio.get_running_loop()
            loop.call_later(0.02, time.sleep, 0.8)  # the process stands still, the API answers
            reply = await transport(request)
    assert reply.http_status == 200  # read, whatever the simulator made of the UserSig


async def test_a_request_hears_it_reached_the_wire_on_a_new_connection_and_a_kept_one() -> None:
    loop = asyncio.get_running_loop()
    heard: list[tuple[str, float]] = []

    async def reply(writer: asyncio.StreamWriter) -> None:
        heard.append(("replied", loop.time()))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(ENVELOPE) + ENVELOPE)
        await writer.drain()

    async with stub(reply) as server, AiohttpTransport.new_session(connections=1) as session:
        transport = AiohttpTransport(session, timeout=5.0)
        for name in ("new", "kept"):
            request = build_request(
                base_url=f"http://127.0.0.1:{server.port}",
                sdkappid=1400000001,
                identifier="administrator",
                usersig=USERSIG,
                random=7,
                room_id=name,
                on_wire=lambda name=name: heard.append((name, loop.time())),  # type: ignore[misc]
            )
            assert (await transport(request)).http_status == 200
    assert [what for what, _ in heard] == ["new", "replied", "kept", "replied"]
    assert len(server.requests) == 2
