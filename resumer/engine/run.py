"""The run loop: route each room to its app, resume it through the pacer with retries, record it.

    input thread ──batches──▶ dispatcher ──▶ one queue per app ──▶ N workers per app
                                  │                 ▲                 │ claim, budget,
                                  │                 └── rooms put ────┤ transport, classify,
                                  │                     aside, again  │ retries, release
                                  └── invalid / duplicate / skipped   │
                                                   ▼                  ▼
                                              results log (one line per room, flushed)

Each room is claimed before it is sent (`sharing.Sharing`: alone, every claim succeeds; on
Redis, a room another live run holds is put aside and claimed again once the input is done,
and one another run finished is skipped).

Every wait goes through the app's `nap`, which a stop (a fatal reply, a signal, a results log
that cannot be written, Redis lost) cuts short, so nothing sleeps past the moment it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import structlog
from tenacity import RetryCallState

from resumer.api.classify import Action, Verdict, classify, fatal_cause
from resumer.api.client import MAX_RANDOM, Transport, build_request
from resumer.config.model import RunConfig
from resumer.engine.app import App, Halted
from resumer.engine.handover import Handover
from resumer.engine.routing import Entry, Route, Router
from resumer.engine.sharing import LEASED, Alone, Claim, Hold, Sharing
from resumer.engine.summary import Summary
from resumer.errors import InputBrokeError, RedisLostError, ResumerError, TransportError
from resumer.pace.retrying import Transient, room_retrying
from resumer.records import Result, Room, Status
from resumer.results.writer import ResultsWriter, utc_timestamp

BATCH = 512  # input lines: the unit of read-ahead
AHEAD = 4  # batches the reader may be ahead of the dispatcher
# After a stop, requests in flight get the request timeout plus this to finish: a request sent
# just before the stop ends (reply or timeout) within the timeout, and its record is written.
GRACE_MARGIN = 2.0
OUTAGE_LIMIT = 300.0  # seconds of nothing but transient errors before an app is stopped
FIRST_CONTACT_LIMIT = 30.0  # the same, for an app with no JSON envelope yet (a wrong endpoint?)
REVISIT = 1.0  # seconds between claims of the rooms put aside, once the input is done


class Run:
    """One `resumer run`: owns the apps, the dispatcher, the workers and the results writer."""

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
        self._transport = transport
        self._writer = writer
        self._sharing = sharing or Alone()
        self._wallclock = wallclock
        self._rng = rng or random.Random()
        self._log = structlog.get_logger("resumer")
        self.apps = {
            a.sdkappid: App(a, rate=config.rate, wallclock=wallclock, sharing=self._sharing)
            for a in config.apps
        }
        self._router = Router(self.apps, skip=skip)
        self.skipped = 0  # rooms --resume found already final
        self.duplicates = 0
        self._invalid_unrouted = 0
        self._heard_from: set[int] = set()  # apps that got an envelope: the endpoint is the API
        self._stopping = False
        self._stopped = asyncio.Event()
        self._lost: RedisLostError | None = None  # the shared state was lost: the run stopped
        self._handover: Handover[Entry] | None = None
        # Rooms being resumed, whose record is not written yet: what `abort_in_flight` records.
        self._unrecorded: dict[int, tuple[App, list[int], Callable[..., Result]]] = {}
        self.input_done = False  # every input line has been read
        self._clock = asyncio.get_running_loop().time

    def stop(self) -> None:
        """Stop dispatching, also while waiting for input; requests in flight may finish.

        Idempotent. They get the grace period: the request timeout plus GRACE_MARGIN.
        """
        if not self._stopping:
            self._stopping = True
            self._stopped.set()
            if self._handover is not None:
                self._handover.close()
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
        pending = [(app, record) for app, sent, record in self._unrecorded.values() if sent[0]]
        self._unrecorded.clear()
        info = "run forced to quit before this room got a reply"
        for app, record in pending:
            self._write(app, record(Status.ABORTED, None, info))
        return len(pending)

    async def execute(self, entries: Iterator[Entry]) -> Summary:
        """Resume every room of `entries`; return the summary when all have an outcome."""
        started = self._clock()
        workers = [
            asyncio.create_task(self._worker(app), name=f"worker-{app.sdkappid}-{n}")
            for app in self.apps.values()
            for n in range(self.config.concurrency)
        ]
        failure: ResumerError | None = None
        try:
            await self._dispatch(entries)
            await self._revisit()
        except ResumerError as exc:  # the input broke mid-run: stop as on a signal, then say so
            failure = exc
            self.stop()
        for app in self.apps.values():
            for _ in range(self.config.concurrency):
                await app.queue.put(None)
        await self._finish(workers)
        for task in workers:
            if not task.cancelled():  # cut off at the end of the grace period: recorded
                task.result()  # a bug in a worker must not pass silently
        if failure is not None and not any(app.stats.sent for app in self.apps.values()):
            raise failure  # nothing was sent: still "fix the input", exit 2
        broke = None if failure is None else self._input_broke(failure)
        return Summary(
            # a log that could not be written outranks the rest: outcomes are on stderr
            failure=self._writer.error or broke or self._lost,
            apps={sdkappid: app.stats for sdkappid, app in self.apps.items()},
            stopped={a.sdkappid: a.stopped_because for a in self.apps.values() if a.fatal},
            duration=self._clock() - started,
            interrupted=self._stopping,
            invalid_unrouted=self._invalid_unrouted,
            skipped=self.skipped,
            duplicates=self.duplicates,
        )

    def _input_broke(self, failure: ResumerError) -> InputBrokeError:
        what = (
            "the results printed hold what was done: save them to a file and, once the "
            "input is fixed, run again with -o FILE --resume"
            if self._writer.to_stdout
            else "the results log holds what was done: once the input is fixed, run the "
            "same command again with --resume"
        )
        return InputBrokeError(f"{failure}; requests were already sent and {what}")

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
            for task in pending:  # cut off: each records its room (`_resume`) and ends
                task.cancel()
            await asyncio.wait(pending)

    async def _dispatch(self, entries: Iterator[Entry]) -> None:
        """Route every entry to its app's queue, or record it at once if it needs no request."""
        # The input is read in a daemon thread, so a blocked read (stdin, a FIFO) never holds
        # the loop, a stop or the exit. Each line is handed over as soon as it is read (a slow
        # producer's line is sent at once); the reader runs at most AHEAD batches ahead.
        handover = self._handover = Handover[Entry](asyncio.get_running_loop(), limit=BATCH * AHEAD)
        if self._stopping:
            return
        threading.Thread(
            target=handover.feed, args=(entries,), name="resumer-input", daemon=True
        ).start()
        try:
            while (batch := await handover.take()) is not None:
                for entry in batch:
                    if self._stopping:
                        return
                    await self._route(entry)
            self.input_done = not self._stopping
        finally:
            handover.close()

    async def _route(self, entry: Entry) -> None:
        decision = self._router.route(entry)
        app = self.apps.get(decision.sdkappid) if decision.sdkappid is not None else None
        match decision.route:
            case Route.SEND if isinstance(entry, Room) and app is not None:
                app.stats.routed += 1
                await app.queue.put(entry)
            case Route.INVALID:
                record = self._result(
                    decision.sdkappid, entry.room_id, Status.INVALID, decision.reason
                )
                if app is None:
                    self._invalid_unrouted += 1
                else:
                    app.stats.routed += 1  # in the total too, or `done` outgrows it
                self._write(app, record)
            case Route.DUPLICATE:
                self.duplicates += 1
            case Route.SKIPPED:
                self.skipped += 1
                if app is not None:
                    app.stats.skipped += 1

    async def _revisit(self) -> None:
        """Claim the rooms put aside again, until none is left (or the run stops).

        A room is put aside when another live run holds it; by now that run has most likely
        finished it (the claim says FINAL: skipped), or died (its lease expired: LEASED).
        """
        while await self._unless_stopped(self._drained):
            aside = [(app, app.aside) for app in self.apps.values() if app.aside]
            if not aside or not await self._unless_stopped(lambda: asyncio.sleep(REVISIT)):
                return
            for app, rooms in aside:
                app.aside = []
                for room in rooms:
                    await app.queue.put(room)

    async def _drained(self) -> None:
        """Every room handed to the workers so far is done with (recorded, skipped or aside)."""
        for app in self.apps.values():
            await app.queue.join()

    async def _unless_stopped(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Await `work()`; False, with it cancelled, if the run stops first (or had stopped)."""
        if self._stopping:
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

    async def _worker(self, app: App) -> None:
        while (room := await app.queue.get()) is not None:
            try:
                await self._take(app, room)
            finally:
                app.queue.task_done()

    async def _take(self, app: App, room: Room) -> None:
        """Claim one room, resume it, write its record and release it."""
        if self._stopping and not app.fatal:
            return  # never got to it: not written, --resume does it
        claim = await self._claim(app, room)
        if claim is None:
            return
        if claim.hold is Hold.BUSY:
            app.aside.append(room)
            return
        if claim.hold is Hold.FINAL:
            app.stats.routed -= 1  # out of the total: another run finished it
            app.stats.skipped += 1
            self.skipped += 1
            return
        if result := await self._resume(app, room):
            self._write(app, result)
        # None: never sent (a stop came while it waited): given back, not left to expire
        await self._sharing.release(app.sdkappid, room.room_id, claim, result)

    async def _claim(self, app: App, room: Room) -> Claim | None:
        """The claim on a room; None if the run stopped while waiting for it.

        A stopped app claims nothing: its rooms are recorded aborted without a request.
        """
        if app.fatal:
            return LEASED
        try:
            return await self._sharing.claim(app.sdkappid, room.room_id, app.nap)
        except Halted:
            return LEASED if app.fatal else None

    async def _resume(self, app: App, room: Room) -> Result | None:
        """Resume one room: attempts with backoff until an outcome, and return its record.

        None if the run was interrupted before anything was sent for it: rooms the run never
        got to are not written.
        """
        started = self._clock()
        sent = [0]  # requests sent for this room, throttled ones included, counted as they leave
        last: Verdict | None = None

        def record(status: Status, verdict: Verdict | None, info: str = "") -> Result:
            return self._result(
                app.sdkappid,
                room.room_id,
                status,
                info or (verdict.info if verdict else ""),
                code=verdict.code if verdict else 0,
                request_id=verdict.request_id if verdict else "",
                attempts=sent[0],
                elapsed_ms=round((self._clock() - started) * 1000),
            )

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, Transient):
                app.stats.retry_codes[error.verdict.code] += 1
                wait = state.next_action.sleep if state.next_action else 0.0
                self._log.info(
                    "retrying",
                    sdkappid=app.sdkappid,
                    room_id=room.room_id,
                    attempt=state.attempt_number,
                    code=error.verdict.code,
                    info=error.verdict.info,
                    wait_s=round(wait, 3),
                )

        self._unrecorded[id(sent)] = (app, sent, record)
        try:
            if app.fatal:
                raise Halted
            try:
                last = await self._attempt(app, room, sent)
            except Transient as first:
                # Most rooms succeed at once; only the others get a tenacity controller (its
                # per-call objects sit in reference cycles that cost the GC dearly at scale).
                # Its first attempt replays the failure, so attempt numbers and waits stay true.
                replay = [first]
                retrying = room_retrying(max_attempts=self.config.max_attempts, sleep=app.nap)
                retrying.before_sleep = before_sleep
                async for attempt in retrying:
                    with attempt:
                        if replay:
                            raise replay.pop() from None
                        last = await self._attempt(app, room, sent)
            assert last is not None  # noqa: S101  (the loop ran at least once and did not raise)
            status = Status.OK if last.action is Action.OK else Status.REJECTED
            return record(status, last)
        except Transient as exc:
            return record(Status.GAVE_UP, exc.verdict)
        except Halted:
            if not app.fatal and not sent[0]:
                return None
            return self._aborted(app, record)
        except asyncio.CancelledError:
            # cut off in flight at the end of the grace period: record it, then let it go
            self._write(app, record(Status.ABORTED, None, "run interrupted mid-request"))
            raise
        finally:
            # The caller writes the returned record before its next await: nothing between.
            self._unrecorded.pop(id(sent), None)

    def _aborted(self, app: App, record: Callable[..., Result]) -> Result:
        if app.fatal:
            return record(Status.ABORTED, app.fatal, f"not resumed: {app.stopped_because}")
        return record(Status.ABORTED, None, "run interrupted before this room got a reply")

    async def _attempt(self, app: App, room: Room, sent: list[int]) -> Verdict:
        """Send until the reply is final or retryable.

        Throttles, UserSig renewals and failures during an outage cost the room no attempt.
        """
        renewed = False
        while True:
            async with app.outage.admission() as probing:
                grant = await app.pacer.acquire()
                try:
                    if app.halt.is_set():
                        raise Halted
                    if not app.outage.may_send(probing):
                        continue  # an outage began while this one waited for its slot
                    sent_at = self._clock()
                    sent[0] += 1  # before the await: a room cut off in flight counts it
                    verdict = await self._send(app, room)
                finally:
                    app.pacer.done(grant)
                app.stats.answered_request(verdict.action, verdict.code, self._clock() - sent_at)
            if verdict.action is Action.RETRY:
                self._transient(app, verdict, probing)
                if app.outage.state.active:
                    continue  # the API is down, not this room: wait for the probe's news
                raise Transient(verdict)
            app.stats.answered += 1
            if (outage := app.outage.answered(sent_at)) is not None:
                self._log.warning(
                    "outage_ended", sdkappid=app.sdkappid, duration_s=round(outage, 1)
                )
            match verdict.action:
                case Action.OK | Action.REJECT:
                    return verdict
                case Action.THROTTLE:
                    await self._throttled(app, room, verdict, grant)
                case Action.RENEW if app.usersigs.can_renew and not renewed:
                    renewed = True
                    app.usersigs.renew()
                    self._log.info("usersig_renewed", sdkappid=app.sdkappid, code=verdict.code)
                case _:  # FATAL, or a UserSig that expired again or cannot be renewed
                    expired = verdict.action is Action.RENEW
                    cause = _expired_cause(app) if expired else fatal_cause(verdict)
                    self._abort_app(app, verdict, cause)
                    raise Halted

    async def _throttled(self, app: App, room: Room, verdict: Verdict, grant: int) -> None:
        """Slow the app down; then wait as long as the reply asked (a 429's Retry-After)."""
        app.stats.throttles += 1
        margin = app.pacer.margin
        if app.pacer.throttled(grant):
            # Arrival jitter widens the margin and keeps the rate; a neighbour cuts the rate.
            widened = app.pacer.margin > margin
            self._log.info(
                "margin_widened" if widened else "throttled",
                sdkappid=app.sdkappid,
                room_id=room.room_id,
                code=verdict.code,
                rate=round(app.pacer.rate, 2),
                margin=round(app.pacer.margin, 4),
            )
        if verdict.wait:
            await app.nap(verdict.wait)

    async def _send(self, app: App, room: Room) -> Verdict:
        """One request, with this attempt's own `random` and current UserSig, classified."""
        request = build_request(
            base_url=self.config.endpoint,
            sdkappid=app.sdkappid,
            identifier=app.config.identifier,
            usersig=app.usersigs.current(),
            random=self._rng.randint(0, MAX_RANDOM),
            room_id=room.room_id,
        )
        app.stats.sent += 1
        try:
            return classify(await self._transport(request), self.config.codes)
        except TransportError as exc:
            return Verdict(action=Action.RETRY, code=0, info=str(exc))

    def _transient(self, app: App, verdict: Verdict, probing: bool) -> None:
        """Count a transient failure toward an outage; stop the app if one lasts too long."""
        # Any envelope, transient or not, proves the endpoint is the API: from then on the app
        # gets the long limit; one with none yet (connection refused, an HTML page) the short one.
        if verdict.envelope:
            self._heard_from.add(app.sdkappid)
        if app.outage.failed(probe=probing):
            self._log.warning(
                "outage_started",
                sdkappid=app.sdkappid,
                code=verdict.code,
                info=verdict.info,
                hint="every reply is transient: probing with single requests until it answers",
            )
        state = app.outage.state
        heard = app.stats.answered or app.sdkappid in self._heard_from
        limit = OUTAGE_LIMIT if heard else FIRST_CONTACT_LIMIT
        if state.active and self._clock() - state.started > limit:
            what = "nothing but transient errors" if heard else "no answer from the API"
            self._abort_app(
                app,
                verdict,
                f"{what} for {limit:g} s (last: {verdict.headline}): check --endpoint / --region "
                "and the API's status, then run again with --resume",
                outage=True,
            )
            raise Halted

    def _abort_app(self, app: App, verdict: Verdict, cause: str, *, outage: bool = False) -> None:
        """Stop sending for this app at once, and say why in one sentence.

        The sentence names the reply as the operator reads it ("error 70009", "HTTP 404 (...)",
        "no reply (...)"), never a bare number that is not an ErrorCode ("error 0", "error 200").
        """
        if app.fatal:
            return
        app.fatal = verdict
        what = cause if outage else f"{verdict.headline}: {cause}"
        app.stopped_because = f"app {app.sdkappid} stopped after {what}"
        app.halt.set()
        self._log.error(
            "app_aborted",
            sdkappid=app.sdkappid,
            code=verdict.code,
            info=verdict.info,
            message=app.stopped_because,
        )

    def _write(self, app: App | None, result: Result) -> None:
        if app is not None:
            app.stats.done += 1
            app.stats.statuses[result.status] += 1
            if result.status not in (Status.OK, Status.INVALID):  # invalid: no request, no code
                app.stats.codes[str(result.error_code)] += 1
        if not self._writer.write(result):
            # The log cannot be written (the writer put this outcome on stderr): send nothing
            # more; requests in flight finish and their outcomes go the same way.
            self.stop()

    def _result(
        self,
        sdkappid: int | None,
        room_id: str,
        status: Status,
        info: str,
        *,
        code: int = 0,
        request_id: str = "",
        attempts: int = 0,
        elapsed_ms: int = 0,
    ) -> Result:
        return Result(
            ts=utc_timestamp(self._wallclock()),
            sdkappid=sdkappid,
            room_id=room_id,
            status=status,
            error_code=code,
            error_info=info,
            request_id=request_id,
            attempts=attempts,
            elapsed_ms=elapsed_ms,
        )


def _expired_cause(app: App) -> str:
    """Why an app whose UserSig the API calls expired is stopped, and the fix."""
    if not app.usersigs.can_renew:
        return (
            "its ready UserSig expired mid-run: make one valid for the rest of the run, or set "
            "the secret key so resumer renews it, then run again with --resume"
        )
    return "a UserSig made just now was refused as expired: check this machine's clock"
