"""Hand input entries from a reader thread to the event loop, each as soon as it is read.

The reader thread appends every entry to a shared batch; the entry that starts a batch schedules
a wake-up of the loop (`call_soon_threadsafe`), and the loop then takes whatever has piled up.
A slow producer's line reaches the loop at its next turn, never held back until a batch fills;
a fast producer's lines pile up while the loop is busy elsewhere, so they are taken by the
thousand, and a batch costs the loop one wake-up, however big. The reader waits while `limit`
entries are waiting, so memory does not grow with the input. `close()` ends both sides at once,
also while the loop waits for input that may never come (a FIFO without a writer, a terminal):
the reader is a daemon thread, left blocked in its read, and quits at its next entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Handover(Generic[T]):
    """Entries read in a thread, taken by the loop in batches of whatever has arrived."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, limit: int) -> None:
        self._loop = loop
        self._limit = limit  # entries the reader may be ahead of the loop
        self._lock = threading.Condition()  # guards every field below; the reader waits on it
        self._batch: list[T] = []
        self._ended = False  # the reader reached the end of its input
        self._error: Exception | None = None  # the reader's input broke
        self._closed = False  # the loop wants no more
        self._ready = asyncio.Event()  # loop side: something to take, or the end

    def feed(self, entries: Iterator[T]) -> None:
        """Reader thread: hand over every entry of `entries`, then its end or its exception."""
        try:
            for entry in entries:
                with self._lock:
                    while len(self._batch) >= self._limit and not self._closed:
                        self._lock.wait()
                    if self._closed:
                        return
                    self._batch.append(entry)
                    starts = len(self._batch) == 1
                if starts:  # the loop takes every later one with this one
                    self._wake()
        except Exception as exc:  # an input that broke mid-run: `take` raises it on the loop
            with self._lock:
                self._error = exc
        else:
            with self._lock:
                self._ended = True
        self._wake()

    async def take(self) -> list[T] | None:
        """Loop: every entry read so far, once there is one; None at the end or once closed.

        Raises the exception the reader's input raised, after the entries read before it.
        """
        while True:
            with self._lock:
                batch, self._batch = self._batch, []
                if batch:
                    self._lock.notify()
                    return batch
                if self._error is not None:
                    raise self._error
                if self._ended or self._closed:
                    return None
            # Cleared with the batch empty: the reader's next entry schedules a new `set`,
            # which can only run after this task waits.
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Loop: take no more; the reader stops at its next entry, a waiting `take` returns."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._ready.set()

    def _wake(self) -> None:
        # A closed loop (RuntimeError) means the run is over: nobody takes any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._ready.set)
