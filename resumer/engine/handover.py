"""Hand input entries from a reader thread to the event loop, each as soon as it is read.

`ReaderThread` is a run's input in production: a daemon thread reading into a `Handover`.

The reader thread appends every entry to a shared batch. The entry that starts a batch wakes
the loop HANDOVER_DELAY seconds later (`call_soon_threadsafe`, then a timer), and the entry
that fills it to `limit` wakes it at once; the loop then takes whatever has piled up. A slow
producer's line reaches the loop within HANDOVER_DELAY, never held back until a batch fills; a
fast producer's lines are taken by the thousand, at one or two wake-ups per batch (waking the
loop for every line made a 1M-line input cost 2.5 times the CPU). The reader waits while
`limit` entries are waiting, so memory does not grow with the input. `close()` ends both sides
at once, also while the loop waits for input that may never come (a FIFO without a writer, a
terminal): the reader is a daemon thread, left blocked in its read, and quits at its next entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
THREAD = "resumer-input"  # the reader thread's name
BATCH = 512  # input lines: the unit of read-ahead
AHEAD = 4  # batches the reader may be ahead of the dispatcher
HANDOVER_DELAY = 0.02  # seconds a batch may wait for more entries before the loop takes it


class Handover(Generic[T]):
    """Entries read in a thread, taken by the loop in batches of whatever has arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, limit: int) -> None:
        self._loop = loop
        self._limit = limit  # entries the reader may be ahead of the loop
        # Only the reader appends and only the loop pops, so the queue needs no lock (deque's
        # append and popleft are atomic); the lock is for the slow path, a full queue.
        self._queue: deque[T] = deque()
        self._armed = False  # a wake-up of the loop is on its way for what is queued
        self._room = threading.Condition()  # the reader waits on it while the queue is full
        self._ended = False  # the reader reached the end of its input
        self._error: Exception | None = None  # the reader's input broke
        self._closed = False  # the loop wants no more
        self._ready = asyncio.Event()  # loop side: something to take, or the end

    def feed(self, entries: Iterator[T]) -> None:
        """Reader thread: hand over every entry of `entries`, then its end or its exception."""
        queue, append, limit = self._queue, self._queue.append, self._limit
        try:
            for entry in entries:
                if self._closed:
                    return
                append(entry)
                if not self._armed:  # the loop takes every later entry with this one
                    self._armed = True
                    self._wake(HANDOVER_DELAY)
                if len(queue) >= limit:
                    self._wake(0.0)
                    with self._room:
                        while len(queue) >= limit and not self._closed:
                            self._room.wait()
        except Exception as exc:  # an input that broke mid-run: `take` raises it on the loop
            self._error = exc
        else:
            self._ended = True
        self._wake(0.0)

    async def take(self) -> list[T] | None:
        """Loop: every entry read so far, once there is one; None at the end or once closed.

        Raises the exception the reader's input raised, after the entries read before it.
        """
        while True:
            # Disarmed before the queue is emptied: an entry the reader queues after this
            # arms a new wake-up, one queued before is taken now.
            self._armed = False
            ended, error = self._ended, self._error  # read before the queue: nothing after it
            if self._queue:
                pop = self._queue.popleft
                batch = [pop() for _ in range(len(self._queue))]
                with self._room:
                    self._room.notify()
                return batch
            if error is not None:
                raise error
            if ended or self._closed:
                return None
            # Cleared with the queue empty: the reader's next entry schedules a new `set`,
            # which can only run after this task waits. A stale timer's `set` only costs a turn.
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Loop: take no more; the reader stops at its next entry, a waiting `take` returns."""
        self._closed = True
        with self._room:
            self._room.notify_all()
        self._ready.set()

    def _wake(self, delay: float) -> None:
        # A closed loop (RuntimeError) means the run is over: nobody takes any more.
        with contextlib.suppress(RuntimeError):
            if delay:
                self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._ready.set)
            else:
                self._loop.call_soon_threadsafe(self._ready.set)


class ReaderThread(Generic[T]):
    """A run's input read in a daemon thread, so a blocked read (stdin, a FIFO) never holds
    the loop, a stop or the exit; each entry is handed over as soon as it is read.

    The thread starts at the first `take` (not at all if closed before).
    """

    def __init__(self, entries: Iterator[T], *, limit: int = BATCH * AHEAD) -> None:
        self._entries = entries
        self._limit = limit  # entries the reader may be ahead of the loop
        self._handover: Handover[T] | None = None
        self._closed = False

    async def take(self) -> list[T] | None:
        """Every entry read so far, once there is one; None at the end or once closed."""
        if self._handover is None:
            if self._closed:
                return None
            self._handover = Handover[T](asyncio.get_running_loop(), limit=self._limit)
            threading.Thread(
                target=self._handover.feed, args=(self._entries,), name=THREAD, daemon=True
            ).start()
        return await self._handover.take()

    def close(self) -> None:
        """Take no more; the thread quits at its next entry, a waiting `take` returns None."""
        self._closed = True
        if self._handover is not None:
            self._handover.close()
