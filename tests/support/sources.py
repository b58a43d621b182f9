"""Input sources on the loop itself, for runs on virtual time (no reader thread to wait for)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from resumer.engine.routing import Entry

BATCH = 512  # entries per batch, as the reader thread hands them over at most


class Entries:
    """The entries of an iterable, in batches; what it raises, after the entries before it."""

    def __init__(self, entries: Iterable[Entry], *, batch: int = BATCH) -> None:
        self._entries = iter(entries)
        self._batch = batch
        self._error: Exception | None = None
        self._closed = False

    async def take(self) -> list[Entry] | None:
        await asyncio.sleep(0)  # a turn of the loop, as a handover would take
        if self._error is not None:
            raise self._error
        if self._closed:
            return None
        batch: list[Entry] = []
        try:
            for entry in self._entries:
                batch.append(entry)
                if len(batch) >= self._batch:
                    break
        except Exception as exc:  # the input broke: raised at the next take
            self._error = exc
        if not batch and self._error is not None:
            raise self._error
        return batch or None

    def close(self) -> None:
        self._closed = True


class Stepped:
    """Batches the test hands over one by one (`give`), then the end (`end`) or an error."""

    def __init__(self) -> None:
        self._batches: asyncio.Queue[list[Entry] | Exception | None] = asyncio.Queue()
        self._closed = asyncio.Event()
        self.taken = 0  # batches the run has taken

    def give(self, *entries: Entry) -> None:
        self._batches.put_nowait(list(entries))

    def end(self, error: Exception | None = None) -> None:
        self._batches.put_nowait(error)

    async def take(self) -> list[Entry] | None:
        if self._closed.is_set():
            return None
        nxt = asyncio.ensure_future(self._batches.get())
        closed = asyncio.ensure_future(self._closed.wait())
        await asyncio.wait((nxt, closed), return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if not nxt.done():
            nxt.cancel()
            return None
        step = nxt.result()
        if isinstance(step, Exception):
            raise step
        self.taken += step is not None
        return step

    def close(self) -> None:
        self._closed.set()
