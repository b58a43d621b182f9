"""Resume one room: attempts with backoff until an outcome, and the record that says it."""

from __future__ import annotations

import asyncio

import structlog
from tenacity import RetryCallState

from resumer.api.classify import Action
from resumer.engine.app import Halted
from resumer.engine.attempt import Attempts
from resumer.engine.recorder import Recorder
from resumer.engine.room import RoomInFlight
from resumer.pace.retrying import Transient, room_retrying
from resumer.records import Result, Status


async def resume(
    flight: RoomInFlight, *, attempts: Attempts, max_attempts: int, recorder: Recorder
) -> Result | None:
    """The record of one room's resumption, once it has an outcome.

    None if the run was interrupted before anything was sent for it: rooms the run never got
    to are not written. Cut off in flight (cancelled), it writes its record and re-raises.
    """
    app = flight.app
    try:
        if app.fatal:
            raise Halted
        try:
            flight.last = await attempts.once(flight)
        except Transient as first:
            # Most rooms succeed at once; only the others get a tenacity controller (its
            # per-call objects sit in reference cycles that cost the GC dearly at scale).
            # Its first attempt replays the failure, so attempt numbers and waits stay true.
            replay = [first]
            retrying = room_retrying(max_attempts=max_attempts, sleep=app.nap)
            retrying.before_sleep = lambda state: _retrying(flight, state)
            async for attempt in retrying:
                with attempt:
                    if replay:
                        raise replay.pop() from None
                    flight.last = await attempts.once(flight)
        last = flight.last
        assert last is not None  # noqa: S101  (the loop ran at least once and did not raise)
        return flight.record(Status.OK if last.action is Action.OK else Status.REJECTED, last)
    except Transient as exc:
        return flight.record(Status.GAVE_UP, exc.verdict)
    except Halted:
        if app.fatal:
            return flight.record(Status.ABORTED, app.fatal, f"not resumed: {app.stopped_because}")
        if not flight.sent:
            return None
        return flight.record(Status.ABORTED, None, "run interrupted before this room got a reply")
    except asyncio.CancelledError:
        # cut off in flight at the end of the grace period: record it, then let it go
        recorder.write(app, flight.record(Status.ABORTED, None, "run interrupted mid-request"))
        raise


def _retrying(flight: RoomInFlight, state: RetryCallState) -> None:
    """Before a retry's wait: count it under the code behind it, and say so."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, Transient):
        flight.app.stats.retry_codes[error.verdict.code] += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        structlog.get_logger("resumer").info(
            "retrying",
            sdkappid=flight.app.sdkappid,
            room_id=flight.room.room_id,
            attempt=state.attempt_number,
            code=error.verdict.code,
            info=error.verdict.info,
            wait_s=round(wait, 3),
        )
