"""Tests of reading room IDs: parsing one line, checking sources, streaming them."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resumer.errors import UsageError
from resumer.inputs import (
    MAX_LINE_BYTES,
    MAX_ROOM_ID_BYTES,
    check_sources,
    iter_entries,
    parse_line,
)
from resumer.records import InvalidRoom, Result, Room, Status
from resumer.results.schema import to_line


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _fits_a_plain_line(text: str) -> bool:
    # A leading U+FEFF is read as a BOM, by design.
    return text == text.strip() and not text.startswith(("#", "{", "\ufeff")) and "\n" not in text


room_ids = st.text(min_size=1, max_size=MAX_ROOM_ID_BYTES).filter(
    lambda s: _utf8_size(s) <= MAX_ROOM_ID_BYTES and _fits_a_plain_line(s) and not CONTROL.search(s)
)
long_room_ids = st.text(min_size=MAX_ROOM_ID_BYTES // 4 + 1, max_size=100).filter(
    lambda s: _utf8_size(s) > MAX_ROOM_ID_BYTES and _fits_a_plain_line(s)
)


@given(room_ids)
def test_a_room_id_round_trips_through_a_plain_line(room_id: str) -> None:
    assert parse_line(room_id.encode("utf-8") + b"\n") == Room(room_id=room_id)


@given(room_ids, st.integers(min_value=1, max_value=2**32), st.sampled_from(["RoomId", "room_id"]))
def test_a_room_id_round_trips_through_a_json_line(room_id: str, sdkappid: int, key: str) -> None:
    line = json.dumps({key: room_id, "sdkappid": sdkappid, "status": "gave_up"}).encode()
    assert parse_line(line + b"\r\n") == Room(room_id=room_id, sdkappid=sdkappid)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    entry = parse_line(raw)
    assert entry is None or isinstance(entry, Room | InvalidRoom)
    if entry is not None:
        entry.room_id.encode("utf-8")  # always writable to the results log


@given(long_room_ids)
def test_a_room_id_over_48_bytes_is_always_invalid(room_id: str) -> None:
    assert isinstance(parse_line(json.dumps({"RoomId": room_id}).encode()), InvalidRoom)
    assert isinstance(parse_line(room_id.encode("utf-8") + b"\n"), InvalidRoom)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"room-1\n", Room(room_id="room-1")),
        (b"room-1\r\n", Room(room_id="room-1")),
        (b"\xef\xbb\xbfroom-1\r\n", Room(room_id="room-1")),
        (b"  \troom 1 \t\r\n", Room(room_id="room 1")),  # spaces inside are the API's to judge
        (b"x" * 48, Room(room_id="x" * 48)),
        ("房间".encode() * 8, Room(room_id="房间" * 8)),  # 48 bytes of UTF-8
        (b'{"RoomId": "a", "sdkappid": 1400000002}', Room(room_id="a", sdkappid=1400000002)),
        (b'{"room_id": "a", "sdkappid": null}', Room(room_id="a")),
        (b'{"RoomId": "a", "room_id": "b"}', Room(room_id="a")),
        (b'{"RoomId": " a "}', Room(room_id=" a ")),  # a JSON value is taken as it is
        (b"", None),
        (b"\n", None),
        (b" \r\n", None),
        (b"\xef\xbb\xbf\n", None),
        (b"# a comment\n", None),
        (b"  # indented comment \xff\n", None),
        (b"\xef\xbb\xbf# a comment after a BOM\n", None),
    ],
)
def test_accepted_and_skipped_lines(raw: bytes, expected: Room | None) -> None:
    assert parse_line(raw) == expected


@pytest.mark.parametrize(
    ("raw", "room_id", "reason"),
    [
        (b'{"RoomId": ""}', "", "room ID is empty"),
        (b"x" * 52, "x" * 52, "room ID is 52 bytes of UTF-8, over the API's limit of 48"),
        ("é".encode() * 25, "é" * 25, "room ID is 50 bytes of UTF-8, over the API's limit of 48"),
        (b"room-\xff\xfe\n", "room-\\xff\\xfe", "line is not valid UTF-8"),
        (b'{"RoomId": 5}', "5", "room ID is not a string (got a number)"),
        (b'{"RoomId": null}', "null", "room ID is not a string (got null)"),
        (b'{"RoomId": true}', "true", "room ID is not a string (got a boolean)"),
        (b'{"RoomId": ["a"]}', '["a"]', "room ID is not a string (got an array)"),
        (b'{"RoomId": {"a": 1}}', '{"a": 1}', "room ID is not a string (got an object)"),
        (
            b'{"RoomId": "\\ud800"}',
            "\\ud800",
            "room ID is not valid Unicode (it holds a lone surrogate)",
        ),
        (b'{"roomid": "a"}', '{"roomid": "a"}', "JSON line has no RoomId"),
        (
            b'{"RoomId": "a", "sdkappid": "14"}',
            "a",
            'sdkappid must be a positive integer (got "14")',
        ),
        (b'{"RoomId": "a", "sdkappid": 0}', "a", "sdkappid must be a positive integer (got 0)"),
        (b'{"RoomId": "a", "sdkappid": 1.5}', "a", "sdkappid must be a positive integer (got 1.5)"),
        (
            b'{"RoomId": "a", "sdkappid": true}',
            "a",
            "sdkappid must be a positive integer (got true)",
        ),
    ],
)
def test_refused_lines(raw: bytes, room_id: str, reason: str) -> None:
    assert parse_line(raw) == InvalidRoom(room_id=room_id, reason=reason)


@given(room_ids, st.characters(codec="utf-8", categories=["Cc"]), st.data())
def test_a_control_character_anywhere_in_a_room_id_makes_it_invalid(
    room_id: str, control: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(min_value=1, max_value=len(room_id) - 1)) if len(room_id) > 1 else 0
    spoiled = room_id[:at] + control + room_id[at:]
    if _utf8_size(spoiled) > MAX_ROOM_ID_BYTES:
        return
    json_entry = parse_line(json.dumps({"RoomId": spoiled}).encode())
    assert json_entry == InvalidRoom(
        room_id=spoiled, reason=f"room ID holds a control character (U+{ord(control):04X})"
    )
    plain = parse_line(spoiled.encode("utf-8") + b"\n")
    if at > 0:  # inside the line: not stripped away like surrounding whitespace
        assert isinstance(plain, InvalidRoom)


@pytest.mark.parametrize(
    ("raw", "room_id", "code"),
    [
        (b"room\x001\n", "room\x001", "0000"),  # a NUL inside a UTF-8 line
        (b"room\x1b[2J\n", "room\x1b[2J", "001B"),  # a terminal escape
        (b"room\x7f\n", "room\x7f", "007F"),
        ("room\u009b1".encode() + b"\n", "room\u009b1", "009B"),  # C1: CSI
        (b"r\x00o\x00o\x00m\x00\r\x00", "r\x00o\x00o\x00m\x00\r\x00", "0000"),  # UTF-16LE
    ],
)
def test_control_characters_make_a_line_invalid(raw: bytes, room_id: str, code: str) -> None:
    reason = f"room ID holds a control character (U+{code})"
    assert parse_line(raw) == InvalidRoom(room_id=room_id, reason=reason)


@given(st.binary(max_size=120), st.sampled_from([None, 1400000001]))
def test_an_invalid_record_fed_back_stays_invalid_with_its_room_id(
    raw: bytes, sdkappid: int | None
) -> None:
    entry = parse_line(raw)
    if not isinstance(entry, InvalidRoom):
        return
    record = Result(
        ts="2026-11-24T10:00:00.123Z",
        sdkappid=sdkappid,
        room_id=entry.room_id,
        status=Status.INVALID,
        error_info=entry.reason,
    )
    fed_back = parse_line(to_line(record).encode())
    assert fed_back == InvalidRoom(room_id=entry.room_id, reason=entry.reason, sdkappid=sdkappid)


@pytest.mark.parametrize("room_id", ["null", "5", "{not json", "", '["a"]', "ok-room"])
def test_the_junk_of_invalid_records_is_never_sent(room_id: str) -> None:
    line = json.dumps({"sdkappid": 7, "room_id": room_id, "status": "invalid", "error_info": "why"})
    assert parse_line(line.encode()) == InvalidRoom(room_id=room_id, reason="why", sdkappid=7)
    no_reason = json.dumps({"room_id": room_id, "status": "invalid"})
    assert parse_line(no_reason.encode()) == InvalidRoom(
        room_id=room_id, reason="recorded invalid before"
    )


@pytest.mark.parametrize(
    "raw", [b"{RoomId: a}", b'{"RoomId": "a"} extra', b'{"RoomId": "a"', b'{"a": ' + b"[" * 100_000]
)
def test_a_line_starting_with_a_brace_must_be_a_json_object(raw: bytes) -> None:
    entry = parse_line(raw)
    assert isinstance(entry, InvalidRoom)
    assert entry.reason.startswith("line starts with '{' but is not a JSON object: ")
    assert entry.room_id == raw.decode()


def test_a_refused_room_keeps_a_valid_sdkappid() -> None:
    entry = parse_line(b'{"RoomId": "", "sdkappid": 1400000001}')
    assert entry == InvalidRoom(room_id="", reason="room ID is empty", sdkappid=1400000001)


def test_a_results_log_line_feeds_back_in() -> None:
    line = (
        '{"ts":"2026-11-24T10:00:00.123Z","sdkappid":1400000001,"room_id":"直播-1",'
        '"status":"gave_up","error_code":100001,"error_info":"","request_id":"Id-1",'
        '"attempts":5,"elapsed_ms":83}\n'
    )
    assert parse_line(line.encode()) == Room(room_id="直播-1", sdkappid=1400000001)


def test_sources_are_read_in_order_and_not_deduplicated(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_bytes(b"\xef\xbb\xbfr1\r\n# comment\r\n\r\nr2\r\n")
    second.write_bytes(b'r1\n{"RoomId": "r3", "sdkappid": 7}')  # no final newline
    stdin = io.BytesIO(b"from-stdin\n")
    entries = list(iter_entries([str(first), "-", str(second)], stdin=stdin))
    assert entries == [
        Room(room_id="r1"),
        Room(room_id="r2"),
        Room(room_id="from-stdin"),
        Room(room_id="r1"),
        Room(room_id="r3", sdkappid=7),
    ]


def test_no_source_means_stdin() -> None:
    assert list(iter_entries([], stdin=io.BytesIO(b"a\nb\n"))) == [
        Room(room_id="a"),
        Room(room_id="b"),
    ]


def test_an_overlong_line_is_refused_without_being_read_whole() -> None:
    overlong_comment = b"#" + b"y" * MAX_LINE_BYTES * 2
    stdin = io.BytesIO(b"a\n" + b"x" * (3 * MAX_LINE_BYTES) + b"\n" + overlong_comment + b"\nb")
    entries = list(iter_entries(["-"], stdin=stdin))
    assert [type(e) for e in entries] == [Room, InvalidRoom, Room]
    refused = entries[1]
    assert isinstance(refused, InvalidRoom)
    assert refused.room_id == "x" * MAX_ROOM_ID_BYTES + "..."
    assert refused.reason.startswith(f"line is over {MAX_LINE_BYTES} bytes")


class _EndlessRooms(io.RawIOBase):
    """An input that never ends: reading it whole would never return."""

    def __init__(self) -> None:
        self._lines: Iterator[bytes] = (f"room-{i}\n".encode() for i in itertools.count())
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            self._pending += next(self._lines)
        size = len(buffer)
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def test_input_is_streamed() -> None:
    stream = io.BufferedReader(_EndlessRooms())
    rooms = list(itertools.islice(iter_entries(["-"], stdin=stream), 50_000))
    assert rooms[-1] == Room(room_id="room-49999")


def test_memory_does_not_grow_with_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    with path.open("wb") as out:
        for i in range(100_000):
            out.write(f"room-{i:08d}\n".encode())
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_entries([str(path)], stdin=io.BytesIO()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < 256 * 1024  # the file is 1.4 MB; its rooms kept in memory take 12 MB


def test_check_sources_accepts_readable_files_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    path.write_text("a\n")
    check_sources([str(path), "-"])
    check_sources([])


def test_check_sources_says_what_is_wrong_with_each_source(tmp_path: Path) -> None:
    missing, folder, utf16 = tmp_path / "x.txt", tmp_path / "dir", tmp_path / "u.txt"
    folder.mkdir()
    utf16.write_text("room-1\n", encoding="utf-16")
    with pytest.raises(UsageError) as caught:
        check_sources([str(missing), "-", str(folder), str(utf16)])
    assert str(caught.value).splitlines() == [
        f"input file {str(missing)!r} does not exist: check the path",
        f"input file {str(folder)!r} is a directory: name a file of room IDs",
        f"input file {str(utf16)!r} is UTF-16: save it as UTF-8",
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_refused_at_start_up(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "rooms.txt"
    path.write_bytes("room-1\r\nroom-2\r\n".encode(encoding))
    with pytest.raises(UsageError) as caught:
        check_sources([str(path)])
    assert str(caught.value) == f"input file {str(path)!r} looks like UTF-16: save it as UTF-8"


@pytest.mark.parametrize(
    "data",
    [
        "room-1\nroom-2\n".encode("utf-16-le"),
        "ab\n".encode("utf-16-be"),
        "a\n".encode("utf-16"),  # with a BOM
    ],
)
def test_utf16_on_stdin_is_refused_at_its_first_line(data: bytes) -> None:
    with pytest.raises(UsageError, match=r"^standard input looks like UTF-16: save it as UTF-8$"):
        list(iter_entries(["-"], stdin=io.BytesIO(data)))


@pytest.mark.parametrize("head", [b"a\x00", b"room-1\nroom-2\n", b"\x00\x00\x00", "房间".encode()])
def test_utf8_text_is_not_taken_for_utf16(tmp_path: Path, head: bytes) -> None:
    path = tmp_path / "rooms.txt"
    path.write_bytes(head)
    check_sources([str(path)])


def _rewrite(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    """Overwrite in place, as `cat new > rooms.txt` does: same inode, truncated, written."""
    with path.open("r+b") as file:
        file.truncate(0)
        file.write(data)
    if mtime_ns is not None:  # coarse file-system clocks may not tick between two writes
        os.utime(path, ns=(mtime_ns, mtime_ns))


def _big_input(path: Path, letter: str) -> None:
    path.write_bytes(b"".join(f"{letter * 20}-{i:07d}\n".encode() for i in range(20_000)))


def test_a_file_that_shrinks_under_the_reader_stops_the_reading(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    _big_input(path, "a")
    entries = iter_entries([str(path)], stdin=io.BytesIO())
    assert next(entries) == Room(room_id="a" * 20 + "-0000000")
    _rewrite(path, b"b" * 20 + b"-0000000\n" * 100)
    with pytest.raises(UsageError) as caught:
        list(entries)
    assert str(caught.value) == (
        f"input file {str(path)!r} changed while it was being read (it shrank): write the room "
        "list to a new file, then run again with it and --resume"
    )


def test_a_file_rewritten_in_place_never_yields_a_spliced_room_id(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    _big_input(path, "a")
    before = path.stat().st_mtime_ns
    entries = iter_entries([str(path)], stdin=io.BytesIO())
    seen = [next(entries)]
    _big_input(path, "b")  # the same size: only the mtime tells
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    with pytest.raises(UsageError, match=r"changed while it was being read \(it was written to\)"):
        seen.extend(entries)
    assert all(isinstance(e, Room) and set(e.room_id[:20]) == {"a"} for e in seen)


def test_a_file_replaced_under_the_reader_stops_the_reading(tmp_path: Path) -> None:
    path, new = tmp_path / "rooms.txt", tmp_path / "new.txt"
    _big_input(path, "a")
    _big_input(new, "b")
    entries = iter_entries([str(path)], stdin=io.BytesIO())
    next(entries)
    new.replace(path)  # as an editor or `sed -i` saves
    with pytest.raises(UsageError, match=r"\(another file was put in its place\)"):
        list(entries)


def test_a_file_unchanged_or_removed_is_read_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    _big_input(path, "a")
    assert sum(1 for _ in iter_entries([str(path)], stdin=io.BytesIO())) == 20_000
    entries = iter_entries([str(path)], stdin=io.BytesIO())
    next(entries)
    path.unlink()  # the open file is still whole
    assert sum(1 for _ in entries) == 19_999


def test_check_sources_reports_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("a\n")

    def refuse(*_args: object, **_kwargs: object) -> None:
        # chmod 0 cannot stop root (CI runs as root), so the OS's answer is injected instead
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(UsageError, match="cannot be read: permission denied"):
        check_sources([str(path)])


def test_check_sources_does_not_read_from_a_pipe() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"room-1\n")
        os.close(write_end)
        check_sources([f"/dev/fd/{read_end}"])
        assert os.read(read_end, 100) == b"room-1\n"  # nothing was consumed
    finally:
        os.close(read_end)


def test_a_source_removed_after_the_check_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        list(iter_entries([str(tmp_path / "gone.txt")], stdin=io.BytesIO()))
