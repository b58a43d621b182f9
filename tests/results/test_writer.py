"""Tests of the results log: its schema, the writer, and reading it back for --resume."""

from __future__ import annotations

import errno
import io
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resumer.errors import UsageError
from resumer.records import Result, Status
from resumer.results.writer import (
    FinalRooms,
    ResultsWriter,
    from_line,
    has_records,
    line_bytes,
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


def _datetime_timestamp(unix: float) -> str:
    """utc_timestamp as it was, by datetime: what the table-driven one must equal."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@given(
    st.one_of(
        st.floats(min_value=0, max_value=4102444800, allow_nan=False),  # 1970 to 2100
        st.integers(min_value=1795514400, max_value=1795514500).map(lambda s: s + 0.9999995),
        st.integers(min_value=1795514400, max_value=1795514500).map(lambda s: s - 5e-7),
        st.integers(min_value=0, max_value=4102444800),
    )
)
def test_utc_timestamp_is_the_datetime_text(unix: float) -> None:
    assert utc_timestamp(unix) == _datetime_timestamp(unix)


def test_utc_timestamp_rounds_to_microseconds_as_datetime_does() -> None:
    # the fraction is rounded to microseconds first: .9999996 s is the next second
    for unix in (1795514400.9999996, 1795514400.0009995, 1795514400.0005, 1795514400.9994999):
        assert utc_timestamp(unix) == _datetime_timestamp(unix)


# Any text, lone surrogates and characters JSON escapes included.
_ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.text(alphabet='"\\\x00\x1f\x7f\u2028\ud800\udfffa直'),
)


@given(
    st.builds(
        Result,
        ts=_ANY_TEXT,
        sdkappid=st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63)),
        room_id=_ANY_TEXT,
        status=st.sampled_from(Status),
        error_code=st.integers(),
        error_info=_ANY_TEXT,
        request_id=_ANY_TEXT,
        attempts=st.integers(min_value=0, max_value=10**6),
        elapsed_ms=st.integers(min_value=0, max_value=10**12),
    )
)
def test_to_line_is_the_json_dumps_line_byte_for_byte(result: Result) -> None:
    # the line json.dumps built before the line was built by hand: the log did not change
    fields = {
        "ts": result.ts,
        "sdkappid": result.sdkappid,
        "room_id": result.room_id,
        "status": result.status.value,
        "error_code": result.error_code,
        "error_info": result.error_info,
        "request_id": result.request_id,
        "attempts": result.attempts,
        "elapsed_ms": result.elapsed_ms,
    }
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    before = text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n"
    assert to_line(result) == before
    assert line_bytes(result) == before.encode("utf-8")


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


class _Failing(io.BytesIO):
    """A stream that takes `room` bytes, then fails every write with `error`."""

    def __init__(self, error: OSError, room: int = 0) -> None:
        super().__init__()
        self.error = error
        self.room = room

    def write(self, data: object) -> int:
        assert isinstance(data, bytes | memoryview)
        if self.room <= 0:
            raise self.error
        taken = bytes(data[: self.room])
        self.room -= len(taken)
        return super().write(taken)


def _spilled(spill: io.StringIO) -> list[str]:
    return [json.loads(line)["room_id"] for line in spill.getvalue().splitlines()]


def test_a_full_disk_sends_that_outcome_and_every_later_one_to_stderr() -> None:
    line = to_line(_result("a")).encode()
    stream = _Failing(OSError(errno.ENOSPC, "No space left on device"), room=len(line) + 10)
    spill = io.StringIO()
    writer = ResultsWriter(stream, name="results.jsonl", owned=False, spill=spill)
    assert writer.error is None
    assert writer.write(_result("a"))
    assert not writer.write(_result("b"))  # 10 bytes of it made it: a torn line, as at a crash
    assert not writer.write(_result("c"))
    assert stream.getvalue() == line + to_line(_result("b")).encode()[:10]
    assert _spilled(spill) == ["b", "c"]
    assert [_read_back(x) for x in spill.getvalue().splitlines()] == [_result("b"), _result("c")]
    assert str(writer.error) == (
        "the results log 'results.jsonl' could not be written (No space left on device) after 1 "
        "record: the run stopped sending, and the 2 outcomes it could not write are on stderr "
        "above as JSON lines: free some space, append those lines to the log, then run again "
        "with --resume"
    )
    writer.close()  # does not raise again


def test_a_line_cut_short_by_a_full_disk_is_removed_so_the_spilled_lines_can_be_appended(
    tmp_path: Path,
) -> None:
    # The README's recovery: append the lines from stderr to the log, run again with --resume.
    # A fragment of the failed line left at the end of the file would glue onto the first of
    # them, and --resume would skip that room's record as torn and send the room again.
    class FullDisk(io.FileIO):
        room = len(to_line(_result("a"))) + 10

        def write(self, data: object) -> int:
            assert isinstance(data, bytes | memoryview)
            if self.room <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            taken = bytes(data[: self.room])
            self.room -= len(taken)
            return super().write(taken)

    path = tmp_path / "results.jsonl"
    spill = io.StringIO()
    writer = ResultsWriter(FullDisk(path, "ab"), name=str(path), owned=True, spill=spill)
    assert writer.write(_result("a"))
    assert not writer.write(_result("b"))
    writer.close()
    assert path.read_bytes() == to_line(_result("a")).encode()
    with path.open("a") as log:
        log.write(spill.getvalue())
    assert read_final(str(path)).contains(1400000001, "b")


def test_spilled_lines_are_ascii_json_safe_for_any_terminal() -> None:
    spill = io.StringIO()
    writer = ResultsWriter(
        _Failing(OSError(errno.EIO, "I/O error")), name="r", owned=False, spill=spill
    )
    odd = Result(ts="t", sdkappid=1, room_id="直播\x9b2J", status=Status.OK, error_info="\x1b[2J")
    assert not writer.write(odd)
    assert spill.getvalue().isascii()
    assert _read_back(spill.getvalue()) == odd
    assert "fix the disk or the file" in str(writer.error)


def test_a_full_disk_behind_stdout_says_how_to_resume_from_that_file() -> None:
    stream = _Failing(OSError(errno.ENOSPC, "No space left on device"))
    writer = ResultsWriter(stream, name="stdout", owned=False, spill=io.StringIO())
    assert not writer.write(_result("a"))
    assert str(writer.error).endswith(
        "the outcome it could not write is on stderr above as JSON lines: free some space, "
        "append those lines to the results, then run again with -o FILE --resume"
    )


def test_a_raw_stream_that_takes_part_of_a_line_gets_the_rest() -> None:
    class Dribble(io.BytesIO):
        def write(self, data: object) -> int:
            assert isinstance(data, bytes | memoryview)
            return super().write(bytes(data[:7]))

    stream = Dribble()
    writer = ResultsWriter(stream, name="r", owned=False)
    assert writer.write(_result("a"))
    assert stream.getvalue() == to_line(_result("a")).encode()


def test_a_stdout_closed_by_its_reader_says_so_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        sys, "stdout", io.TextIOWrapper(_Failing(BrokenPipeError(32, "Broken pipe")))
    )
    spill = io.StringIO()
    monkeypatch.setattr(sys, "stderr", spill)  # the default spill is stderr, as it is now
    writer = ResultsWriter.open(None)
    assert not writer.write(_result("a"))
    assert not writer.write(_result("b"))
    assert _spilled(spill) == ["a", "b"]
    assert str(writer.error) == (
        "the program reading the results on stdout closed the pipe after 0 records: the run "
        "stopped sending, and the 2 outcomes it could not write are on stderr above as JSON "
        "lines: write the results to a file with -o"
    )
    writer.close()


def test_a_closed_stdout_is_refused_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdout", None)  # what Python sets when descriptor 1 is closed
    with pytest.raises(UsageError, match=r"^standard output is closed .*: give -o FILE"):
        ResultsWriter.open(None)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (os.mkfifo, "a named pipe"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: p.symlink_to("/dev/full"), "a device"),
        (lambda p: p.symlink_to("/dev/null"), "a device"),
    ],
    ids=["fifo", "directory", "dev-full", "dev-null"],
)
def test_only_a_regular_file_can_be_the_log(
    tmp_path: Path, make: Callable[[Path], object], kind: str
) -> None:
    path = tmp_path / "results.jsonl"
    make(path)
    message = (
        f"cannot use {str(path)!r} as the results log: it is {kind}: name a regular file, or "
        "omit -o to write the results to stdout"
    )
    for attempt in (ResultsWriter.open, read_final, has_records):  # never opened, so no hang
        with pytest.raises(UsageError) as caught:
            attempt(str(path))
        assert str(caught.value) == message


def test_the_file_behind_stdout_is_refused_as_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.jsonl"
    with path.open("w") as stdout:  # `resumer run -o out.jsonl > out.jsonl`, or -o /dev/stdout
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(UsageError, match="it is this run's standard output: omit -o"):
            ResultsWriter.open(str(path))


def test_a_second_writer_on_the_same_file_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    with ResultsWriter.open(str(path)):
        with pytest.raises(UsageError) as caught:
            ResultsWriter.open(str(tmp_path / "." / "results.jsonl"))  # another spelling
        assert str(caught.value) == (
            f"the results log {str(tmp_path / '.' / 'results.jsonl')!r} is in use by another "
            f"process (PID {os.getpid()}): wait for it to finish or stop it, or give another -o"
        )
    ResultsWriter.open(str(path)).close()  # closing released it


def test_the_log_is_read_back_through_the_locked_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    _log(path, _result("a"), _result("b", Status.GAVE_UP))
    with ResultsWriter.open(str(path)) as writer:
        assert writer.has_records()
        assert writer.final_rooms().count == 1
        writer.write(_result("b"))  # reading did not move where the next line goes
        assert writer.final_rooms().count == 2
    assert path.read_text().count("\n") == 3


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
    with pytest.raises(UsageError, match="it is a directory"):
        read_final(str(tmp_path))
    with pytest.raises(UsageError, match="it is a directory"):
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
