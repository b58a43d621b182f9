"""Tests for the --resume reader: the last record of a room decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from resumer.errors import UsageError
from resumer.records import Result, Status
from resumer.results.resume import FinalRooms, final_records_in, has_records, read_final
from resumer.results.schema import to_line


def _result(room_id: str, status: Status = Status.OK, sdkappid: int | None = 1400000001) -> Result:
    return Result(ts="2026-11-24T10:00:00.123Z", sdkappid=sdkappid, room_id=room_id, status=status)


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


def test_the_final_records_of_rooms_final_at_the_end_come_in_the_logs_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.jsonl"
    _log(
        path,
        _result("ok-then-gave-up"),
        _result("ok-then-gave-up", Status.GAVE_UP),
        _result("rejected-then-aborted-then-ok", Status.REJECTED),
        _result("rejected-then-aborted-then-ok", Status.ABORTED),
        _result("rejected-then-aborted-then-ok"),
        _result("invalid", Status.INVALID),
        _result("no-app", sdkappid=None),
        _result("other-app", sdkappid=1400000002),
    )
    with path.open("ab") as log:
        log.write(b'{"room_id": "torn", "sta\n')
    final = read_final(str(path))
    with path.open("rb") as lines:
        records = list(final_records_in(lines, final.contains))
    assert records == [
        (1400000001, "rejected-then-aborted-then-ok", Status.REJECTED),
        (1400000001, "rejected-then-aborted-then-ok", Status.OK),
        (1400000001, "invalid", Status.INVALID),
        (1400000002, "other-app", Status.OK),
    ]
