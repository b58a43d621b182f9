"""Read room IDs from files or stdin, line by line, refusing bad ones before anything is sent."""

from __future__ import annotations

import json
import os
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
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", list: "an array"}


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
    """Yield every room of every source in order ("-" or no source: stdin); no deduplication."""
    for source in sources or [STDIN]:
        if source == STDIN:
            yield from _read(stdin)
            continue
        try:  # check_sources ran first: this fails only if the file changed since, or the disk
            with open(source, "rb") as stream:
                yield from _read(stream)
        except OSError as exc:
            raise UsageError(_describe(source, exc)) from exc


def _read(stream: BinaryIO) -> Iterator[Room | InvalidRoom]:
    while line := stream.readline(MAX_LINE_BYTES + 1):
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
    if sdkappid is not None and (type(sdkappid) is not int or sdkappid <= 0):
        return InvalidRoom(
            room_id=_show_surrogates(value) if isinstance(value, str) else text,
            reason=f"sdkappid must be a positive integer (got {_json_text(sdkappid)})",
        )
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
    return Room(room_id=room_id, sdkappid=sdkappid)


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
            head = stream.read(2)
    except OSError as exc:
        return _describe(source, exc)
    if head.startswith(_UTF16_BOMS):
        return f"input file {source!r} is UTF-16: save it as UTF-8"
    return None


def _describe(source: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return f"input file {source!r} does not exist: check the path"
    if isinstance(exc, IsADirectoryError):
        return f"input file {source!r} is a directory: name a file of room IDs"
    if isinstance(exc, PermissionError):
        return f"input file {source!r} cannot be read: permission denied"
    return f"input file {source!r} cannot be read: {exc.strerror or exc}"
