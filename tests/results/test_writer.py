"""Tests for the results-log writer: appends, spills to stderr, cuts back, reads back."""

from __future__ import annotations

import errno
import io
import json
import sys
from pathlib import Path

import pytest

from resumer.errors import UsageError
from resumer.records import Result, Status
from resumer.results.resume import read_final
from resumer.results.schema import to_line
from resumer.results.writer import ResultsWriter


def _result(room_id: str, status: Status = Status.OK, sdkappid: int | None = 1400000001) -> Result:
    return Result(ts="2026-11-24T10:00:00.123Z", sdkappid=sdkappid, room_id=room_id, status=status)


def _read_back(line: str) -> Result:
    record = json.loads(line)
    return Result(**{**record, "status": Status(record["status"])})


def _log(path: Path, *results: Result) -> None:
    path.write_text("".join(map(to_line, results)), encoding="utf-8")


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


def test_the_file_behind_stdout_is_refused_as_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.jsonl"
    with path.open("w") as stdout:  # `resumer run -o out.jsonl > out.jsonl`, or -o /dev/stdout
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(UsageError, match="it is this run's standard output: omit -o"):
            ResultsWriter.open(str(path))


def test_the_log_is_read_back_through_the_locked_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    _log(path, _result("a"), _result("b", Status.GAVE_UP))
    with ResultsWriter.open(str(path)) as writer:
        assert writer.has_records()
        assert writer.final_rooms().count == 1
        writer.write(_result("b"))  # reading did not move where the next line goes
        assert writer.final_rooms().count == 2
    assert path.read_text().count("\n") == 3


def test_the_final_records_are_read_back_through_the_locked_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    _log(path, _result("a"), _result("b", Status.GAVE_UP), _result("c", Status.REJECTED))
    with ResultsWriter.open(str(path)) as writer:
        records = writer.final_records(writer.final_rooms().contains)
        assert [(room, status) for _, room, status in records] == [
            ("a", Status.OK),
            ("c", Status.REJECTED),
        ]
        writer.write(_result("b"))
    assert path.read_text().count("\n") == 4
