"""The --resume reader: which rooms a results log already holds as final."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from resumer.errors import UsageError
from resumer.records import Status
from resumer.results.files import cannot_read, open_regular
from resumer.results.schema import fields_of
from resumer.seen import SeenRooms, tag


@dataclass(frozen=True, slots=True)
class FinalRooms:
    """Rooms whose last record in a results log is final, per sdkappid: what --resume skips.

    Kept as fingerprints (resumer.seen): about 10 B per room, where a set of room IDs per app
    cost over 100; a room is taken for final by mistake with odds at most n^2/2^66 over n rooms.
    """

    rooms: SeenRooms = field(default_factory=SeenRooms)
    skipped_lines: int = 0  # torn or garbage lines: tolerated, and counted for a warning

    def contains(self, sdkappid: int | None, room_id: str) -> bool:
        """True if this room of this app already reached a final outcome."""
        return self.rooms.contains(tag(sdkappid), room_id)

    @property
    def count(self) -> int:
        """How many rooms are final, over every app."""
        return len(self.rooms)


def read_final(path: str) -> FinalRooms:
    """Stream a results log; the last record of each room decides. A missing file is empty."""
    try:
        with open_regular(path) as stream:
            return final_rooms_in(stream)
    except FileNotFoundError:
        return FinalRooms()
    except OSError as exc:
        raise UsageError(cannot_read(path, exc)) from exc


def has_records(path: str) -> bool:
    """True if `path` exists and holds at least one non-blank line."""
    try:
        with open_regular(path) as stream:
            return has_records_in(stream)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise UsageError(cannot_read(path, exc)) from exc


def has_records_in(lines: Iterable[bytes]) -> bool:
    return any(line.strip() for line in lines)


def final_rooms_in(lines: Iterable[bytes]) -> FinalRooms:
    rooms = SeenRooms()
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        record = parse_record(line)
        if record is None:
            skipped += 1
            continue
        sdkappid, room_id, status = record
        if status.is_final:
            rooms.add(tag(sdkappid), room_id)
        else:
            rooms.discard(tag(sdkappid), room_id)  # e.g. ok, then gave_up later: do it again
    return FinalRooms(rooms=rooms, skipped_lines=skipped)


def final_records_in(
    lines: Iterable[bytes], final: Callable[[int | None, str], bool]
) -> Iterator[tuple[int, str, Status]]:
    """The (sdkappid, room_id, status) of each final record of a room that `final` (the log's
    `FinalRooms`, read before) holds final, in the log's order, one line at a time.

    A room final, then done again and final again, comes twice, its last status last. Records
    that name no app are left out: they were never claimed on Redis.
    """
    for line in lines:
        record = parse_record(line) if line.strip() else None
        if record is None:
            continue
        sdkappid, room_id, status = record
        if sdkappid is not None and status.is_final and final(sdkappid, room_id):
            yield sdkappid, room_id, status


def parse_record(line: bytes) -> tuple[int | None, str, Status] | None:
    """The (sdkappid, room_id, status) of one line, or None if it is not a whole record."""
    fields = fields_of(line)
    return None if fields is None else (fields[1], fields[2], fields[3])
