"""The simulator's configuration: apps, budget, rooms, faults, scripts, outages and latency.

A fault, a script step and an outage all name what the simulator answers with one vocabulary
of *kinds*:

    "ok"                    a success envelope (so does "0")
    "100001", "70001", ...  an envelope with that ErrorCode (any positive integer)
    "http502", "http503"    that HTTP status with an HTML page, as a proxy would send
    "html"                  HTTP 200 with an HTML page instead of JSON
    "empty"                 HTTP 200 with an empty body
    "truncated"             HTTP 200 with the first half of an envelope
    "code_not_int"          an envelope whose ErrorCode is a string
    "huge"                  an envelope padded to 256 KiB
    "not_object"            a JSON array instead of an object
    "missing_code"          an envelope without ErrorCode
    "slow"                  a success envelope sent after `latency.slow_ms`
    "hang"                  no reply at all, until the client gives up
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

HTTP_KINDS: Mapping[str, int] = {"http502": 502, "http503": 503}
BODY_KINDS = frozenset(
    {"html", "empty", "truncated", "code_not_int", "huge", "not_object", "missing_code"}
)
DELAY_KINDS = frozenset({"slow", "hang"})
NAMED_KINDS = frozenset({"ok", *HTTP_KINDS, *BODY_KINDS, *DELAY_KINDS})


def is_kind(kind: str) -> bool:
    """True if `kind` is a named kind or a non-negative ErrorCode written in ASCII digits."""
    return kind in NAMED_KINDS or (kind.isascii() and kind.isdigit())


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSecret:
    """What the simulator knows of one app: its secret key and its admin accounts."""

    secret_key: str = field(repr=False)  # kept out of logs and tracebacks
    admins: frozenset[str] = frozenset({"administrator"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """Reply delay: uniform in [min_ms, max_ms]; `slow_ms` for a "slow" reply instead."""

    min_ms: float = 0.0
    max_ms: float = 0.0
    slow_ms: float = 2500.0  # just under the backend's own 3 s timeout


@dataclass(frozen=True, slots=True, kw_only=True)
class Jitter:
    """Delay on the way in, before the window counts a request, as on a real network.

    Uniform in [min_ms, max_ms]; and with probability `tail`, a heavy-tailed delay uniform in
    [tail_min_ms, tail_max_ms] instead (a retransmit, a congested hop: now and then 50-100 ms).
    """

    min_ms: float = 0.0
    max_ms: float = 0.0
    tail: float = 0.0
    tail_min_ms: float = 50.0
    tail_max_ms: float = 100.0

    @property
    def active(self) -> bool:
        """True if any request can be delayed."""
        return self.max_ms > 0 or self.tail > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Everything that decides the simulator's answers. Invalid values raise ValueError.

    Times are seconds; `outages` are (start, end) from the simulator's start; `faults` maps a
    kind to its probability among requests that get that far (past the window, the room
    checks and the room's script); patterns are regular expressions searched in the RoomId.
    """

    apps: Mapping[int, AppSecret]
    rate: int = 20
    window: float = 1.0
    room_interval: float = 0.0
    missing_rooms: frozenset[str] = frozenset()
    missing_pattern: str | None = None
    not_live_rooms: frozenset[str] = frozenset()
    not_live_pattern: str | None = None
    faults: Mapping[str, float] = field(default_factory=dict)
    scripts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outages: tuple[tuple[float, float], ...] = ()
    outage_kind: str = "http503"
    neighbour_rate: float = 0.0
    latency: Latency = Latency()
    jitter: Jitter = Jitter()
    seed: int | None = None

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)


def _problem(c: SimConfig) -> str | None:
    """The first thing wrong with a configuration, as a plain sentence, or None."""
    for check in (_scalars, _apps, _faults, _scripts, _patterns):
        problem = check(c)
        if problem:
            return problem
    return None


def _scalars(c: SimConfig) -> str | None:
    checks: list[tuple[bool, str]] = [
        (not c.apps, "the simulator needs at least one app"),
        (c.rate < 1, f"rate must be at least 1, not {c.rate}"),
        (not c.window > 0, f"window must be more than 0 seconds, not {c.window}"),
        (not c.room_interval >= 0, "room_interval must be 0 (off) or more seconds"),
        (not c.neighbour_rate >= 0, "neighbour_rate must be 0 (none) or more requests/s"),
        (
            not 0 <= c.latency.min_ms <= c.latency.max_ms or not c.latency.slow_ms >= 0,
            "latency needs 0 <= min_ms <= max_ms and slow_ms >= 0",
        ),
        (
            not 0 <= c.jitter.min_ms <= c.jitter.max_ms
            or not 0 <= c.jitter.tail <= 1
            or not 0 <= c.jitter.tail_min_ms <= c.jitter.tail_max_ms,
            "jitter needs 0 <= min_ms <= max_ms, 0 <= tail <= 1, 0 <= tail_min_ms <= tail_max_ms",
        ),
        (
            any(not math.isfinite(a) or not 0 <= a < b for a, b in c.outages),
            "each outage must be a pair start, end with 0 <= start < end",
        ),
        (not is_kind(c.outage_kind), f"unknown outage_kind {c.outage_kind!r}"),
    ]
    return next((message for bad, message in checks if bad), None)


def _apps(c: SimConfig) -> str | None:
    for sdkappid, app in c.apps.items():
        if sdkappid <= 0 or not app.secret_key or not app.admins:
            return f"app {sdkappid} needs a positive sdkappid, a secret key and an admin"
    return None


def _faults(c: SimConfig) -> str | None:
    for kind, p in c.faults.items():
        if not is_kind(kind) or kind == "ok":
            return f"unknown fault {kind!r}: use an ErrorCode or one of {_named()}"
        if not 0 <= p <= 1:
            return f"the probability of fault {kind!r} must be between 0 and 1, not {p}"
    if sum(c.faults.values()) > 1 + 1e-9:
        return "the fault probabilities add up to more than 1"
    return None


def _scripts(c: SimConfig) -> str | None:
    for room, steps in c.scripts.items():
        for step in steps:
            if not is_kind(step):
                return f"unknown step {step!r} in the script of room {room!r}: use {_named()}"
    return None


def _patterns(c: SimConfig) -> str | None:
    for name, pattern in [
        ("missing_pattern", c.missing_pattern),
        ("not_live_pattern", c.not_live_pattern),
    ]:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                return f"{name} {pattern!r} is not a regular expression: {exc}"
    return None


def _named() -> str:
    return ", ".join(sorted(NAMED_KINDS))
