"""Resuming one room through a run: retries of transient failures, giving up, the retry event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from resumer.errors import RequestTimeout
from resumer.records import Reply
from tests.engine.test_run import KEY, ScriptedApi, by_room, config, envelope, execute, rooms


def test_transient_errors_cost_exactly_that_many_extra_attempts() -> None:
    api = ScriptedApi(
        {
            "twice": [envelope(100001), envelope(100001)],
            "task": [envelope(100424)],
            "fast": [envelope(100427)],
            "gateway": [Reply(http_status=502, body=b"Bad Gateway")],
            "timeout": [RequestTimeout("no reply within 6 s")],
            "html": [Reply(http_status=200, body=b"<html>oops</html>")],
        }
    )
    _, records = execute(config(), api, rooms(*api.scripts))
    expected = {"twice": 3, "task": 2, "fast": 2, "gateway": 2, "timeout": 2, "html": 2}
    assert {r["room_id"]: r["attempts"] for r in records} == expected
    assert all(r["status"] == "ok" for r in records)
    assert dict(api.calls) == expected
    assert len(set(api.randoms)) == len(api.randoms)  # a fresh random on every attempt


def test_a_room_that_keeps_failing_gives_up_after_max_attempts() -> None:
    api = ScriptedApi({"sick": [envelope(100001)] * 10})
    _, records = execute(config(max_attempts=3), api, rooms("sick", "fine"))
    sick = by_room(records)["sick"]
    assert (sick["status"], sick["attempts"], sick["error_code"]) == ("gave_up", 3, 100001)
    assert by_room(records)["fine"]["status"] == "ok"


def test_retry_events_name_the_room_and_code() -> None:
    api = ScriptedApi({"r": [envelope(100001)]})
    with structlog.testing.capture_logs() as events:
        execute(config(), api, rooms("r"))
    retrying = [e for e in events if e["event"] == "retrying"]
    assert retrying[0]["room_id"] == "r"
    assert retrying[0]["code"] == 100001
    assert KEY not in repr(events)


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    yield
    structlog.reset_defaults()
