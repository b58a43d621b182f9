"""Read room IDs from files or stdin, line by line, refusing bad ones before anything is sent."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from resumer.errors import UsageError
from resumer.records import InvalidRoom, Room

MAX_ROOM_ID_BYTES = 48  # the API's limit on RoomId, in bytes of UTF-8
# A line longer than this is not read whole (memory must not grow with the input): it is refused.
# Room IDs are at most 48 bytes, and a fed-back results log line is well under 1 KiB.
MAX_LINE_BYTES = 64 * 1024
STDIN = "-"

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # never valid UTF-8, so never a false alarm
_UTF16_SNIFF = 64  # bytes of a file's head looked at for UTF-16 without a BOM
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}
# Control characters (C0, DEL and C1) are in no room name; they are what a UTF-16 or binary
# file read as UTF-8 looks like, and C1/ESC would drive a terminal that shows the ID.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_READ_BUFFER = io.DEFAULT_BUFFER_SIZE  # bytes per read of an input file, checked after each


def parse_line(raw: bytes) -> Room | InvalidRoom | None:
    """Turn one input line into a room, a refused room, or None for a blank or comment line."""
    # surrogateescape keeps undecodable bytes (as U+DC80..U+DCFF) so a bad line can still be
    # stripped, recognised as a comment, and shown back with its bytes escaped.
    text = raw.removeprefix(_BOM).decode("utf-8", "surrogateescape").strip()
    if not text or text.startswith("#"):
        return None
    if not _is_utf8(text):
        return InvalidRoom(room_id=_show_bytes(text), reason="line is not valid UTF-8")
    if text.startswith("{"):
        return _parse_json(text)
    return _check_room_id(text, sdkappid=None)


def check_sources(sources: Sequence[str]) -> None:
    """Raise UsageError, one sentence per bad source, unless every input file can be read."""
    problems = [p for p in map(_source_problem, sources) if p is not None]
    if problems:
        raise UsageError("\n".join(problems))


def iter_entries(sources: Sequence[str], *, stdin: BinaryIO) -> Iterator[Room | InvalidRoom]:
    """Yield every room of every source in order ("-" or no source: stdin); no deduplication.

    UsageError if a source is UTF-16, or if a regular file changes while it is read.
    """
    for source in sources or [STDIN]:
        if source == STDIN:
            yield from _read(stdin, "standard input")
            continue
        try:  # check_sources ran first: this fails only if the file changed since, or the disk
            with _open_watched(source) as stream:
                yield from _read(stream, f"input file {source!r}")
        except OSError as exc:
            raise UsageError(_describe(source, exc)) from exc


def _read(stream: BinaryIO, name: str) -> Iterator[Room | InvalidRoom]:
    first = True
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if first:  # a pipe is not sniffed by check_sources: its first line is, here
            first = False
            if _looks_utf16(line):
                raise UsageError(f"{name} looks like UTF-16: save it as UTF-8")
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # drop the rest of the overlong line, a bounded chunk at a time
            if not line.removeprefix(_BOM).lstrip().startswith(b"#"):
                yield _too_long(line)
            continue
        entry = parse_line(line)
        if entry is not None:
            yield entry


def _too_long(line: bytes) -> InvalidRoom:
    head = line.removeprefix(_BOM).lstrip()[:MAX_ROOM_ID_BYTES]
    return InvalidRoom(
        room_id=head.decode("utf-8", "backslashreplace") + "...",
        reason=f"line is over {MAX_LINE_BYTES} bytes, far over the API's limit of "
        f"{MAX_ROOM_ID_BYTES} for a room ID",
    )


def _parse_json(text: str) -> InvalidRoom | Room:
    try:
        obj = json.loads(text)  # text starting with '{' parses to a dict or not at all
    except (ValueError, RecursionError) as exc:  # also huge numbers, absurdly deep nesting
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return InvalidRoom(
            room_id=text, reason=f"line starts with '{{' but is not a JSON object: {detail}"
        )
    key = "RoomId" if "RoomId" in obj else "room_id"  # RoomId wins when a line has both
    value = obj.get(key)
    sdkappid = obj.get("sdkappid")  # absent or null: the app is decided by the config
    if (refused := _refused_as_a_whole(obj, value, text)) is not None:
        return refused
    if key not in obj:
        return InvalidRoom(room_id=text, reason="JSON line has no RoomId", sdkappid=sdkappid)
    if not isinstance(value, str):
        return InvalidRoom(
            room_id=_json_text(value),
            reason=f"room ID is not a string (got {_json_type(value)})",
            sdkappid=sdkappid,
        )
    if not _is_utf8(value):  # a JSON escape can spell a lone surrogate: "\ud800"
        return InvalidRoom(
            room_id=_show_surrogates(value),
            reason="room ID is not valid Unicode (it holds a lone surrogate)",
            sdkappid=sdkappid,
        )
    return _check_room_id(value, sdkappid=sdkappid)


def _refused_as_a_whole(obj: dict[str, object], value: object, text: str) -> InvalidRoom | None:
    """A JSON line refused whatever its room ID: a bad sdkappid, or an `invalid` record."""
    sdkappid = obj.get("sdkappid")
    if sdkappid is not None and (type(sdkappid) is not int or sdkappid <= 0):
        return InvalidRoom(
            room_id=_show_surrogates(value) if isinstance(value, str) else text,
            reason=f"sdkappid must be a positive integer (got {_json_text(sdkappid)})",
        )
    if obj.get("status") == "invalid" and isinstance(value, str):
        # A results record fed back: its room_id is how the refused value was *shown*
        # (`null`, `5`, a line cut short...), never a room to send. It stays invalid with the
        # same room_id, so --resume finds it final and a second copy is a duplicate.
        info = obj.get("error_info")
        return InvalidRoom(
            room_id=_show_surrogates(value),
            reason=info if isinstance(info, str) and info else "recorded invalid before",
            sdkappid=sdkappid,
        )
    return None


def _check_room_id(room_id: str, *, sdkappid: int | None) -> Room | InvalidRoom:
    # Whitespace inside a room ID (or around one given in JSON) is kept: the API decides.
    size = len(room_id.encode("utf-8"))
    if size == 0:
        return InvalidRoom(room_id=room_id, reason="room ID is empty", sdkappid=sdkappid)
    if size > MAX_ROOM_ID_BYTES:
        return InvalidRoom(
            room_id=room_id,
            reason=f"room ID is {size} bytes of UTF-8, over the API's limit of {MAX_ROOM_ID_BYTES}",
            sdkappid=sdkappid,
        )
    # isprintable() is False for every control character, and ten times cheaper than the regex
    if not room_id.isprintable() and (control := _CONTROL.search(room_id)):
        # The ID is kept as it is: the results log's JSON escapes it, and no room that can
        # be sent shares it, so --resume and duplicates match it exactly.
        return InvalidRoom(
            room_id=room_id,
            reason=f"room ID holds a control character (U+{ord(control.group()):04X})",
            sdkappid=sdkappid,
        )
    return Room(room_id=room_id, sdkappid=sdkappid)


def _looks_utf16(head: bytes) -> bool:
    """True for UTF-16 text: a BOM, or (mostly ASCII text without one) NUL every other byte."""
    if head.startswith(_UTF16_BOMS):
        return True
    head = head[: min(len(head), _UTF16_SNIFF) // 2 * 2]
    if len(head) < 4:  # two code units at least: one NUL pair proves nothing
        return False
    return not any(head[1::2]) or not any(head[0::2])


class _WatchedFile(io.RawIOBase):
    """A regular file's raw reads, each checked against a change of the file under the reader.

    Rewritten in place mid-run (truncated, overwritten), a file would hand over a line spliced
    from old and new bytes. After each read the file must still have its first mtime and at
    least its first size, and its path must still name it; else UsageError, before the bytes
    of that read are used. One fstat and one stat per read of _READ_BUFFER bytes.
    """

    def __init__(self, path: str) -> None:
        self._file = io.FileIO(path, "r")
        self._path = path
        first = os.fstat(self._file.fileno())
        self._first = first
        self._watched = stat.S_ISREG(first.st_mode)  # a pipe or a device cannot be rewritten

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._file.fileno()

    def readinto(self, buffer: memoryview) -> int | None:  # type: ignore[override]
        size = self._file.readinto(buffer)
        if self._watched:
            self._check()
        return size

    def close(self) -> None:
        self._file.close()
        super().close()

    def _check(self) -> None:
        now, first = os.fstat(self._file.fileno()), self._first
        if now.st_size < first.st_size:
            why = "it shrank"
        elif now.st_mtime_ns != first.st_mtime_ns:
            why = "it was written to"
        else:
            try:
                named = os.stat(self._path)
            except OSError:  # removed: the open file is still whole, read it to the end
                return
            if (named.st_dev, named.st_ino) == (first.st_dev, first.st_ino):
                return
            why = "another file was put in its place"
        raise UsageError(
            f"input file {self._path!r} changed while it was being read ({why}): write the "
            "room list to a new file, then run again with it and --resume"
        )


def _open_watched(path: str) -> BinaryIO:
    return io.BufferedReader(_WatchedFile(path), buffer_size=_READ_BUFFER)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show_bytes(text: str) -> str:
    """Undo surrogateescape, showing each undecodable byte as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _show_surrogates(text: str) -> str:
    """Show lone surrogates (from JSON escapes) as \\udNNN, so the text can be written as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_text(value: object) -> str:
    return _show_surrogates(json.dumps(value, ensure_ascii=False))


def _json_type(value: object) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), "an object")


def _source_problem(source: str) -> str | None:
    if source == STDIN:
        return None
    try:
        mode = os.stat(source).st_mode
        if stat.S_ISDIR(mode):
            return f"input file {source!r} is a directory: name a file of room IDs"
        if not stat.S_ISREG(mode):
            # A pipe such as <(jq ...) is checked without reading: a byte read here is lost.
            readable = os.access(source, os.R_OK)
            return None if readable else f"input file {source!r} cannot be read: permission denied"
        with open(source, "rb") as stream:
            head = stream.read(_UTF16_SNIFF)
    except OSError as exc:
        return _describe(source, exc)
    if _looks_utf16(head):
        how = "is" if head.startswith(_UTF16_BOMS) else "looks like"
        return f"input file {source!r} {how} UTF-16: save it as UTF-8"
    return None


def _describe(source: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return f"input file {source!r} does not exist: check the path"
    if isinstance(exc, IsADirectoryError):
        return f"input file {source!r} is a directory: name a file of room IDs"
    if isinstance(exc, PermissionError):
        return f"input file {source!r} cannot be read: permission denied"
    return f"input file {source!r} cannot be read: {exc.strerror or exc}"
