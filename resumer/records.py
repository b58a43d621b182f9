"""Frozen values that travel between the layers: rooms, replies and result records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A room's outcome in the results log."""

    OK = "ok"  # the API answered ErrorCode 0
    REJECTED = "rejected"  # the API refused this room for good
    INVALID = "invalid"  # refused locally, never sent
    GAVE_UP = "gave_up"  # retryable errors until attempts or time ran out
    ABORTED = "aborted"  # its app hit a fatal error, or the run was interrupted

    @property
    def is_final(self) -> bool:
        """Final outcomes are skipped by `--resume`; the others are done again."""
        return self in _FINAL


_FINAL = frozenset({Status.OK, Status.REJECTED, Status.INVALID})


@dataclass(frozen=True, slots=True, kw_only=True)
class Room:
    """One room to resume. `sdkappid` is None when the input line did not name an app."""

    room_id: str
    sdkappid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidRoom:
    """An input line refused before anything was sent, with the reason why."""

    room_id: str  # the raw value as text, for the results log
    reason: str
    sdkappid: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What came back for one request: the HTTP status, the raw body and two headers.

    `body` is whole, or its first MAX_BODY_BYTES + 1 bytes when it is longer (then it is not an
    envelope). `location` is the raw Location header of a redirect: it may hold a query, so it
    is never logged as is. `retry_after` is the Retry-After header in seconds from the moment
    the reply came, None without one (or one that could not be read).
    """

    http_status: int
    body: bytes
    location: str = ""
    retry_after: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One line of the results log: the outcome of one room in this run."""

    ts: str  # ISO 8601 UTC with milliseconds, e.g. 2026-11-24T10:00:00.123Z
    sdkappid: int | None
    room_id: str
    status: Status
    error_code: int = 0
    error_info: str = ""
    request_id: str = ""
    attempts: int = 0
    elapsed_ms: int = 0
