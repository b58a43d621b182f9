"""classify: every documented code to its action, and every kind of broken reply to a retry."""

import json

import pytest

from resumer.api import classify as classify_module
from resumer.api.classify import (
    FATAL_CAUSES,
    MAX_BODY_BYTES,
    MAX_ID_CHARS,
    MAX_INFO_CHARS,
    MAX_RETRY_AFTER,
    Action,
    Verdict,
    classify,
    fatal_cause,
    printable,
    retry_after_seconds,
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
    assert "wrong secret key" in fatal_cause(classify(envelope(70009)))
    assert "region" in fatal_cause(classify(envelope(60026)))
    for code in FATAL_CAUSES:
        assert ":" in fatal_cause(classify(envelope(code)))  # cause: fix


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


# Every HTTP status that is not 200: (action, info). The API answers 200 unless the network
# fails; a redirect or a missing path means the endpoint is not the API, which no retry mends.
STATUSES = {
    301: (Action.FATAL, "HTTP 301 (a redirect)"),
    302: (Action.FATAL, "HTTP 302 (a redirect)"),
    303: (Action.FATAL, "HTTP 303 (a redirect)"),
    307: (Action.FATAL, "HTTP 307 (a redirect)"),
    308: (Action.FATAL, "HTTP 308 (a redirect)"),
    404: (Action.FATAL, "HTTP 404 (not the API's path)"),
    405: (Action.FATAL, "HTTP 405 (not the API's path)"),
    429: (Action.THROTTLE, "HTTP 429 (too many requests)"),
    204: (Action.RETRY, "HTTP 204 (unexpected status)"),
    400: (Action.RETRY, "HTTP 400 (unexpected status)"),
    403: (Action.RETRY, "HTTP 403 (unexpected status)"),
    408: (Action.RETRY, "HTTP 408 (unexpected status)"),
    500: (Action.RETRY, "HTTP 500 (server error)"),
    502: (Action.RETRY, "HTTP 502 (server error)"),
    503: (Action.RETRY, "HTTP 503 (server error)"),
    504: (Action.RETRY, "HTTP 504 (server error)"),
}


@pytest.mark.parametrize(("status", "expected"), sorted(STATUSES.items()))
def test_each_http_status_maps_to_its_action(status: int, expected: tuple[Action, str]) -> None:
    # an envelope in the body changes nothing: only a 200 carries the API's answer
    verdict = classify(Reply(http_status=status, body=envelope(0).body))
    assert (verdict.action, verdict.info) == expected
    assert verdict.code == status
    assert not verdict.envelope
    assert verdict.headline == verdict.info  # "HTTP 404 (...)", never "error 404"


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://console.tim.qq.com/v4/x?usersig=SECRET&sdkappid=1", "https://console.tim.qq.com"),
        ("http://10.0.0.1:8080/login", "http://10.0.0.1:8080"),
        ("http://[::1]:81/", "http://[::1]:81"),
        ("//moved.example/path", "moved.example"),
        ("/v4/elsewhere?usersig=SECRET", ""),  # same host, another path
        ("http://:99999/", ""),
        ("", ""),
    ],
)
def test_a_redirect_names_its_target_host_but_never_its_path_or_query(
    location: str, shown: str
) -> None:
    verdict = classify(Reply(http_status=302, body=b"", location=location))
    assert verdict.action is Action.FATAL
    assert verdict.info == (
        f"HTTP 302 (a redirect to {shown})" if shown else "HTTP 302 (a redirect)"
    )
    assert "SECRET" not in verdict.info
    assert "endpoint" in fatal_cause(verdict)


def test_a_wrong_path_names_the_endpoint_as_the_fix() -> None:
    verdict = classify(Reply(http_status=404, body=b"Not Found"))
    assert "check --endpoint" in fatal_cause(verdict)


def test_a_headline_names_the_reply_as_the_operator_reads_it() -> None:
    assert classify(envelope(70009)).headline == "error 70009"
    assert classify(Reply(http_status=200, body=b"<html>")).headline == (
        "HTTP 200 but not the API's JSON envelope (not JSON)"
    )
    no_reply = Verdict(action=Action.RETRY, code=0, info="cannot connect to h:1: refused")
    assert no_reply.headline == "no reply (cannot connect to h:1: refused)"


