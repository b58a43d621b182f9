"""Routing, pure: which app an input entry belongs to, and whether it needs a request at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from resumer.records import InvalidRoom, Room

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
    """Decides each entry's route; remembers, per app, the rooms already seen.

    An entry recorded invalid is an outcome like any other: once per (sdkappid, room_id as
    recorded), and skipped by --resume when the log holds it. Invalid entries are remembered
    apart from the rooms to send, so an invalid line never hides a valid room of the same text.
    """

    def __init__(
        self,
        sdkappids: Iterable[int],
        *,
        skip: Skip = lambda _sdkappid, _room_id: False,
    ) -> None:
        self._seen: dict[int, set[str]] = {sdkappid: set() for sdkappid in sdkappids}
        self._seen_invalid: set[tuple[int | None, str]] = set()
        self._only = next(iter(self._seen)) if len(self._seen) == 1 else None
        self._skip = skip

    def route(self, entry: Entry) -> Decision:
        """The decision for one entry, in input order."""
        sdkappid = self._only if entry.sdkappid is None else entry.sdkappid
        if sdkappid is None or sdkappid not in self._seen:
            return self._invalid(entry.sdkappid, entry.room_id, self._no_app(entry))
        if isinstance(entry, InvalidRoom):
            return self._invalid(sdkappid, entry.room_id, entry.reason)
        seen = self._seen[sdkappid]
        if entry.room_id in seen:
            return Decision(Route.DUPLICATE, sdkappid)
        seen.add(entry.room_id)
        if self._skip(sdkappid, entry.room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.SEND, sdkappid)

    def _invalid(self, sdkappid: int | None, room_id: str, reason: str) -> Decision:
        """An entry to record invalid, under the sdkappid its record will carry."""
        key = (sdkappid, room_id)
        if key in self._seen_invalid:
            return Decision(Route.DUPLICATE, sdkappid)
        self._seen_invalid.add(key)
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
