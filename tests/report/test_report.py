"""The merge behind `resumer report`: the last record of each room wins, across logs, per app."""

from __future__ import annotations

import io
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resumer.cli.main import main
from resumer.inputs import parse_line
from resumer.records import Result, Room, Status
from resumer.report import view as report_view
from resumer.report.merge import Merger, merge
from resumer.results.schema import to_line

A, B = 1400000001, 1400000002


def rec(room: str, status: str = "ok", *, app: int | None = A, **more: Any) -> bytes:
    """One results-log line, as the writer writes it."""
    line = to_line(
        Result(
            ts=more.pop("ts", "2026-11-24T10:00:00.000Z"),
            sdkappid=app,
            room_id=room,
            status=Status(status),
            **more,
        )
    )
    return line.encode()


def lines(*logs: list[bytes]) -> list[bytes]:
    """The lines of several logs, read in the order given."""
    return [line for log in logs for line in log]


@dataclass
class Case:
    """Logs in, and what the merge says per app (statuses not listed are 0)."""

    logs: list[list[bytes]]
    statuses: dict[int | None, dict[str, int]]
    codes: dict[int | None, dict[int, int]] = field(default_factory=dict)
    torn: int = 0
    foreign: int = 0
    todo: list[tuple[int | None, str]] = field(default_factory=list)


