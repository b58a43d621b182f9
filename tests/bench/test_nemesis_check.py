"""The nemesis's checker over hand-made histories: no process, no clock."""

from __future__ import annotations

import json

from bench.nemesis_check import (
    Arrival,
    Fault,
    History,
    Record,
    check,
    on_wire,
    parse_arrival,
    parse_record,
)

APP = 1500000001
OTHER = 1500000002


def _ok(runner: int, t: float, room: str, app: int = APP) -> Record:
    return Record(runner, t, app, room, "ok", 1)


def _history(
    arrivals: list[Arrival],
    records: list[Record],
    *,
    rooms: tuple[str, ...] = ("a", "b"),
    faults: tuple[Fault, ...] = (),
    stderr: dict[str, str] | None = None,
) -> History:
    return History(
        rooms=frozenset((APP, r) for r in rooms),
        arrivals=arrivals,
        records=records,
        faults=faults,
        stderr=stderr or {},
    )


def test_a_clean_history_holds() -> None:
    history = _history(
        [Arrival(1.0, APP, "a", "0", 0), Arrival(1.1, APP, "b", "0", 1)],
        [_ok(0, 1.2, "a"), _ok(1, 1.3, "b")],
    )
    verdicts = check(history)
    assert verdicts.holds
    assert verdicts.busy_seconds == 0
    assert verdicts.max_in_1s == {APP: 2}


def test_twenty_one_arrivals_within_a_second_make_a_busy_second_per_app() -> None:
    busy = [Arrival(10 + i * 0.04, APP, f"r{i}", "0", 0) for i in range(21)]
    calm = [Arrival(10 + i * 0.06, OTHER, f"r{i}", "0", 1) for i in range(21)]
    verdicts = check(_history(busy + calm, [], rooms=()))
    assert verdicts.busy_seconds == 1
    assert verdicts.busy == [(APP, 10.8)]
    assert verdicts.accepted_busy_seconds == 1
    refused = [Arrival(a.t, a.sdkappid, a.room, "100422" if i == 20 else "0", 0)
               for i, a in enumerate(busy)]  # fmt: skip
    assert check(_history(refused, [], rooms=())).accepted_busy_seconds == 0
    assert verdicts.max_in_1s == {APP: 21, OTHER: 17}
    assert not verdicts.holds


def test_rooms_not_ok_at_the_end_are_named() -> None:
    history = _history(
        [Arrival(1.0, APP, "a", "0", 0)],
        [_ok(0, 1.2, "a"), Record(0, 1.5, APP, "b", "failed", 3)],
    )
    verdicts = check(history)
    assert verdicts.rooms_not_ok == [(APP, "b")]
    assert not verdicts.holds


def test_a_room_accepted_twice_is_within_the_bound_only_when_it_was_on_the_wire() -> None:
    arrivals = [
        Arrival(5.0, APP, "a", "0", 0),  # runner 0 sent it, then was killed before recording it
        Arrival(20.0, APP, "a", "0", 1),  # runner 1 took the room over
        Arrival(30.0, APP, "b", "0", 1),
    ]
    records = [_ok(1, 20.1, "a"), _ok(1, 30.1, "b")]
    kill = Fault(5.1, "kill", 0)
    assert check(_history(arrivals, records, faults=(kill,))).holds
    verdicts = check(_history(arrivals, records))  # no fault: nothing was on the wire
    assert verdicts.accepted_twice == [(APP, "a")]
    assert verdicts.bound == 0
    assert not verdicts.holds


def test_on_the_wire_counts_only_the_faulted_runner_within_the_window_and_unrecorded() -> None:
    arrivals = [
        Arrival(9.5, APP, "a", "0", 0),  # on the wire
        Arrival(9.6, APP, "b", "0", 0),  # recorded before the stop: not on the wire
        Arrival(9.7, APP, "c", "0", 1),  # another runner's
        Arrival(7.0, APP, "d", "0", 0),  # answered long before
        Arrival(10.2, APP, "e", "0", 0),  # sent just before, arrived after (jitter)
        Arrival(9.8, APP, "f", "0", 0),  # its earlier attempt's record does not answer it
    ]
    records = [_ok(0, 9.8, "b"), _ok(0, 30.0, "a"), Record(0, 9.0, APP, "f", "failed", 1)]
    stop = Fault(10.0, "stop", 0, until=23.0)  # a's reply is read after SIGCONT
    assert on_wire(_history(arrivals, records, faults=(stop,)), stop) == 3


def test_redis_faults_add_nothing_to_the_bound() -> None:
    arrivals = [Arrival(9.5, APP, "a", "0", 0)]
    verdicts = check(_history(arrivals, [], faults=(Fault(10.0, "redis-restart"),)))
    assert verdicts.bound == 0
    assert verdicts.on_wire == []


def test_requests_without_a_record_anywhere_are_counted() -> None:
    arrivals = [Arrival(1.0, APP, "a", "0", 0), Arrival(2.0, APP, "zz", "100004", 2)]
    verdicts = check(_history(arrivals, [_ok(1, 1.5, "a"), _ok(1, 1.6, "b")]))
    assert verdicts.unrecorded == 1  # zz: a record of "a" by another runner is a record


def test_a_traceback_in_any_stderr_is_named() -> None:
    stderr = {"runner-0/stderr-0.txt": "{}\n", "runner-2/stderr-1.txt": "Traceback (most..."}
    verdicts = check(_history([], [_ok(0, 1, "a"), _ok(0, 1, "b")], stderr=stderr))
    assert verdicts.tracebacks == ["runner-2/stderr-1.txt"]
    assert not verdicts.holds


def test_lines_print_every_verdict_and_the_bound() -> None:
    lines = check(_history([], [_ok(0, 1, "a"), _ok(0, 1, "b")])).lines()
    assert len(lines) == 5
    assert "bound: 0" in lines[2]


def test_the_logs_lines_parse_and_torn_ones_are_skipped() -> None:
    line = json.dumps({"t": 1.5, "sdkappid": APP, "room": "a", "code": "0", "door": 2})
    assert parse_arrival(line) == Arrival(1.5, APP, "a", "0", 2)
    assert parse_arrival('{"t": 1.5, "sdk') is None
    record = {
        "ts": "1970-01-01T00:00:01.500Z",
        "sdkappid": APP,
        "room_id": "a",
        "status": "ok",
        "attempts": 2,
    }
    assert parse_record(1, json.dumps(record)) == Record(1, 1.5, APP, "a", "ok", 2)
    assert parse_record(1, "garbage") is None


def test_an_outcome_recorded_within_the_give_back_wait_before_a_kill_is_still_on_the_wire() -> None:
    arrivals = [Arrival(9.7, APP, "a", "0", 0), Arrival(9.5, APP, "b", "0", 0)]
    records = [_ok(0, 9.9, "a"), _ok(0, 9.6, "b")]  # a: its lease still on its way back
    kill = Fault(10.0, "kill", 0)
    assert on_wire(_history(arrivals, records, faults=(kill,)), kill) == 0
    history = History(
        rooms=frozenset({(APP, "a"), (APP, "b")}),
        arrivals=arrivals,
        records=records,
        faults=(kill,),
        given_back_s=0.3,
    )
    assert on_wire(history, kill) == 1  # a, recorded 0.1 s before the kill; b long enough
