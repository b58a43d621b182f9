"""The one place a run writes a room's record and counts its outcome."""

from __future__ import annotations

from collections.abc import Callable

from resumer.engine.app import App
from resumer.records import Result, Status
from resumer.results.schema import utc_timestamp
from resumer.results.writer import ResultsWriter


class Recorder:
    """Builds records, writes them, and counts outcomes: records by status and code, skips."""

    def __init__(
        self,
        writer: ResultsWriter,
        *,
        wallclock: Callable[[], float],
        on_unwritable: Callable[[], None],
    ) -> None:
        self._writer = writer
        self._wallclock = wallclock
        self._on_unwritable = on_unwritable  # the run stops: the log cannot take any more
        self.invalid_unrouted = 0  # invalid lines that named no configured app
        self.skipped_unrouted = 0  # of those, lines already final in the log: not written again

    def result(
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
        """A record stamped now."""
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

    def write(self, app: App | None, result: Result) -> None:
        """Write one record and count it under its app (None: an app that is not configured)."""
        if app is None:
            self.invalid_unrouted += 1
        else:
            app.stats.statuses[result.status] += 1
            if result.status not in (Status.OK, Status.INVALID):  # invalid: no request, no code
                app.stats.codes[str(result.error_code)] += 1
        if not self._writer.write(result):
            # The log cannot be written (the writer put this outcome on stderr): send nothing
            # more; requests in flight finish and their outcomes go the same way.
            self._on_unwritable()

    def skip(self, app: App | None) -> None:
        """Count a room already final (in the log, or finished by another run): not written."""
        if app is None:
            self.skipped_unrouted += 1
        else:
            app.stats.skipped += 1

    def skipped(self, apps: list[App]) -> int:
        """Rooms skipped so far, over every app and none."""
        return self.skipped_unrouted + sum(app.stats.skipped for app in apps)
