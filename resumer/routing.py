"""Routing, pure: which app an input entry belongs to, and whether it needs a request at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from resumer.records import InvalidRoom, Room

Entry = Room | InvalidRoom


class Route(StrEnum):
    """What becomes of one input entry."""

    SEND = "send"  # a new room of a configured app
    INVALID = "invalid"  # recorded `invalid`, never sent
    DUPLICATE = "duplicate"  # the same room of the same app again: dropped
    SKIPPED = "skipped"  # --resume: already final in the results log


@dataclass(frozen=True, slots=True)
class Decision:
    """The route of one entry, the app it belongs to (None: no configured app), and why."""

    route: Route
    sdkappid: int | None
    reason: str = ""


class Router:
    """Decides each entry's route; remembers, per app, the rooms already seen."""

    def __init__(
        self,
        sdkappids: Iterable[int],
        *,
        skip: Callable[[int, str], bool] = lambda _sdkappid, _room_id: False,
    ) -> None:
        self._seen: dict[int, set[str]] = {sdkappid: set() for sdkappid in sdkappids}
        self._only = next(iter(self._seen)) if len(self._seen) == 1 else None
        self._skip = skip

    def route(self, entry: Entry) -> Decision:
        """The decision for one entry, in input order."""
        sdkappid = self._only if entry.sdkappid is None else entry.sdkappid
        if sdkappid is None or sdkappid not in self._seen:
            return Decision(Route.INVALID, entry.sdkappid, self._no_app(entry))
        if isinstance(entry, InvalidRoom):
            return Decision(Route.INVALID, sdkappid, entry.reason)
        seen = self._seen[sdkappid]
        if entry.room_id in seen:
            return Decision(Route.DUPLICATE, sdkappid)
        seen.add(entry.room_id)
        if self._skip(sdkappid, entry.room_id):
            return Decision(Route.SKIPPED, sdkappid)
        return Decision(Route.SEND, sdkappid)

    @staticmethod
    def _no_app(entry: Entry) -> str:
        if isinstance(entry, InvalidRoom):
            return entry.reason
        if entry.sdkappid is None:
            return "no sdkappid: several apps are configured, so give it as a JSON line"
        return f"sdkappid {entry.sdkappid} is not one of the configured apps"
