"""A room in flight: the record it makes counts what was sent and the time since its claim."""

from __future__ import annotations

import io

from resumer.api.classify import Action, Verdict
from resumer.config.model import AppConfig
from resumer.engine.app import App
from resumer.engine.recorder import Recorder
from resumer.engine.room import RoomInFlight
from resumer.engine.sharing import LEASED
from resumer.records import Result, Room, Status
from resumer.results.writer import ResultsWriter
from tests.support.vtime import run_virtual


def _record(verdict: Verdict | None, info: str = "") -> Result:
    async def scenario() -> Result:
        app = App(
            AppConfig(sdkappid=1400000001, identifier="admin", secret_key="k"),
            rate=20,
            wallclock=lambda: 0.0,
        )
        writer = ResultsWriter(io.BytesIO(), name="t", owned=False)
        recorder = Recorder(writer, wallclock=lambda: 1_764_000_000.0, on_unwritable=lambda: None)
        clock = [10.0]
        flight = RoomInFlight(
            app, Room(room_id="r"), claim=LEASED, recorder=recorder, clock=lambda: clock[0]
        )
        flight.sending()
        flight.sending()
        clock[0] = 10.25
        return flight.record(Status.REJECTED, verdict, info)

    return run_virtual(scenario())


def test_the_record_counts_the_requests_sent_and_the_time_since_the_claim() -> None:
    rejected = Verdict(action=Action.REJECT, code=100004, info="no such room", request_id="Id-9")
    record = _record(rejected)
    assert (record.attempts, record.elapsed_ms) == (2, 250)
    assert (record.error_code, record.error_info, record.request_id) == (
        100004,
        "no such room",
        "Id-9",
    )
    assert (record.sdkappid, record.room_id) == (1400000001, "r")


def test_an_info_given_outranks_the_verdicts_and_no_verdict_means_no_code() -> None:
    rejected = Verdict(action=Action.REJECT, code=100004, info="no such room")
    assert _record(rejected, "run interrupted").error_info == "run interrupted"
    bare = _record(None, "run interrupted")
    assert (bare.error_code, bare.request_id, bare.error_info) == (0, "", "run interrupted")
