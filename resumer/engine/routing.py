"""Routing, pure: which app an input entry belongs to, and whether it needs a request at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from resumer.records import InvalidRoom, Room
from resumer.seen import SeenRooms, tag

Entry = Room | InvalidRoom
Skip = Callable[[int | None, str], bool]  # (sdkappid as recorded, room_id) final in the log?


class Route(StrEnum):
    """What becomes of one input entry."""

    SEND = "send"  # a new room of a configured app
    INVALID = "invalid"  # recorded `invalid`, never sent
    DUPLICATE = "duplicate"  # the same room (or invalid line) of the same app again: dropped
    SKIPPED = "skipped"  # --resume: already final in the results log (invalid ones too)


@dataclass(frozen=True, slots=True)
class Decision:
    """The route of one entry, the app it belongs to (None: no configured app), and why."""

    route: Route
    sdkappid: int | None
    reason: str = ""


class Router:
    """Decides each entry's route; remembers the rooms already seen, of every app.

    An entry recorded invalid is an outcome like any other: once per (sdkappid, room_id as
    recorded), and skipped by --resume when the log holds it. Invalid entries are remembered
    apart from the rooms to send (under tags of their own), so an invalid line never hides a
    valid room of the same text. One `SeenRooms` holds them all: about 10 B per room, and no
    step of it stalls the loop (see resumer.seen, also for the odds of a false duplicate).
    """

    def __init__(
        self,
        sdkappids: Iterable[int],
        *,
        skip: Skip = lambda _sdkappid, _room_id: False,
    ) -> None:
        self._tags: dict[int, int | str] = {sdkappid: tag(sdkappid) for sdkappid in sdkappids}
        self._seen = SeenRooms()
        self._only = next(iter(self._tags)) if len(self._tags) == 1 else None
        self._skip = skip

    def route(self, entry: Entry) -> Decision:
        """The decision for one entry, in input order."""
        sdkappid = self._only if entry.sdkappid is None else entry.sdkappid
        key = self._tags.get(sdkappid) if sdkappid is not None else None
        if key is None:
            return self._invalid(entry.sdkappid, entry.room_id, self._no_app(entry))
        if isinstance(entry, InvalidRoom):
            return self._invalid(sdkappid, entry.room_id, entry.reason)
        if not self._seen.add(key, entry.room_id):
            return Decision(Route.DUPLICATE, sdkappid)
        if self._skip(sdkappid, entry.room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.SEND, sdkappid)

    def _invalid(self, sdkappid: int | None, room_id: str, reason: str) -> Decision:
        """An entry to record invalid, under the sdkappid its record will carry."""
        if not self._seen.add(tag(sdkappid, "invalid"), room_id):
            return Decision(Route.DUPLICATE, sdkappid)
        if self._skip(sdkappid, room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.INVALID, sdkappid, reason)

    @staticmethod
    def _no_app(entry: Entry) -> str:
        if isinstance(entry, InvalidRoom):
            return entry.reason
        if entry.sdkappid is None:
            return "no sdkappid: several apps are configured, so give it as a JSON line"
        return f"sdkappid {entry.sdkappid} is not one of the configured apps"
