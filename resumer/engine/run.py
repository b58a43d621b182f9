"""The run: route each room to its app, resume it through the pacer with retries, record it.

    input source ──batches──▶ Dispatcher ──▶ one queue per app ──▶ N workers per app
                                  │                 ▲                 │ claim, RoomInFlight,
                                  │                 └── rooms put ────┤ resume: Attempts
                                  │                     aside, again  │ (budget, transport,
                                  │                                   │ classify), retries,
                                  └── invalid / duplicate / skipped   │ release
                                          ▼                           ▼
                                       Recorder: results log (one line per room, flushed)

Each room is claimed before it is sent, with the next rooms of its app in one call
(`claimed.ClaimedRooms`; `sharing.Sharing`: alone, every claim succeeds; on Redis, a room another
live run holds is put aside and claimed again once the input is done, and one another run
finished is skipped).

Every wait goes through the app's `nap`, which a stop (a fatal reply, a signal, a results log
that cannot be written, Redis lost) cuts short, so nothing sleeps past the moment it stopped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import structlog

from resumer.api.client import Transport
from resumer.config.model import RunConfig
from resumer.engine.app import App, Halted
from resumer.engine.attempt import Attempts
from resumer.engine.claimed import ClaimedRooms
from resumer.engine.dispatch import Dispatcher, Source
from resumer.engine.recorder import Recorder
from resumer.engine.resume import resume
from resumer.engine.room import RoomInFlight
from resumer.engine.routing import Router
from resumer.engine.sharing import LEASED, Alone, Claim, Dropped, Hold, Sharing
from resumer.engine.summary import Summary
from resumer.errors import InputBrokeError, RedisLostError, ResumerError
from resumer.records import Room, Status
from resumer.results.writer import ResultsWriter

# After a stop, requests in flight get the request timeout plus this to finish: a request sent
# just before the stop ends (reply or timeout) within the timeout, and its record is written.
GRACE_MARGIN = 2.0


class Run:
    """One `resumer run`: owns the apps, their workers and claims, and the run's lifecycle."""

    def __init__(
        self,
        config: RunConfig,
        *,
        transport: Transport,
        writer: ResultsWriter,
        skip: Callable[[int | None, str], bool] = lambda _sdkappid, _room_id: False,
        sharing: Sharing | None = None,
        wallclock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._writer = writer
        self._sharing = sharing or Alone()
        self._log = structlog.get_logger("resumer")
        self._clock = asyncio.get_running_loop().time
        self.apps = {
            a.sdkappid: App(a, rate=config.rate, wallclock=wallclock, sharing=self._sharing)
            for a in config.apps
        }
        self._stopped = asyncio.Event()  # set once: stop dispatching, the grace period begins
        self._lost: RedisLostError | None = None  # the shared state was lost: the run stopped
        self._source: Source | None = None
        self._recorder = Recorder(writer, wallclock=wallclock, on_unwritable=self.stop)
        self._dispatcher = Dispatcher(
            self.apps,
            router=Router(self.apps, skip=skip),
            recorder=self._recorder,
            stopped=self._stopped,
        )
        self._attempts = Attempts(
            config,
            transport=transport,
            rng=rng or random.Random(),
            clock=self._clock,
            sharing=self._sharing,
        )
        self._in_flight: set[RoomInFlight] = set()  # rooms resuming, with no record yet
        self._claimed = {sdkappid: self._claimed_rooms(app) for sdkappid, app in self.apps.items()}

    @property
    def input_done(self) -> bool:
        """Every input line has been read."""
        return self._dispatcher.input_done

    def stop(self) -> None:
        """Stop dispatching, also while waiting for input; requests in flight may finish.

        Idempotent. They get the grace period: the request timeout plus GRACE_MARGIN.
        """
        if not self._stopped.is_set():
            self._stopped.set()
            if self._source is not None:
                self._source.close()
            for app in self.apps.values():
                app.halt.set()

    def lose_sharing(self, error: RedisLostError) -> None:
        """What the run shares its budget on is gone past its timeout: stop, exit 3 after."""
        if self._lost is None:
            self._lost = error
            self._log.error("redis_lost_for_good", message=str(error))
        self.stop()

    def abort_in_flight(self) -> int:
        """Record now, synchronously, every room with a request sent and no record yet.

        For an exit that cannot wait for the replies (a second, separate stop signal): each
        gets an `aborted` record whose `attempts` counts the requests sent, so the log says a
        request may have reached the API, and --resume does the room again. Returns how many.
        """
        pending = [flight for flight in self._in_flight if flight.sent]
        self._in_flight.clear()
        info = "run forced to quit before this room got a reply"
        for flight in pending:
            self._recorder.write(flight.app, flight.record(Status.ABORTED, None, info))
        return len(pending)

    async def resume(self, source: Source) -> Summary:
        """Resume every room of `source`; return the summary when all have an outcome.

        An input that breaks after requests were sent ends the run as a stop does, with an
        InputBrokeError (its message: what broke) as the summary's failure; one that breaks
        before any was sent is raised.
        """
        started = self._clock()
        self._source = source
        workers = [
            asyncio.create_task(self._serve_queue(app), name=f"worker-{app.sdkappid}-{n}")
            for app in self.apps.values()
            for n in range(self.config.concurrency)
        ]
        broke: ResumerError | None = None
        try:
            await self._dispatcher.route_input(source)
            await self._dispatcher.revisit_aside()
        except ResumerError as exc:  # the input broke mid-run: stop as on a signal, then say so
            broke = exc
            self.stop()
        for app in self.apps.values():
            await app.queue.put(None)  # the end: every worker of the app ends
        await self._finish(workers)
        for task in workers:
            if not task.cancelled():  # cut off at the end of the grace period: recorded
                task.result()  # a bug in a worker must not pass silently
        if broke is not None and not any(app.stats.sent for app in self.apps.values()):
            raise broke  # nothing was sent: still "fix the input", exit 2
        after_sends = None if broke is None else InputBrokeError(str(broke))
        return Summary(
            # a log that could not be written outranks the rest: outcomes are on stderr
            failure=self._writer.error or after_sends or self._lost,
            apps={sdkappid: app.stats for sdkappid, app in self.apps.items()},
            stopped={a.sdkappid: a.stopped_because for a in self.apps.values() if a.fatal},
            duration=self._clock() - started,
            interrupted=self._stopped.is_set(),
            invalid_unrouted=self._recorder.invalid_unrouted,
            skipped=self._recorder.skipped(list(self.apps.values())),
            duplicates=self._dispatcher.duplicates,
        )

    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; once the run is stopped, for the grace period at most."""
        finished = asyncio.ensure_future(asyncio.wait(workers))
        stopped = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait((finished, stopped), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not finished.done():  # a stop: in flight, a request ends within the timeout
            await asyncio.wait((finished,), timeout=self.config.timeout + GRACE_MARGIN)
        finished.cancel()
        if pending := [task for task in workers if not task.done()]:
            for task in pending:  # cut off: each records its room (`resume`) and ends
                task.cancel()
            await asyncio.wait(pending)

    def _claimed_rooms(self, app: App) -> ClaimedRooms:
        async def claim(rooms: list[Room]) -> list[Claim] | None:
            return await self._claim(app, rooms)

        return ClaimedRooms(
            app.queue, claim=claim, settle=lambda room, claim: self._settle(app, room, claim)
        )

    async def _serve_queue(self, app: App) -> None:
        """A worker: take the app's claimed rooms one by one until the end of its queue."""
        claimed = self._claimed[app.sdkappid]
        while (taken := await claimed.next()) is not None:
            try:
                await self._take(app, *taken)
            finally:
                app.queue.task_done()

    async def _take(self, app: App, room: Room, claim: Claim) -> None:
        """Resume one claimed room, write its record and release it."""
        if self._stopped.is_set() and not app.fatal:
            # never got to it: not written, --resume does it; its lease goes back at once
            self._sharing.release(app.sdkappid, room.room_id, claim, None)
            return
        flight = RoomInFlight(app, room, claim=claim, recorder=self._recorder, clock=self._clock)
        self._in_flight.add(flight)
        try:
            result = await resume(
                flight,
                attempts=self._attempts,
                max_attempts=self.config.max_attempts,
                recorder=self._recorder,
            )
        except Dropped as dropped:  # another run took it over while this one stood still
            self._settle(app, room, Claim(dropped.hold))
            return
        finally:
            # The record is written before the next await: nothing between.
            self._in_flight.discard(flight)
        if result is not None:
            self._recorder.write(app, result)
        # None: never sent (a stop came while it waited): given back, not left to expire
        self._sharing.release(app.sdkappid, room.room_id, flight.claim, result)

    def _settle(self, app: App, room: Room, claim: Claim) -> bool:
        """True if the claim leaves the room to another run: put aside (BUSY) or skipped."""
        if claim.hold is Hold.BUSY:
            app.aside.append(room)
            return True
        if claim.hold is Hold.FINAL:
            app.stats.routed -= 1  # out of the total: another run finished it
            self._recorder.skip(app)
            return True
        return False

    async def _claim(self, app: App, rooms: list[Room]) -> list[Claim] | None:
        """The claims on rooms of one app; None if the run stopped, or stopped while waiting.

        A stopped app claims nothing: its rooms are recorded aborted without a request.
        """
        if app.fatal:
            return [LEASED] * len(rooms)
        if self._stopped.is_set():
            return None  # never got to them: not written, --resume does them
        try:
            return await self._sharing.claim(app.sdkappid, [r.room_id for r in rooms], app.nap)
        except Halted:
            return [LEASED] * len(rooms) if app.fatal else None
