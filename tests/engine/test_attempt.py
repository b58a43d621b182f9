"""Attempts through a run: final refusals, throttles, fatal replies, UserSig renewal, outages."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import structlog

from resumer.config.model import AppConfig, RunConfig
from resumer.engine.attempt import FIRST_CONTACT_LIMIT, OUTAGE_LIMIT
from resumer.errors import ConnectError
from resumer.records import Reply, Status
from tests.engine.test_run import ScriptedApi, by_room, config, envelope, execute, rooms

APP = 1400000001
FOREVER = 10_000  # replies in a script that outlasts any limit


def test_an_api_that_only_answers_100001_gets_the_long_limit_not_the_first_contact_one() -> None:
    api = ScriptedApi({f"r{i}": [envelope(100001)] * FOREVER for i in range(20)})
    summary, records = execute(config(), api, rooms(*api.scripts))
    assert OUTAGE_LIMIT < summary.duration < OUTAGE_LIMIT + 30
    assert summary.stopped[APP] == (
        f"app {APP} stopped after nothing but transient errors for {OUTAGE_LIMIT:g} s "
        "(last: error 100001): check --endpoint / --region and the API's status, then run "
        "again with --resume"
    )
    assert "aborted" in {r["status"] for r in records}


def test_an_endpoint_that_refuses_connections_is_stopped_after_the_first_contact_limit() -> None:
    refused = ConnectError("cannot connect to 127.0.0.1:1: connection refused")
    api = ScriptedApi({f"r{i}": [refused] * FOREVER for i in range(20)})
    summary, _ = execute(config(), api, rooms(*api.scripts))
    assert FIRST_CONTACT_LIMIT < summary.duration < FIRST_CONTACT_LIMIT + 10
    sentence = summary.stopped[APP]
    assert sentence.startswith(
        f"app {APP} stopped after no answer from the API for {FIRST_CONTACT_LIMIT:g} s (last: "
        "no reply (cannot connect to 127.0.0.1:1: connection refused))"
    )
    assert "error 0" not in sentence


def test_html_from_the_endpoint_never_reads_as_error_200() -> None:
    api = ScriptedApi(
        {f"r{i}": [Reply(http_status=200, body=b"<html>")] * FOREVER for i in range(20)}
    )
    summary, _ = execute(config(), api, rooms(*api.scripts))
    assert "(last: HTTP 200 but not the API's JSON envelope (not JSON))" in summary.stopped[APP]
    assert "error 200" not in summary.stopped[APP]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            Reply(http_status=404, body=b"Not Found"),
            "HTTP 404 (not the API's path): check --endpoint",
        ),
        (
            Reply(http_status=302, body=b"", location="https://api.example/x?usersig=SECRET"),
            "HTTP 302 (a redirect to https://api.example): point --endpoint at the API itself",
        ),
    ],
)
def test_a_wrong_endpoint_stops_the_app_at_the_first_reply(reply: Reply, says: str) -> None:
    api = ScriptedApi({f"r{i}": [reply] for i in range(50)})
    summary, records = execute(config(), api, rooms(*api.scripts))
    assert sum(api.calls.values()) == 1  # the first request goes alone, and it is the last
    assert summary.stopped[APP].startswith(f"app {APP} stopped after {says}")
    assert "SECRET" not in summary.stopped[APP]
    assert {r["status"] for r in records} == {"aborted"}  # --resume does them again, once fixed
    assert summary.duration < 1


def test_a_429_slows_the_app_costs_no_attempt_and_its_retry_after_is_honoured() -> None:
    busy = Reply(http_status=429, body=b"", retry_after=10.0)
    api = ScriptedApi({"busy": [busy, busy]})
    summary, records = execute(config(max_attempts=1), api, rooms("busy"))
    assert (by_room(records)["busy"]["status"], by_room(records)["busy"]["attempts"]) == ("ok", 3)
    assert summary.apps[APP].throttles == 2
    sent = api.times[str(APP)]
    assert [round(b - a) for a, b in itertools.pairwise(sent)] == [10, 10]


def test_a_retry_after_on_a_server_error_is_the_least_wait_before_the_retry() -> None:
    api = ScriptedApi({"down": [Reply(http_status=503, body=b"", retry_after=5.0)]})
    _, records = execute(config(), api, rooms("down"))
    assert by_room(records)["down"]["attempts"] == 2
    sent = api.times[str(APP)]
    assert 5.0 <= sent[1] - sent[0] <= 5.0 + 0.1 + 0.5  # latency + at most the first backoff


def test_the_results_log_keeps_the_servers_text_escaped() -> None:
    forged = Reply(
        http_status=200,
        body=b'{"ErrorCode": 100004, "ErrorInfo": "\\u001b[2J\\nALL 3 ROOMS OK", "RequestId": "i"}',
    )
    api = ScriptedApi({"r": [forged]})
    _, records = execute(config(), api, rooms("r"))
    assert by_room(records)["r"]["error_info"] == "\\x1b[2J\\x0aALL 3 ROOMS OK"


def test_final_refusals_are_sent_once_and_recorded_rejected() -> None:
    codes = [100002, 100004, 100006, 100428, 100429, 123456]
    api = ScriptedApi({f"c{c}": [envelope(c)] for c in codes})
    summary, records = execute(config(), api, rooms(*api.scripts))
    assert {r["room_id"]: (r["status"], r["error_code"]) for r in records} == {
        f"c{c}": ("rejected", c) for c in codes
    }
    assert set(api.calls.values()) == {1}
    assert summary.count(Status.REJECTED) == len(codes)


def test_throttles_do_not_use_up_attempts_and_slow_the_app_down() -> None:
    api = ScriptedApi({"busy": [envelope(100422)] * 5})
    summary, records = execute(config(max_attempts=2), api, rooms("busy"))
    busy = by_room(records)["busy"]
    assert (busy["status"], busy["attempts"]) == ("ok", 6)
    assert summary.apps[1400000001].throttles == 5


def test_a_fatal_reply_stops_the_app_at_once_and_aborts_its_rooms() -> None:
    api = ScriptedApi({f"r{i}": [envelope(70009)] for i in range(200)})
    summary, records = execute(config(), api, rooms(*(f"r{i}" for i in range(200))))
    assert len(records) == 200
    assert {r["status"] for r in records} == {"aborted"}
    assert all(r["error_code"] == 70009 for r in records)
    assert sum(api.calls.values()) <= 8  # at most the requests already in flight
    assert list(summary.stopped) == [1400000001]
    assert "wrong secret key" in str(by_room(records)["r150"]["error_info"])


def test_an_expired_usersig_is_renewed_and_retried_once_then_fatal() -> None:
    api = ScriptedApi({"once": [envelope(70001)], "again": [envelope(70001), envelope(70001)]})
    summary, records = execute(config(concurrency=1), api, rooms("once", "again"))
    assert by_room(records)["once"]["status"] == "ok"
    assert by_room(records)["again"]["status"] == "aborted"
    assert list(summary.stopped) == [1400000001]


def test_a_ready_usersig_that_expires_mid_run_stops_the_app_with_a_sentence() -> None:
    ready = RunConfig(
        apps=(AppConfig(sdkappid=1400000001, identifier="administrator", usersig="sig"),),
        endpoint="http://127.0.0.1:1",
    )
    api = ScriptedApi({"late": [envelope(70001)]})
    summary, records = execute(ready, api, rooms("late"))
    assert records[0]["status"] == "aborted"
    assert "ready UserSig expired mid-run" in summary.stopped[1400000001]
    assert "--resume" in summary.stopped[1400000001]


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    yield
    structlog.reset_defaults()
