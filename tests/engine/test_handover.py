"""The reader thread's handover to the loop: prompt for a slow producer, batched for a fast one.

On real loops, with deadlines: the one place a run's input comes from a thread.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator

import pytest

from resumer.engine.handover import HANDOVER_DELAY, THREAD, Handover, ReaderThread
from resumer.engine.routing import Entry
from resumer.engine.run import Run
from resumer.engine.summary import Summary
from resumer.records import Room
from resumer.results.writer import ResultsWriter
from tests.engine.test_run import ScriptedApi, config

WAIT = 10.0  # seconds any step may take on a busy machine before the test fails


def _start(handover: Handover[int], entries: Iterator[int]) -> threading.Thread:
    thread = threading.Thread(target=handover.feed, args=(entries,), daemon=True)
    thread.start()
    return thread


async def test_a_slow_producers_line_is_handed_over_before_the_next_is_read() -> None:
    gate = threading.Event()

    def slow() -> Iterator[int]:
        yield 1
        assert gate.wait(WAIT)  # the producer writes its next line only after this one is taken
        yield 2

    handover: Handover[int] = Handover(asyncio.get_running_loop(), limit=2048)
    _start(handover, slow())
    started = time.monotonic()
    first = await asyncio.wait_for(handover.take(), WAIT)
    took = time.monotonic() - started
    gate.set()
    assert first == [1]
    assert took < HANDOVER_DELAY + 1.0  # a fraction of a second, not "when 512 lines have come"
    assert await asyncio.wait_for(handover.take(), WAIT) == [2]
    assert await asyncio.wait_for(handover.take(), WAIT) is None


async def test_a_fast_producer_is_handed_over_in_big_batches() -> None:
    handover: Handover[int] = Handover(asyncio.get_running_loop(), limit=2048)
    _start(handover, iter(range(200_000)))
    sizes: list[int] = []
    while (batch := await asyncio.wait_for(handover.take(), WAIT)) is not None:
        sizes.append(len(batch))
    assert sum(sizes) == 200_000
    assert max(sizes) <= 2048
    assert len(sizes) < 200_000 / 200, sorted(sizes)[len(sizes) // 2]  # a wake-up per batch


async def test_the_reader_runs_no_further_ahead_than_the_limit() -> None:
    produced = [0]

    def endless() -> Iterator[int]:
        for n in itertools.count(1):
            produced[0] = n
            yield n

    handover: Handover[int] = Handover(asyncio.get_running_loop(), limit=100)
    _start(handover, endless())
    taken = 0
    for _ in range(20):
        batch = await asyncio.wait_for(handover.take(), WAIT)
        assert batch is not None
        taken += len(batch)
        await asyncio.sleep(0.01)  # the reader fills up to the limit meanwhile, no further
        assert produced[0] - taken <= 100 + 1  # +1: read, not yet handed over
    assert taken >= 100
    handover.close()


async def test_close_ends_a_take_that_waits_for_a_reader_that_never_reads() -> None:
    never = threading.Event()

    def blocked() -> Iterator[int]:
        never.wait()  # a FIFO without a writer, a terminal nobody types at
        yield 1

    handover: Handover[int] = Handover(asyncio.get_running_loop(), limit=2048)
    reader = _start(handover, blocked())
    waiting = asyncio.ensure_future(handover.take())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    handover.close()
    assert await asyncio.wait_for(waiting, WAIT) is None
    never.set()
    reader.join(WAIT)  # and the reader quits at its next entry without handing it over
    assert not reader.is_alive()


async def test_an_input_that_breaks_is_raised_on_the_loop_after_what_was_read() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("I/O error")

    handover: Handover[int] = Handover(asyncio.get_running_loop(), limit=2048)
    _start(handover, broken())
    assert await asyncio.wait_for(handover.take(), WAIT) == [1]
    with pytest.raises(OSError, match="I/O error"):
        await asyncio.wait_for(handover.take(), WAIT)


# `ReaderThread`, the run's input in production, feeding a whole run on a real loop.


async def test_a_reader_closed_before_its_first_take_never_starts_a_thread() -> None:
    reader: ReaderThread[int] = ReaderThread(iter(range(10)))
    reader.close()
    assert await reader.take() is None
    assert not [t for t in threading.enumerate() if t.name == THREAD]


async def test_a_stop_ends_a_run_whose_reader_is_blocked_in_a_read() -> None:
    never = threading.Event()

    def silent() -> Iterator[Entry]:  # a FIFO without a writer, a terminal nobody types at
        yield Room(room_id="r0")
        never.wait()
        yield Room(room_id="r1")

    out = io.BytesIO()
    run = Run(config(), transport=ScriptedApi(), writer=ResultsWriter(out, name="t", owned=False))
    asyncio.get_running_loop().call_later(0.5, run.stop)
    try:
        summary = await asyncio.wait_for(run.resume(ReaderThread(silent())), WAIT)
    finally:
        never.set()
    assert summary.interrupted
    assert [json.loads(line)["room_id"] for line in out.getvalue().splitlines()] == ["r0"]


def test_a_stop_while_the_reader_is_ahead_lets_it_end_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    endless = (Room(room_id=f"r{i}") for i in range(10**9))  # the reader is always ahead

    async def scenario() -> Summary:
        out = ResultsWriter(io.BytesIO(), name="t", owned=False)
        run = Run(config(), transport=ScriptedApi(), writer=out)
        asyncio.get_running_loop().call_later(0.3, run.stop)
        return await asyncio.wait_for(run.resume(ReaderThread(endless)), WAIT)

    # as `resumer run` does: asyncio.run's clean-up, then the loop is gone
    with asyncio.Runner() as runner:
        assert runner.run(scenario()).interrupted
    readers = [t for t in threading.enumerate() if t.name == THREAD]
    for reader in readers:
        reader.join(timeout=WAIT)  # it notices the stop at its next entry
    assert not any(reader.is_alive() for reader in readers)
    assert errors == []
