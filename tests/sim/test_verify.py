"""Verification of the query, the UserSig and the body, in a real server's order."""

from __future__ import annotations

import json

import pytest

from resumer.api.usersig import make_usersig
from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_SDKAPPID_2, DEMO_SECRET_KEY_2
from tests.sim.helpers import NOW_UNIX, body, code_of, config, send, signed_query


def without(key: str) -> dict[str, str]:
    """A good query without `key`."""
    query = signed_query()
    del query[key]
    return query


def with_(key: str, value: str) -> dict[str, str]:
    """A good query (its UserSig made for the demo admin) with `key` set to `value`."""
    return {**signed_query(), key: value}


WRONG_KEY = "not-the-app-key"
FOREIGN_SIG = make_usersig(
    sdkappid=DEMO_SDKAPPID_2,
    identifier="administrator",
    secret_key=DEMO_SECRET_KEY_2,
    now=NOW_UNIX,
)

CASES: dict[str, tuple[dict[str, str], int]] = {
    "good": (signed_query(), 0),
    "sdkappid missing": (without("sdkappid"), 60012),
    "sdkappid empty": (with_("sdkappid", ""), 60012),
    "sdkappid not a number": (with_("sdkappid", "14e8"), 60006),
    "sdkappid negative": (with_("sdkappid", "-1"), 60006),
    "sdkappid absurdly long": (with_("sdkappid", "1" * 5000), 60006),
    "sdkappid not configured": (with_("sdkappid", "1400000099"), 70020),
    "identifier missing": (without("identifier"), 60025),
    "usersig missing": (without("usersig"), 60025),
    "contenttype missing": (without("contenttype"), 60025),
    "contenttype not json": (with_("contenttype", "xml"), 60025),
    "random missing": (without("random"), 60025),
    "random not a number": (with_("random", "abc"), 60025),
    "random too big": (with_("random", "4294967296"), 60025),
    "random negative": (with_("random", "-1"), 60025),
    "usersig empty": (with_("usersig", ""), 70002),
    "usersig garbage": (with_("usersig", "not-a-usersig"), 70003),
    "identifier differs": (with_("identifier", "someone"), 70013),
    "sdkappid differs": (with_("usersig", FOREIGN_SIG), 70014),
    "wrong key": (signed_query(secret_key=WRONG_KEY), 70009),
    "expired": (signed_query(signed_at=NOW_UNIX - 100, expire=99), 70001),
    "not an admin": (signed_query(identifier="viewer"), 60010),
}


@pytest.mark.parametrize(("query", "code"), CASES.values(), ids=list(CASES))
def test_each_bad_query_gets_its_code(query: dict[str, str], code: int) -> None:
    model = SimModel(config(), start=0.0)
    answer = model.handle(query, body("room-1"), now=0.0, now_unix=NOW_UNIX)
    assert code_of(answer) == code
    envelope = json.loads(answer.body)
    assert envelope["ActionStatus"] == ("OK" if code == 0 else "FAIL")
    assert answer.status == 200


def test_a_usersig_valid_up_to_its_last_second_passes() -> None:
    model = SimModel(config(), start=0.0)
    query = signed_query(signed_at=NOW_UNIX - 100, expire=100)
    assert code_of(send(model, query=query)) == 0


BAD_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe",
    b"[]",
    b'"room"',
    b"{}",
    b'{"RoomId": 5}',
    b'{"RoomId": ""}',
    b'{"RoomId": null}',
    json.dumps({"RoomId": "x" * 49}).encode(),
    json.dumps({"RoomId": "é" * 25}).encode(),  # 50 bytes of UTF-8
    b'{"RoomId": "\\ud800"}',  # a lone surrogate is no UTF-8 at all
    b"[" * 100_000,
]


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_a_bad_body_is_100002(raw: bytes) -> None:
    model = SimModel(config(), start=0.0)
    answer = model.handle(signed_query(), raw, now=0.0, now_unix=NOW_UNIX)
    assert code_of(answer) == 100002


def test_a_48_byte_room_id_is_fine() -> None:
    model = SimModel(config(), start=0.0)
    assert code_of(send(model, "é" * 24)) == 0
    assert code_of(send(model, "x" * 48)) == 0


def test_ten_failed_signatures_lock_the_app_for_a_minute() -> None:
    model = SimModel(config(), start=0.0)
    wrong = signed_query(secret_key=WRONG_KEY)
    codes = [code_of(send(model, now=i, query=wrong)) for i in range(10)]
    assert codes == [70009] * 10
    assert code_of(send(model, now=9.5)) == 70050  # even a good request
    assert code_of(send(model, now=68.9)) == 70050
    assert code_of(send(model, now=69.0)) == 0  # a minute after the tenth failure


def test_failures_spread_over_more_than_a_minute_do_not_lock() -> None:
    model = SimModel(config(), start=0.0)
    wrong = signed_query(secret_key=WRONG_KEY)
    for i in range(20):
        assert code_of(send(model, now=i * 7.0, query=wrong)) == 70009


def test_the_lock_is_per_app() -> None:
    model = SimModel(config(), start=0.0)
    wrong = signed_query(secret_key=WRONG_KEY)
    for i in range(10):
        send(model, now=i, query=wrong)
    other = signed_query(sdkappid=DEMO_SDKAPPID_2, secret_key=DEMO_SECRET_KEY_2)
    assert code_of(send(model, now=10, query=other)) == 0


def test_auth_failures_do_not_spend_the_budget() -> None:
    model = SimModel(config(rate=1), start=0.0)
    assert code_of(send(model, now=0.0, query=with_("identifier", "x"))) == 70013
    assert code_of(send(model, now=0.0)) == 0


def test_requests_of_no_configured_app_are_counted_apart() -> None:
    model = SimModel(config(), start=0.0)
    send(model, query=without("sdkappid"))
    send(model, query=with_("sdkappid", "7"))
    send(model, query=with_("sdkappid", "7"))
    stats = model.stats(now=1.0)
    assert stats["unrouted"] == {"60012": 1, "70020": 2}
    assert stats["apps"]["1400000001"]["requests"] == 0