CASES = {
    "last record wins across files": Case(
        logs=[
            [rec("r1", "gave_up", error_code=100001), rec("r2", "aborted", error_code=70009)],
            [rec("r1", "ok"), rec("r2", "ok")],
        ],
        statuses={A: {"ok": 2}},
    ),
    "a later run can undo an ok (last wins, as --resume reads it)": Case(
        logs=[[rec("r1", "ok")], [rec("r1", "gave_up", error_code=100001)]],
        statuses={A: {"gave_up": 1}},
        codes={A: {100001: 1}},
        todo=[(A, "r1")],
    ),
    "the order of the files decides, not the timestamps": Case(
        logs=[
            [rec("r1", "ok", ts="2026-11-24T12:00:00.000Z")],
            [rec("r1", "aborted", ts="2026-11-24T09:00:00.000Z", error_code=70009)],
        ],
        statuses={A: {"aborted": 1}},
        codes={A: {70009: 1}},
        todo=[(A, "r1")],
    ),
    "a torn last line is counted, not fatal": Case(
        logs=[[rec("r1"), b'{"ts":"2026-11-24T10:00:01.000Z","sdkappid":1400000001,"ro']],
        statuses={A: {"ok": 1}},
        torn=1,
    ),
    "a torn line mended by the writer's newline is torn too": Case(
        logs=[[rec("r1"), b'{"ts":"2026-11-24T10:00:01.000Z","sdk\n', rec("r2")]],
        statuses={A: {"ok": 2}},
        torn=1,
    ),
    "foreign lines: text, log events, other JSON, bad fields": Case(
        logs=[
            [
                b"hello\n",
                b'{"event":"run_started","level":"info","sdkappid":1400000001}\n',
                b"[1, 2]\n",
                b'"ok"\n',
                b'{"sdkappid":1400000001,"room_id":"r9","status":"done"}\n',
                b'{"sdkappid":"1400000001","room_id":"r9","status":"ok"}\n',
                b'{"sdkappid":1400000001,"room_id":9,"status":"ok"}\n',
                b'{"sdkappid":1400000001,"room_id":"r9","status":"ok","attempts":"1"}\n',
                b"\xff\xfe not utf-8\n",
                rec("r1"),
            ]
        ],
        statuses={A: {"ok": 1}},
        foreign=9,
    ),
    "blank lines are nothing": Case(
        logs=[[b"\n", b"   \r\n", rec("r1"), b"\n"]], statuses={A: {"ok": 1}}
    ),
    "several apps, and records of lines that named no app": Case(
        logs=[
            [
                rec("r1", app=A),
                rec("r1", "gave_up", app=B, error_code=100001),
                rec("r2", "rejected", app=B, error_code=100004),
                rec("bad line", "invalid", app=None),
            ],
            [rec("r3", "aborted", app=B)],
        ],
        statuses={
            A: {"ok": 1},
            B: {"gave_up": 1, "rejected": 1, "aborted": 1},
            None: {"invalid": 1},
        },
        codes={B: {100001: 1, 100004: 1, 0: 1}, None: {}},  # invalid: never sent, no code
        todo=[(B, "r1"), (B, "r3")],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_merge(case: Case) -> None:
    merger = Merger()
    for line in lines(*case.logs):
        merger.add_line(line)
    report = merger.report()
    assert [a.sdkappid for a in report.apps] == list(case.statuses)  # by app, no app last
    for app in report.apps:
        expected = {s: case.statuses[app.sdkappid].get(s.value, 0) for s in Status}
        assert dict(app.statuses) == expected
        assert dict(app.codes) == case.codes.get(app.sdkappid, {})
    assert (report.torn, report.foreign) == (case.torn, case.foreign)
    assert list(merger.todo()) == case.todo
    assert report.total.todo == len(case.todo)
    assert report.total.rooms == sum(sum(s.values()) for s in case.statuses.values())


def test_attempts_and_records_count_every_run_and_the_span_every_record() -> None:
    report = merge(
        [
            rec("r1", "gave_up", attempts=6, ts="2026-11-24T10:00:00.500Z", error_code=100001),
            rec("r2", "ok", attempts=1, ts="2026-11-24T10:00:01.000Z"),
            rec("r1", "ok", attempts=2, ts="2026-11-24T10:00:10.500Z"),
            rec("r3", "rejected", app=B, attempts=1, ts="2026-11-24T09:59:59.000Z"),
        ]
    )
    a, b = report.apps
    assert (a.records, a.attempts, a.rooms, a.finished) == (3, 9, 2, 2)
    assert (a.first_ts, a.last_ts, a.seconds) == (
        "2026-11-24T10:00:00.500Z",
        "2026-11-24T10:00:10.500Z",
        10.0,
    )
    assert a.rate == pytest.approx(2 / 10)
    assert b.seconds == 0.0
    assert b.rate is None  # one moment: no rate
    total = report.total
    assert (total.records, total.attempts, total.rooms) == (4, 10, 3)
    assert (total.first_ts, total.last_ts) == ("2026-11-24T09:59:59.000Z", a.last_ts)
    assert total.rate == pytest.approx(3 / 11.5)
    start = int(datetime(2026, 11, 24, 9, 59, 59, tzinfo=UTC).timestamp())
    assert report.per_second == {
        A: {start + 1: (0, 1), start + 2: (1, 0), start + 11: (1, 0)},
        B: {start: (0, 1)},
    }


def test_records_without_a_usable_timestamp_are_counted_but_not_timed() -> None:
    report = merge(
        [
            rec("r1", ts=""),
            rec("r2", ts="yesterday"),
            rec("r3", ts="2026-02-30T10:00:00.000Z"),  # shaped like one, not one
            rec("r4", ts="2026-11-24T10:00:00.000Z"),
        ]
    )
    (app,) = report.apps
    assert (app.rooms, report.untimed) == (4, 2)
    assert (app.first_ts, app.last_ts) == (None, "2026-11-24T10:00:00.000Z")  # Feb 30 dropped
    assert list(report.per_second[A]) == [int(datetime(2026, 11, 24, 10, tzinfo=UTC).timestamp())]


def test_an_empty_log_is_an_empty_report() -> None:
    report = merge([])
    assert report.apps == ()
    assert (report.total.rooms, report.total.first_ts, report.total.rate) == (0, None, None)


ROOM_IDS = st.text(min_size=1).filter(lambda s: 0 < len(s.encode("utf-8", "surrogatepass")) <= 48)


@given(rooms=st.lists(st.tuples(st.sampled_from([A, B, None]), ROOM_IDS), max_size=20, unique=True))
def test_todo_lines_are_input_lines_for_the_same_rooms(
    rooms: list[tuple[int | None, str]],
) -> None:
    for (sdkappid, room_id), line in zip(rooms, report_view.todo_lines(rooms), strict=True):
        assert "\n" not in line
        parsed = parse_line(line.encode("utf-8"))
        if any(0xD800 <= ord(c) <= 0xDFFF or unicodedata.category(c) == "Cc" for c in room_id):
            continue  # not a room the run could have sent: the input reader refuses it
        assert parsed == Room(room_id=room_id, sdkappid=sdkappid)


def test_json_report_has_every_status_and_the_totals() -> None:
    report = merge(
        [rec("r1", "gave_up", error_code=100001, attempts=6), rec("r2", app=B), b"junk\n"]
    )
    data = json.loads(json.dumps(report_view.as_dict(report, ["a.jsonl"])))
    assert data["logs"] == ["a.jsonl"]
    assert (data["records"], data["rooms"]) == (2, 2)
    assert data["unreadable_lines"] == {"torn": 0, "foreign": 1}
    first = data["apps"][0]
    assert first["sdkappid"] == A
    assert first["statuses"] == {"ok": 0, "rejected": 0, "invalid": 0, "gave_up": 1, "aborted": 0}
    assert first["error_codes"] == {"100001": 1}
    assert (first["todo"], first["attempts"]) == (1, 6)
    assert data["total"]["statuses"]["ok"] == 1
    assert "sdkappid" not in data["total"]


def test_report_reads_a_log_from_stdin_after_a_file_and_the_later_record_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "results.jsonl"
    log.write_bytes(rec("r1", "gave_up", error_code=100001) + rec("r2", "aborted"))
    stdin = io.TextIOWrapper(io.BytesIO(rec("r1", "ok") + b"not a record\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["report", str(log), "-", "--todo"]) == 0
    captured = capsys.readouterr()
    assert captured.out == '{"room_id": "r2", "sdkappid": 1400000001}\n'
    assert "1 foreign" in captured.err


def test_a_clock_stepped_forward_mid_run_is_a_pause_that_finished_per_second_leaves_out() -> None:
    # 40 rooms at 20/s, the host's clock stepped 3 h forward after the first 20
    before = [rec(f"r{i}", ts=f"2026-11-24T10:00:0{i // 20}.{i % 20 * 50:03d}Z") for i in range(20)]
    after = [rec(f"r{i}", ts=f"2026-11-24T13:00:01.{i % 20 * 50:03d}Z") for i in range(20, 40)]
    report = merge(before + after)
    total = report.total
    assert total.seconds == pytest.approx(3 * 3600 + 1.95)
    assert (total.pauses, total.paused) == (1, 3 * 3600)
    assert total.rate == pytest.approx(40 / 1.95)  # not 40 / 10801.95: 0.0 finished/s
    text = " ".join(report_view.notes(report, ["results.jsonl"]))
    assert (
        "the records pause once for over 5 minutes, 3:00:00 in all (the host's clock stepped "
        "forward, the input paused, or the logs are of runs apart): took counts the pauses, "
        "finished/s leaves them out"
    ) in text
    assert report_view.as_dict(report, ["results.jsonl"])["total"]["paused_s"] == 10800.0


def test_records_without_a_pause_say_nothing_of_one() -> None:
    report = merge([rec(f"r{i}", ts=f"2026-11-24T10:0{i}:00.000Z") for i in range(6)])
    assert (report.total.pauses, report.total.paused) == (0, 0.0)
    assert report.total.rate == pytest.approx(6 / 300)
    assert not any("pause" in note for note in report_view.notes(report, ["a.jsonl"]))