@pytest.mark.parametrize(
    ("reply", "wait"),
    [
        (Reply(http_status=429, body=b"", retry_after=7.0), 7.0),
        (Reply(http_status=429, body=b"", retry_after=3600.0), MAX_RETRY_AFTER),
        (Reply(http_status=429, body=b""), 0.0),
        (Reply(http_status=429, body=b"", retry_after=0.0), 0.0),
        (Reply(http_status=429, body=b"", retry_after=float("inf")), 0.0),
        (Reply(http_status=503, body=b"", retry_after=5.0), 5.0),
        (envelope(100427), 1.0),  # this room was resumed too recently
        (Reply(http_status=200, body=envelope(100427).body, retry_after=3.0), 3.0),
        (envelope(100001), 0.0),
    ],
)
def test_the_least_wait_a_reply_asks_for_is_capped(reply: Reply, wait: float) -> None:
    assert classify(reply).wait == wait


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("5", 5.0),
        (" 120 ", 120.0),
        ("Thu, 01 Jan 1970 00:01:00 GMT", 30.0),  # now is 30 s past the epoch
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # in the past: no wait
        ("Thu, 01 Jan 1970 00:01:00 -0000", 30.0),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        ("٣", None),  # a non-ASCII digit is not a delay
    ],
)
def test_retry_after_is_delay_seconds_or_an_http_date(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=30.0) == seconds


# Text the server sends, as the logs, the terminal and the results log will hold it.
ESCAPES = {
    "\x1b[2J\x1b[HALL 3 ROOMS OK": "\\x1b[2J\\x1b[HALL 3 ROOMS OK",
    "line\nforged line\r": "line\\x0aforged line\\x0d",
    "tab\there": "tab\\x09here",
    "nul\x00del\x7fcsi\x9b": "nul\\x00del\\x7fcsi\\x9b",
    "bidi\u202etxt.exe": "bidi\\u202etxt.exe",
    "sep\u2028line": "sep\\u2028line",
    "房间不存在": "房间不存在",
    "plain: ok (100%)": "plain: ok (100%)",
}


@pytest.mark.parametrize(("raw", "shown"), sorted(ESCAPES.items()))
def test_server_text_is_escaped_where_it_enters(raw: str, shown: str) -> None:
    verdict = classify(envelope(100004, info=raw, request_id=raw))
    assert verdict.info == shown
    assert verdict.request_id == shown


def test_server_text_is_capped_without_cutting_an_escape_in_half() -> None:
    verdict = classify(envelope(100004, info="\x1b" * 1000, request_id="x" * 1000))
    assert verdict.info.endswith("\\x1b…")
    assert len(verdict.info) <= MAX_INFO_CHARS + 1
    assert verdict.request_id == "x" * MAX_ID_CHARS + "…"
    assert printable("abc", 3) == "abc"
    assert printable("abcd", 3) == "abc…"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_the_status_as_code(status: int) -> None:
    verdict = classify(Reply(http_status=status, body=b"Bad Gateway"))
    assert verdict.action is Action.RETRY
    assert verdict.code == status


def test_a_non_200_client_status_is_retried_too() -> None:
    # The doc says the API answers 200 unless a network error occurs: a 4xx is a proxy's doing.
    assert classify(Reply(http_status=400, body=b"")).action is Action.RETRY


def test_missing_info_and_request_id_are_empty_strings() -> None:
    verdict = classify(Reply(http_status=200, body=b'{"ErrorCode": 0}'))
    assert (verdict.action, verdict.info, verdict.request_id) == (Action.OK, "", "")


def test_config_overrides_move_a_code_into_another_class() -> None:
    overrides = {100004: Action.RETRY, 100001: Action.REJECT, 123456: Action.FATAL}
    assert classify(envelope(100004), overrides).action is Action.RETRY
    assert classify(envelope(100001), overrides).action is Action.REJECT
    fatal = classify(envelope(123456), overrides)
    assert fatal.action is Action.FATAL
    assert "[codes]" in fatal_cause(fatal)
    assert classify(envelope(0), {0: Action.REJECT}).action is Action.OK  # success stays success
    assert classify(envelope(100004)).action is Action.REJECT  # no overrides: the defaults


@pytest.mark.parametrize(
    "body",
    [
        b'{"ErrorCode":0,"ErrorInfo":"","RequestId":"Id-1"}',
        b'{"ErrorCode": 70009, "ErrorInfo": "\\u4e2d\\ud800"} \r\n\t',  # a lone surrogate escape
        '{"ErrorCode":0,"ErrorInfo":"中文"}'.encode(),
        '{"ErrorCode":0}'.encode("utf-16-le"),  # json.loads sniffs UTF-16 and UTF-32
        '{"ErrorCode":0}'.encode("utf-32-le"),
        b'\xef\xbb\xbf{"ErrorCode":0}',  # a UTF-8 byte order mark: refused
        b'{"ErrorCode":0}{"ErrorCode":1}',  # extra data
        b'{"ErrorCode":0} x',
        b'{"ErrorInfo":"\xff"}',  # not UTF-8
        b'{"ErrorCode":NaN}',
        b'{"ErrorCode":',
        b"{",
        b"{}",
        b' {"ErrorCode":0}',
    ],
)
def test_a_body_is_read_as_json_loads_reads_it(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = Reply(http_status=200, body=body)
    verdict = classify(reply)  # the C scanner for an object in UTF-8, json.loads otherwise
    monkeypatch.setattr(classify_module, "_loads", json.loads)
    assert verdict == classify(reply)
