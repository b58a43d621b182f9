"""Rooms, the room interval, scripts, outages, random faults, latency and the reply shapes."""

from __future__ import annotations

import json
import re

import pytest

from resumer.api.classify import MAX_BODY_BYTES
from resumer.sim.config import BODY_KINDS, Latency
from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_SDKAPPID_2, DEMO_SECRET_KEY_2
from resumer.sim.replies import broken
from tests.sim.helpers import code_of, config, send, signed_query


def test_missing_and_non_live_rooms_by_id_and_by_pattern() -> None:
    model = SimModel(
        config(
            missing_rooms=frozenset({"old"}),
            missing_pattern="-gone$",
            not_live_rooms=frozenset({"talk"}),
            not_live_pattern="-vod$",
        ),
        start=0.0,
    )
    assert code_of(send(model, "old")) == 100004
    assert code_of(send(model, "a-gone")) == 100004
    assert code_of(send(model, "talk")) == 100006
    assert code_of(send(model, "b-vod")) == 100006
    assert code_of(send(model, "a-gone-not")) == 0


def test_room_checks_come_after_the_window() -> None:
    model = SimModel(config(rate=1, missing_pattern="gone"), start=0.0)
    assert code_of(send(model, "gone", now=0.0)) == 100004  # spends the budget all the same
    assert code_of(send(model, "gone", now=0.5)) == 100422


def test_a_room_operated_on_again_too_soon_gets_100427() -> None:
    model = SimModel(config(room_interval=1.0), start=0.0)
    assert code_of(send(model, "a", now=0.0)) == 0
    assert code_of(send(model, "b", now=0.1)) == 0
    assert code_of(send(model, "a", now=0.5)) == 100427
    assert code_of(send(model, "a", now=0.99)) == 100427  # a 100427 does not restart it
    assert code_of(send(model, "a", now=1.0)) == 0
    assert code_of(send(model, "b", now=1.05)) == 100427


def test_the_room_interval_starts_even_when_a_fault_answers() -> None:
    model = SimModel(config(room_interval=2.0, scripts={"a": ("100001",)}), start=0.0)
    assert code_of(send(model, "a", now=0.0)) == 100001
    assert code_of(send(model, "a", now=1.0)) == 100427
    assert code_of(send(model, "a", now=2.0)) == 0


def test_the_room_interval_forgets_old_rooms() -> None:
    model = SimModel(config(room_interval=1.0, rate=1000), start=0.0)
    for i in range(500):
        send(model, f"r{i}", now=i * 0.01)
    app = model._apps[1400000001]  # memory is bounded by the rooms of the last interval
    assert len(app.last_op) <= 101


def test_a_script_plays_its_steps_then_the_room_behaves() -> None:
    script = ("100001", "http502", "100424", "html", "ok", "100428")
    model = SimModel(config(scripts={"a": script}, room_interval=0.0), start=0.0)
    kinds = [send(model, "a", now=i).kind for i in range(8)]
    assert kinds == ["100001", "http502", "100424", "html", "0", "100428", "0", "0"]
    assert send(model, "other", now=9).kind == "0"


def test_scripts_are_per_app() -> None:
    model = SimModel(config(scripts={"a": ("100001",)}), start=0.0)
    other = signed_query(sdkappid=DEMO_SDKAPPID_2, secret_key=DEMO_SECRET_KEY_2)
    assert code_of(send(model, "a")) == 100001
    assert code_of(send(model, "a", query=other)) == 100001
    assert code_of(send(model, "a")) == 0


@pytest.mark.parametrize("status", [502, 503])
def test_http_faults_are_html_pages_with_that_status(status: int) -> None:
    model = SimModel(config(scripts={"a": (f"http{status}",)}), start=0.0)
    answer = send(model, "a")
    assert answer.status == status
    assert answer.content_type == "text/html"
    assert b"nginx" in answer.body


@pytest.mark.parametrize("kind", sorted(BODY_KINDS))
def test_each_broken_body_is_not_an_envelope(kind: str) -> None:
    model = SimModel(config(scripts={"a": (kind,)}), start=0.0)
    answer = send(model, "a")
    assert answer.status == 200
    assert answer.kind == kind
    assert answer.code is None
    try:
        data = json.loads(answer.body)
    except ValueError:
        assert kind in {"html", "empty", "truncated"}
        return
    if kind == "huge":
        assert len(answer.body) > MAX_BODY_BYTES
    elif kind == "not_object":
        assert isinstance(data, list)
    else:
        assert not isinstance(data.get("ErrorCode"), int)


