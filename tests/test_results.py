"""Tests of the results log: its schema, the writer, and reading it back for --resume."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resumer.errors import UsageError
from resumer.records import Result, Status
from resumer.results import (
    FinalRooms,
    ResultsWriter,
    from_line,
    has_records,
    read_final,
    to_line,
    utc_timestamp,
)

KEYS = [
    "ts",
    "sdkappid",
    "room_id",
    "status",
    "error_code",
    "error_info",
    "request_id",
    "attempts",
    "elapsed_ms",
]


def _result(room_id: str, status: Status = Status.OK, sdkappid: int | None = 1400000001) -> Result:
    return Result(ts="2026-11-24T10:00:00.123Z", sdkappid=sdkappid, room_id=room_id, status=status)


def _read_back(line: str) -> Result:
    record = json.loads(line)
    return Result(**{**record, "status": Status(record["status"])})


@pytest.mark.parametrize("status", list(Status))
def test_to_line_round_trips_every_status(status: Status) -> None:
    result = Result(
        ts="2026-11-24T10:00:00.123Z",
        sdkappid=1400000001,
        room_id="直播间-1",
        status=status,
        error_code=100001,
        error_info="服务繁忙",
        request_id="Id-8c98",
        attempts=3,
        elapsed_ms=83,
    )
    line = to_line(result)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert " " not in line  # compact
    assert "直播间-1" in line  # UTF-8, not \u escapes
    assert list(json.loads(line)) == KEYS
    assert _read_back(line) == result


def test_to_line_writes_null_for_no_sdkappid() -> None:
    assert '"sdkappid":null' in to_line(_result("a", sdkappid=None))


@given(st.text(), st.text())
def test_to_line_is_always_valid_utf8_json(room_id: str, error_info: str) -> None:
    # st.text() makes no lone surrogates, which a reply's JSON escapes can: add one by hand.
    for rid in (room_id, room_id + "\ud800"):
        result = Result(ts="t", sdkappid=1, room_id=rid, status=Status.OK, error_info=error_info)
        line = to_line(result)
        line.encode("utf-8")
        assert _read_back(line) == result


@pytest.mark.parametrize(
    ("unix", "text"),
    [
        (1795514400.123, "2026-11-24T10:00:00.123Z"),
        (1795514400.0, "2026-11-24T10:00:00.000Z"),
        (1795514400.9999, "2026-11-24T10:00:00.999Z"),  # truncated, not rounded
        (0, "1970-01-01T00:00:00.000Z"),
    ],
)
def test_utc_timestamp(unix: float, text: str) -> None:
    assert utc_timestamp(unix) == text


def test_the_writer_appends_and_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    for name in ("a", "b"):
        with ResultsWriter.open(str(path)) as writer:
            writer.write(_result(name))
    assert [json.loads(line)["room_id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    writer = ResultsWriter.open(str(path))
    writer.write(_result("a"))
    assert path.read_text() == to_line(_result("a"))  # flushed, before close
    writer.close()
    writer.close()  # twice is harmless


def test_a_torn_last_line_is_ended_before_the_first_new_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    torn = to_line(_result("a"))[:30]
    path.write_text(to_line(_result("old")) + torn)
    with ResultsWriter.open(str(path)) as writer:
        assert path.read_text().endswith(torn)  # nothing changes until something is written
        writer.write(_result("b"))
        writer.write(_result("c"))
    assert path.read_text() == (
        to_line(_result("old")) + torn + "\n" + to_line(_result("b")) + to_line(_result("c"))
    )
    final = read_final(str(path))
    assert final.skipped_lines == 1
    assert final.count == 3


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "results.jsonl"
    with pytest.raises(UsageError) as caught:
        ResultsWriter.open(str(path))
    assert str(caught.value).startswith(
        f"cannot write the results log {str(path)!r}: directory {str(path.parent)!r} does not exist"
    )


def test_a_directory_is_not_a_results_log(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="it is a directory"):
        ResultsWriter.open(str(tmp_path))


def test_stdout_mode_writes_utf8_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="ascii")  # the text layer is bypassed
    monkeypatch.setattr(sys, "stdout", stdout)
    with ResultsWriter.open(None) as writer:
        writer.write(_result("直播"))
    assert not stdout.closed  # stdout is flushed, never closed
    assert raw.getvalue() == to_line(_result("直播")).encode("utf-8")


class _ClosedPipe(io.BytesIO):
    def write(self, data: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_is_a_plain_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(_ClosedPipe()))
    writer = ResultsWriter.open(None)
    with pytest.raises(UsageError, match=r"^the results output \(stdout\) was closed"):
        writer.write(_result("a"))
    with pytest.raises(UsageError, match="can no longer be written"):
        writer.write(_result("b"))
    writer.close()  # does not raise again


def _log(path: Path, *results: Result) -> None:
    path.write_text("".join(map(to_line, results)), encoding="utf-8")


def test_the_last_record_of_a_room_wins(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    _log(
        path,
        _result("ok-then-gave-up"),
        _result("ok-then-gave-up", Status.GAVE_UP),
        _result("gave-up-then-ok", Status.GAVE_UP),
        _result("gave-up-then-ok"),
        _result("aborted", Status.ABORTED),
        _result("rejected", Status.REJECTED),
        _result("invalid", Status.INVALID, sdkappid=None),
    )
    final = read_final(str(path))
    assert final.count == 3
    assert final.contains(1400000001, "gave-up-then-ok")
    assert final.contains(1400000001, "rejected")
    assert final.contains(None, "invalid")
    assert not final.contains(1400000001, "ok-then-gave-up")
    assert not final.contains(1400000001, "aborted")
    assert not final.contains(None, "gave-up-then-ok")  # rooms are per app
    assert not final.contains(1400000002, "gave-up-then-ok")


def test_garbage_lines_are_tolerated_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    good = to_line(_result("a"))
    garbage = [
        "not json",
        "[1, 2]",
        '{"room_id": "x"}',
        '{"room_id": "x", "status": "done"}',
        '{"room_id": "x", "status": ["ok"]}',
        '{"room_id": 5, "status": "ok"}',
        '{"room_id": "x", "status": "ok", "sdkappid": "1"}',
        good[:20],
    ]
    path.write_bytes(
        good.encode() + b"\n\xff\xfe\n  \n" + "\n".join(garbage).encode() + b"\n" + b"[" * 100_000
    )
    final = read_final(str(path))
    assert final.count == 1
    assert final.skipped_lines == len(garbage) + 2  # + invalid UTF-8, + absurd nesting


def test_a_missing_log_has_nothing_final(tmp_path: Path) -> None:
    final = read_final(str(tmp_path / "never-written.jsonl"))
    assert final == FinalRooms()
    assert final.count == 0
    assert not final.contains(None, "a")


def test_has_records(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    assert not has_records(str(path))
    path.write_text("\n  \n")
    assert not has_records(str(path))
    _log(path, _result("a"))
    assert has_records(str(path))


def test_reading_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the results log"):
        read_final(str(tmp_path))
    with pytest.raises(UsageError, match="cannot read the results log"):
        has_records(str(tmp_path))


RESULTS = st.builds(
    Result,
    ts=st.text(),
    sdkappid=st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
    room_id=st.text(),
    status=st.sampled_from(Status),
    error_code=st.integers(min_value=-(2**31), max_value=2**40),
    error_info=st.text(),
    request_id=st.text(),
    attempts=st.integers(min_value=0, max_value=1000),
    elapsed_ms=st.integers(min_value=0, max_value=10**9),
)


@given(RESULTS)
def test_from_line_reads_back_what_to_line_wrote(result: Result) -> None:
    back = from_line(to_line(result).encode("utf-8"))
    # a lone surrogate is written as its JSON escape, and read back as the same value
    assert back == result


def test_from_line_fills_in_what_a_minimal_record_leaves_out() -> None:
    line = b'{"sdkappid":1400000001,"room_id":"r1","status":"gave_up"}\n'
    assert from_line(line) == Result(
        ts="", sdkappid=1400000001, room_id="r1", status=Status.GAVE_UP
    )
    assert from_line(b'  {"sdkappid":null,"room_id":"r1","status":"invalid"}  \r\n') is not None


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"room-1\n",
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok"',  # torn
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok"} {}\n',  # two values
        b'[{"sdkappid":1400000001,"room_id":"r1","status":"ok"}]\n',
        b'{"event":"run_started","sdkappid":1400000001}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"fine"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":["ok"]}\n',
        b'{"sdkappid":1400000001.0,"room_id":"r1","status":"ok"}\n',
        b'{"sdkappid":true,"room_id":"r1","status":"ok"}\n',
        b'{"sdkappid":1400000001,"room_id":null,"status":"ok"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","error_code":"0"}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","attempts":1.5}\n',
        b'{"sdkappid":1400000001,"room_id":"r1","status":"ok","ts":0}\n',
        b'{"sdkappid":1400000001,"room_id":"r\xff","status":"ok"}\n',
        b"[" * 100_000,
    ],
)
def test_from_line_refuses_what_is_not_a_whole_record(line: bytes) -> None:
    assert from_line(line) is None
