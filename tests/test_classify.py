"""classify: every documented code to its action, and every kind of broken reply to a retry."""

import json

import pytest

from resumer.classify import (
    FATAL_CAUSES,
    MAX_BODY_BYTES,
    Action,
    classify,
    fatal_cause,
)
from resumer.records import Reply


def envelope(code: int, info: str = "", request_id: str = "Id-1") -> Reply:
    status = "OK" if code == 0 else "FAIL"
    body = {"ActionStatus": status, "ErrorInfo": info, "ErrorCode": code, "RequestId": request_id}
    return Reply(http_status=200, body=json.dumps(body).encode())


# Every code of reference/tencent-api.md, with the handling the mission asks for.
DOCUMENTED = {
    0: Action.OK,
    100001: Action.RETRY,
    100002: Action.REJECT,
    100004: Action.REJECT,
    100006: Action.REJECT,
    100007: Action.FATAL,
    100422: Action.THROTTLE,
    100424: Action.RETRY,
    100427: Action.RETRY,
    100428: Action.REJECT,
    100429: Action.REJECT,
    60002: Action.FATAL,
    60003: Action.FATAL,
    60004: Action.FATAL,
    60005: Action.FATAL,
    60006: Action.FATAL,
    60007: Action.THROTTLE,
    60008: Action.RETRY,
    60009: Action.FATAL,
    60010: Action.FATAL,
    60011: Action.THROTTLE,
    60012: Action.FATAL,
    60014: Action.RETRY,
    60016: Action.FATAL,
    60017: Action.FATAL,
    60018: Action.THROTTLE,
    60019: Action.THROTTLE,
    60020: Action.FATAL,
    60021: Action.FATAL,
    60025: Action.FATAL,
    60026: Action.FATAL,
    60028: Action.FATAL,
    70001: Action.RENEW,
    70052: Action.RENEW,
    70002: Action.FATAL,
    70003: Action.FATAL,
    70005: Action.FATAL,
    70009: Action.FATAL,
    70013: Action.FATAL,
    70014: Action.FATAL,
    70016: Action.FATAL,
    70020: Action.FATAL,
    70050: Action.FATAL,
    70051: Action.FATAL,
    70169: Action.RETRY,
    70202: Action.RETRY,
    70500: Action.RETRY,
    70402: Action.REJECT,
    70403: Action.FATAL,
}


@pytest.mark.parametrize(("code", "action"), sorted(DOCUMENTED.items()))
def test_each_documented_code_maps_to_its_action(code: int, action: Action) -> None:
    verdict = classify(envelope(code, info="why", request_id="Id-abc"))
    assert verdict.action is action
    assert verdict.code == code
    assert verdict.info == "why"
    assert verdict.request_id == "Id-abc"


@pytest.mark.parametrize("code", [1, 99999, 100003, 100500, 60099, 70999, -5])
def test_unknown_codes_reject_the_room(code: int) -> None:
    assert classify(envelope(code)).action is Action.REJECT


def test_every_fatal_code_names_a_cause_and_a_fix() -> None:
    assert "wrong secret key" in fatal_cause(70009)
    assert "region" in fatal_cause(60026)
    for code in FATAL_CAUSES:
        assert ":" in fatal_cause(code)  # cause: fix


BROKEN = {
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty": b"",
    "truncated": b'{"ActionStatus": "OK", "ErrorCo',
    "not_object": b"[1, 2, 3]",
    "code_not_int": b'{"ActionStatus": "OK", "ErrorCode": "0", "RequestId": "x"}',
    "code_bool": b'{"ErrorCode": true}',
    "code_float": b'{"ErrorCode": 0.0}',
    "missing_code": b'{"ActionStatus": "OK", "RequestId": "x"}',
    "not_utf8": b"\xff\xfe\x00garbage",
    "huge": b'{"ErrorCode": 0, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}',
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_reply_that_is_not_the_envelope_is_retried(kind: str) -> None:
    verdict = classify(Reply(http_status=200, body=BROKEN[kind]))
    assert verdict.action is Action.RETRY
    assert "not the API's JSON envelope" in verdict.info


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_the_status_as_code(status: int) -> None:
    verdict = classify(Reply(http_status=status, body=b"Bad Gateway"))
    assert verdict.action is Action.RETRY
    assert verdict.code == status


def test_a_non_200_client_status_is_retried_too() -> None:
    # The doc says the API answers 200 unless a network error occurs: a 4xx is a proxy's doing.
    assert classify(Reply(http_status=429, body=b"")).action is Action.RETRY


def test_missing_info_and_request_id_are_empty_strings() -> None:
    verdict = classify(Reply(http_status=200, body=b'{"ErrorCode": 0}'))
    assert (verdict.action, verdict.info, verdict.request_id) == (Action.OK, "", "")