def test_slow_and_hang_steps() -> None:
    model = SimModel(
        config(scripts={"a": ("slow", "hang")}, latency=Latency(max_ms=10, slow_ms=2000)),
        start=0.0,
    )
    slow = send(model, "a")
    assert slow.delay == 2.0
    assert code_of(slow) == 0
    hung = send(model, "a", now=1)
    assert hung.hang
    stats = model.stats(now=2)["apps"]["1400000001"]
    assert stats["slow_replies"] == 1
    assert stats["by_code"] == {"0": 1, "hang": 1}


def test_an_outage_answers_its_kind_only_while_it_lasts() -> None:
    model = SimModel(config(outages=((4.0, 7.0),)), start=100.0)
    assert send(model, "a", now=103.9).status == 200
    assert send(model, "b", now=104.0).status == 503
    assert send(model, "c", now=106.99).status == 503
    assert send(model, "d", now=107.0).status == 200
    stats = model.stats(now=108.0)["apps"]["1400000001"]
    assert stats["during_outage"] == 2
    assert stats["by_code"] == {"0": 2, "http503": 2}


def test_an_outage_can_answer_100001_and_a_script_wins_over_it() -> None:
    model = SimModel(
        config(outages=((0.0, 10.0),), outage_kind="100001", scripts={"s": ("ok",)}),
        start=0.0,
    )
    assert code_of(send(model, "a", now=1.0)) == 100001
    assert code_of(send(model, "s", now=2.0)) == 0


def test_the_window_still_answers_during_an_outage() -> None:
    model = SimModel(config(rate=1, outages=((0.0, 10.0),)), start=0.0)
    assert send(model, "a", now=1.0).status == 503
    assert code_of(send(model, "b", now=1.5)) == 100422


def test_a_certain_fault_always_happens() -> None:
    model = SimModel(config(faults={"100424": 1.0}), start=0.0)
    assert {code_of(send(model, f"r{i}", now=i)) for i in range(50)} == {100424}


def test_fault_frequencies_follow_their_probabilities_and_the_seed() -> None:
    faults = {"100001": 0.2, "http502": 0.1, "html": 0.1}

    def run() -> list[str]:
        model = SimModel(config(faults=faults, seed=7, rate=100_000), start=0.0)
        return [send(model, f"r{i}", now=0.0).kind for i in range(5000)]

    kinds = run()
    assert kinds == run()  # the same seed, the same draws
    share = {kind: kinds.count(kind) / len(kinds) for kind in ("100001", "http502", "html", "0")}
    assert share["100001"] == pytest.approx(0.2, abs=0.03)
    assert share["http502"] == pytest.approx(0.1, abs=0.02)
    assert share["html"] == pytest.approx(0.1, abs=0.02)
    assert share["0"] == pytest.approx(0.6, abs=0.03)


def test_latency_is_drawn_in_its_range() -> None:
    model = SimModel(config(latency=Latency(min_ms=20, max_ms=120), seed=1), start=0.0)
    delays = [send(model, f"r{i}", now=i).delay for i in range(200)]
    assert all(0.02 <= d <= 0.12 for d in delays)
    assert max(delays) - min(delays) > 0.05


def test_replies_carry_unique_request_ids_in_the_api_format() -> None:
    model = SimModel(config(rate=1000), start=0.0)
    ids = [json.loads(send(model, f"r{i}").body)["RequestId"] for i in range(100)]
    assert len(set(ids)) == 100
    assert all(re.fullmatch(r"Id-[0-9a-f]{32}-O-Seq-\d+", i) for i in ids)


def test_an_ok_envelope_is_the_api_shape() -> None:
    answer = send(SimModel(config(), start=0.0))
    data = json.loads(answer.body)
    assert set(data) == {"ActionStatus", "ErrorInfo", "ErrorCode", "RequestId"}
    assert (data["ActionStatus"], data["ErrorCode"], data["ErrorInfo"]) == ("OK", 0, "")
    assert answer.content_type == "application/json"


def test_only_known_kinds_make_broken_replies() -> None:
    with pytest.raises(ValueError, match="not a broken reply"):
        broken("ok", "Id-1")
