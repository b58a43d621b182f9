"""resumer with the Python sets of before: `python -m bench.probes.plain_sets run --dry-run ...`.

Bench scenario 10 measures the memory and the stalls of the rooms a run remembers, as shipped
(`resumer.seen`: fingerprints) and as before (a set of room IDs per app, a set of invalid
entries, and a set per app of the rooms final in the log for --resume). This launcher swaps the
two old classes back into the CLI and runs it: the code of this very commit otherwise, so the
two columns differ in the sets alone. It lives in the bench, not behind a flag of resumer's own.
The classes are the old code, as it was (commit c56edd9), trimmed of nothing that runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from resumer.cli import dry_run, output
from resumer.cli.main import main
from resumer.engine.routing import Decision, Entry, Route, Router, Skip
from resumer.records import InvalidRoom
from resumer.results.files import open_regular
from resumer.results.resume import parse_record


class PlainRouter(Router):
    """`Router` as it was: a set of room IDs per app, and one of invalid entries."""

    def __init__(
        self,
        sdkappids: Iterable[int],
        *,
        skip: Skip = lambda _sdkappid, _room_id: False,
    ) -> None:
        self._plain: dict[int, set[str]] = {sdkappid: set() for sdkappid in sdkappids}
        self._plain_invalid: set[tuple[int | None, str]] = set()
        self._only = next(iter(self._plain)) if len(self._plain) == 1 else None
        self._skip = skip

    def route(self, entry: Entry) -> Decision:
        sdkappid = self._only if entry.sdkappid is None else entry.sdkappid
        if sdkappid is None or sdkappid not in self._plain:
            return self._invalid(entry.sdkappid, entry.room_id, self._no_app(entry))
        if isinstance(entry, InvalidRoom):
            return self._invalid(sdkappid, entry.room_id, entry.reason)
        seen = self._plain[sdkappid]
        if entry.room_id in seen:
            return Decision(Route.DUPLICATE, sdkappid)
        seen.add(entry.room_id)
        if self._skip(sdkappid, entry.room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.SEND, sdkappid)

    def _invalid(self, sdkappid: int | None, room_id: str, reason: str) -> Decision:
        key = (sdkappid, room_id)
        if key in self._plain_invalid:
            return Decision(Route.DUPLICATE, sdkappid)
        self._plain_invalid.add(key)
        if self._skip(sdkappid, room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.INVALID, sdkappid, reason)


class PlainFinalRooms:
    """resumer.results.resume.FinalRooms as it was: a set of room IDs per sdkappid."""

    def __init__(self, rooms: dict[int | None, set[str]], skipped_lines: int) -> None:
        self.rooms = rooms
        self.skipped_lines = skipped_lines

    def contains(self, sdkappid: int | None, room_id: str) -> bool:
        return room_id in self.rooms.get(sdkappid, ())


def plain_read_final(path: str) -> PlainFinalRooms:
    """resumer.results.resume.read_final as it was (a missing log is empty; other errors raise)."""
    rooms: dict[int | None, set[str]] = {}
    skipped = 0
    try:
        stream = open_regular(path)
    except FileNotFoundError:
        return PlainFinalRooms({}, 0)
    with stream:
        for line in stream:
            if not line.strip():
                continue
            record = parse_record(line)
            if record is None:
                skipped += 1
                continue
            sdkappid, room_id, status = record
            ids = rooms.setdefault(sdkappid, set())
            if status.is_final:
                ids.add(room_id)
            else:
                ids.discard(room_id)
    return PlainFinalRooms(rooms, skipped)


if __name__ == "__main__":
    dry_run.Router = PlainRouter  # type: ignore[attr-defined]  # swapped here, as fixed_margin does
    output.read_final = plain_read_final  # type: ignore[attr-defined,assignment]
    sys.exit(main(sys.argv[1:]))
