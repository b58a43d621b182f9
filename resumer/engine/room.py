"""A room in flight: what one room's resumption has done so far, and its record."""

from __future__ import annotations

from collections.abc import Callable

from resumer.api.classify import Verdict
from resumer.engine.app import App
from resumer.engine.recorder import Recorder
from resumer.engine.sharing import Claim
from resumer.records import Result, Room, Status


class RoomInFlight:
    """One room between its claim and its record: requests sent, the last reply, the time."""

    def __init__(
        self,
        app: App,
        room: Room,
        *,
        claim: Claim,
        recorder: Recorder,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.room = room
        self.claim = claim  # this run's hold on the room, released once its record is written
        self._recorder = recorder
        self._clock = clock
        self.started = clock()
        self.sent = 0  # requests sent, throttled ones included, counted as they leave
        self.last: Verdict | None = None  # the last reply that was not transient

    def sending(self) -> None:
        """A request for this room is about to leave: the one place every send goes through.

        Counted before the request's await, so a room cut off in flight counts it; what must
        hold before each send (this run's lease on the room) belongs here too.
        """
        self.sent += 1

    def record(self, status: Status, verdict: Verdict | None = None, info: str = "") -> Result:
        """The room's record now: `info`, else the verdict's, with its code and request ID."""
        return self._recorder.result(
            self.app.sdkappid,
            self.room.room_id,
            status,
            info or (verdict.info if verdict else ""),
            code=verdict.code if verdict else 0,
            request_id=verdict.request_id if verdict else "",
            attempts=self.sent,
            elapsed_ms=round((self._clock() - self.started) * 1000),
        )
