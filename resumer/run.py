"""The run loop: route each room to its app, resume it through the pacer with retries, record it.

    input thread ──batches──▶ dispatcher ──▶ one queue per app ──▶ N workers per app
                                  │                                   │ pacer, transport,
                                  └── invalid / duplicate / skipped   │ classify, retries
                                                   ▼                  ▼
                                              results log (one line per room, flushed)

Every wait goes through the app's `nap`, which a stop (a fatal reply, a signal) cuts short, so
nothing sleeps past the moment the run decided to stop.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from itertools import islice

import structlog
from tenacity import RetryCallState

from resumer.app import App, Halted
from resumer.classify import Action, Verdict, classify, fatal_cause
from resumer.client import MAX_RANDOM, Transport, build_request
from resumer.config import RunConfig
from resumer.errors import ResumerError, TransportError
from resumer.records import Result, Room, Status
from resumer.results import ResultsWriter, utc_timestamp
from resumer.retrying import Transient, room_retrying
from resumer.routing import Entry, Route, Router
from resumer.summary import Summary

BATCH = 512  # input lines handed from the reader thread to the loop at a time
AHEAD = 4  # batches the reader may be ahead of the dispatcher
GRACE = 5.0  # seconds that requests in flight get to finish after a stop
OUTAGE_LIMIT = 300.0  # seconds of nothing but transient errors before an app is stopped
FIRST_CONTACT_LIMIT = 30.0  # the same, for an app the API has never answered (a wrong endpoint?)


class Run:
    """One `resumer run`: owns the apps, the dispatcher, the workers and the results writer."""

    def __init__(
        self,
        config: RunConfig,
        *,
        transport: Transport,
        writer: ResultsWriter,
        skip: Callable[[int | None, str], bool] = lambda _sdkappid, _room_id: False,
        wallclock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._writer = writer
        self._wallclock = wallclock
        self._rng = rng or random.Random()
        self._log = structlog.get_logger("resumer")
        self.apps = {a.sdkappid: App(a, rate=config.rate, wallclock=wallclock) for a in config.apps}
        self._router = Router(self.apps, skip=skip)
        self.skipped = 0  # rooms --resume found already final
        self.duplicates = 0
        self._invalid_unrouted = 0
        self._stopping = False
        self.input_done = False  # every input line has been read
        self._clock = asyncio.get_running_loop().time

    def stop(self) -> None:
        """Stop dispatching; requests in flight may finish. Idempotent."""
        if not self._stopping:
            self._stopping = True
            for app in self.apps.values():
                app.halt.set()

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
        except ResumerError as exc:  # the input broke mid-run: stop as on a signal, then say so
            failure = exc
            self.stop()
        for app in self.apps.values():
            for _ in range(self.config.concurrency):
                await app.queue.put(None)
        done, pending = await asyncio.wait(workers, timeout=None if not self._stopping else GRACE)
        if pending:  # only after a stop: cut off what did not finish within the grace period
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)
        for task in done:
            task.result()  # a bug in a worker must not pass silently
        if failure is not None:
            raise failure
        return Summary(
            apps={sdkappid: app.stats for sdkappid, app in self.apps.items()},
            stopped={a.sdkappid: a.stopped_because for a in self.apps.values() if a.fatal},
            duration=self._clock() - started,
            interrupted=self._stopping,
            invalid_unrouted=self._invalid_unrouted,
            skipped=self.skipped,
            duplicates=self.duplicates,
        )

    async def _dispatch(self, entries: Iterator[Entry]) -> None:
        """Route every entry to its app's queue, or record it at once if it needs no request."""
        # The input is read in a daemon thread, so a blocked stdin read never holds the loop
        # or the exit. It runs at most AHEAD batches ahead, and quits when `done` is set.
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[list[Entry] | Exception | None] = asyncio.Queue()
        room = threading.Semaphore(AHEAD)
        done = threading.Event()

        def hand_over(item: list[Entry] | Exception | None) -> bool:
            while not room.acquire(timeout=0.1):
                if done.is_set():
                    return False
            try:
                loop.call_soon_threadsafe(batches.put_nowait, item)
            except RuntimeError:  # the loop is closed: the run is over
                return False
            return True

        def read() -> None:
            try:
                while not done.is_set() and (batch := list(islice(entries, BATCH))):
                    if not hand_over(batch):
                        return
            except Exception as exc:  # an input file that broke mid-run: the loop re-raises it
                hand_over(exc)
            else:
                hand_over(None)

        threading.Thread(target=read, name="resumer-input", daemon=True).start()
        try:
            while not self._stopping and (batch := await batches.get()) is not None:
                room.release()
                if isinstance(batch, Exception):
                    raise batch
                for entry in batch:
                    if self._stopping:
                        return
                    await self._route(entry)
            self.input_done = not self._stopping
        finally:
            done.set()

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
                    self._writer.write(record)
                else:
                    app.stats.routed += 1  # in the total too, or `done` outgrows it
                    self._write(app, record)
            case Route.DUPLICATE:
                self.duplicates += 1
            case Route.SKIPPED:
                self.skipped += 1

    async def _worker(self, app: App) -> None:
        while (room := await app.queue.get()) is not None:
            if self._stopping and not app.fatal:
                continue  # never got to it: not written, --resume does it
            if result := await self._resume(app, room):
                self._write(app, result)

    async def _resume(self, app: App, room: Room) -> Result | None:
        """Resume one room: attempts with backoff until an outcome, and return its record.

        None if the run was interrupted before anything was sent for it: rooms the run never
        got to are not written.
        """
        started = self._clock()
        sent = [0]  # requests sent for this room, throttled ones included
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
                app.stats.retries += 1
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
                    verdict = await self._send(app, room)
                    sent[0] += 1
                finally:
                    app.pacer.done(grant)
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
                    app.stats.throttles += 1
                    if app.pacer.throttled(grant):
                        self._log.info(
                            "throttled",
                            sdkappid=app.sdkappid,
                            room_id=room.room_id,
                            code=verdict.code,
                            rate=round(app.pacer.rate, 2),
                        )
                case Action.RENEW if app.usersigs.can_renew and not renewed:
                    renewed = True
                    app.usersigs.renew()
                case _:  # FATAL, or a UserSig that expired again or cannot be renewed
                    self._abort_app(app, verdict, fatal_cause(verdict.code))
                    raise Halted

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
            return classify(await self._transport(request))
        except TransportError as exc:
            return Verdict(action=Action.RETRY, code=0, info=str(exc))

    def _transient(self, app: App, verdict: Verdict, probing: bool) -> None:
        """Count a transient failure toward an outage; stop the app if one lasts too long."""
        if app.outage.failed(probe=probing):
            self._log.warning(
                "outage_started",
                sdkappid=app.sdkappid,
                code=verdict.code,
                info=verdict.info,
                hint="every reply is transient: probing with single requests until it answers",
            )
        state = app.outage.state
        limit = OUTAGE_LIMIT if app.stats.answered else FIRST_CONTACT_LIMIT
        if state.active and self._clock() - state.started > limit:
            self._abort_app(
                app,
                verdict,
                f"the API gave nothing but transient errors for {limit:g} s (last: "
                f"{verdict.info}): check --endpoint / --region and the API's status, then "
                "run again with --resume",
            )
            raise Halted

    def _abort_app(self, app: App, verdict: Verdict, cause: str) -> None:
        """Stop sending for this app at once, and say why in one sentence."""
        if app.fatal:
            return
        app.fatal = verdict
        app.stopped_because = f"app {app.sdkappid} stopped after error {verdict.code}: {cause}"
        app.halt.set()
        self._log.error(
            "app_aborted",
            sdkappid=app.sdkappid,
            code=verdict.code,
            info=verdict.info,
            message=app.stopped_because,
        )

    def _write(self, app: App, result: Result) -> None:
        app.stats.done += 1
        app.stats.statuses[result.status] += 1
        if result.status not in (Status.OK, Status.INVALID):  # invalid: no request, no code
            app.stats.codes[str(result.error_code)] += 1
        self._writer.write(result)

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
