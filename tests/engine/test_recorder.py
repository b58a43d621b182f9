"""The recorder: the one writer of records, and the counts of outcomes it keeps."""

from __future__ import annotations

import io
import json

from resumer.config.model import AppConfig
from resumer.engine.app import App
from resumer.engine.recorder import Recorder
from resumer.records import Status
from resumer.results.writer import ResultsWriter
from tests.support.vtime import run_virtual

ONE = 1400000001


class _Closed(io.BytesIO):
    def write(self, data: object) -> int:
        raise BrokenPipeError("closed")


def _app() -> App:
    async def made() -> App:
        return App(
            AppConfig(sdkappid=ONE, identifier="admin", secret_key="k"),
            rate=20,
            wallclock=lambda: 0.0,
        )

    return run_virtual(made())


def test_each_record_is_written_and_counted_by_status_and_code() -> None:
    out, app = io.BytesIO(), _app()
    recorder = Recorder(
        ResultsWriter(out, name="t", owned=False), wallclock=lambda: 0.0, on_unwritable=lambda: None
    )
    for status, code in [(Status.OK, 0), (Status.REJECTED, 100004), (Status.INVALID, 0)]:
        recorder.write(app, recorder.result(ONE, f"r-{status}", status, "", code=code))
    recorder.write(None, recorder.result(None, "x", Status.INVALID, "no app"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["status"] for line in lines] == ["ok", "rejected", "invalid", "invalid"]
    assert (app.stats.done, dict(app.stats.codes)) == (3, {"100004": 1})  # no code for ok/invalid
    assert recorder.invalid_unrouted == 1


def test_skips_are_counted_under_their_app_or_none() -> None:
    app = _app()
    recorder = Recorder(
        ResultsWriter(io.BytesIO(), name="t", owned=False),
        wallclock=lambda: 0.0,
        on_unwritable=lambda: None,
    )
    recorder.skip(app)
    recorder.skip(app)
    recorder.skip(None)
    assert (app.stats.skipped, app.stats.done, recorder.skipped([app])) == (2, 0, 3)


def test_a_record_that_cannot_be_written_stops_the_run() -> None:
    stops: list[None] = []
    writer = ResultsWriter(_Closed(), name="t", owned=False, spill=io.StringIO())
    recorder = Recorder(writer, wallclock=lambda: 0.0, on_unwritable=lambda: stops.append(None))
    recorder.write(None, recorder.result(None, "x", Status.INVALID, "no app"))
    assert stops == [None]
