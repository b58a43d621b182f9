"""The dispatcher: routes input batches to the apps' queues, then revisits rooms put aside."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, assert_never

from resumer.engine.app import App
from resumer.engine.recorder import Recorder
from resumer.engine.routing import Entry, Route, Router
from resumer.records import Room, Status

REVISIT = 1.0  # seconds between claims of the rooms put aside, once the input is done


class Source(Protocol):
    """Where a run's input entries come from (`handover.ReaderThread` reads them in a thread)."""

    async def take(self) -> list[Entry] | None:
        """The next batch of entries; None at the end, or once closed.

        Raises what the input broke with, after the entries read before it.
        """

    def close(self) -> None:
        """Take no more: a waiting `take` returns None."""


class Dispatcher:
    """Hands every entry to its app's queue, or records it at once if it needs no request."""

    def __init__(
        self,
        apps: dict[int, App],
        *,
        router: Router,
        recorder: Recorder,
        stopped: asyncio.Event,
    ) -> None:
        self._apps = apps
        self._router = router
        self._recorder = recorder
        self._stopped = stopped  # set once the run stops: nothing more is handed out
        self.duplicates = 0  # input lines naming a room already seen: sent once
        self.input_done = False  # every input line has been read

    async def route_input(self, source: Source) -> None:
        """Route every entry of `source`, until its end or the run stops."""
        try:
            if self._stopped.is_set():
                return
            while (batch := await source.take()) is not None:
                for entry in batch:
                    if self._stopped.is_set():
                        return
                    await self._route(entry)
            self.input_done = not self._stopped.is_set()
        finally:
            source.close()

    async def revisit_aside(self) -> None:
        """Claim the rooms put aside again, until none is left (or the run stops).

        A room is put aside when another live run holds it; by now that run has most likely
        finished it (the claim says FINAL: skipped), or died (its lease expired: LEASED).
        """
        while await self._unless_stopped(self._drained):
            aside = [(app, app.aside) for app in self._apps.values() if app.aside]
            if not aside or not await self._unless_stopped(lambda: asyncio.sleep(REVISIT)):
                return
            for app, rooms in aside:
                app.aside = []
                for room in rooms:
                    await app.queue.put(room)

    async def _route(self, entry: Entry) -> None:
        decision = self._router.route(entry)
        app = self._apps.get(decision.sdkappid) if decision.sdkappid is not None else None
        match decision.route:
            case Route.SEND:
                if not isinstance(entry, Room) or app is None:  # the router sends only these
                    raise AssertionError(f"routed to be sent, but cannot be: {entry!r}")
                app.stats.routed += 1
                await app.queue.put(entry)
            case Route.INVALID:
                if app is not None:
                    app.stats.routed += 1  # in the total too, or `done` outgrows it
                record = self._recorder.result(
                    decision.sdkappid, entry.room_id, Status.INVALID, decision.reason
                )
                self._recorder.write(app, record)
            case Route.DUPLICATE:
                self.duplicates += 1
            case Route.SKIPPED:
                self._recorder.skip(app)
            case _:
                assert_never(decision.route)

    async def _drained(self) -> None:
        """Every room handed to the workers so far is done with (recorded, skipped or aside)."""
        for app in self._apps.values():
            await app.queue.join()

    async def _unless_stopped(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Await `work()`; False, with it cancelled, if the run stops first (or had stopped)."""
        if self._stopped.is_set():
            return False
        task = asyncio.ensure_future(work())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
