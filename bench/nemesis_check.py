"""The nemesis's checker: a history in (arrivals, results records, faults, stderr), verdicts out.

Pure: it reads nothing and starts nothing, so hand-made histories test it. What it holds the
fleet to, whatever the faults did:

- no second with more than the budget of arrivals for any app (sliding 1 s windows);
- every room of the input ok in some results log at the end;
- rooms the API accepted more than once: at most the requests on the wire at the runners'
  kills and pauses (a request already sent when its runner died or froze may be resent by
  another runner that took the room over; nothing else may be);
- no request that reached the API for a room no results log has a record of;
- no traceback in any stderr.

A request is on the wire at a fault of runner R at time T when it reached the API through R's
door between T - `before_s` (the slowest reply: one that arrived earlier was answered before T)
and T + `after_s` (the jitter on the way in), and R recorded nothing for its room between its
arrival and T - `given_back_s`: a lease goes back with the app's next booking, so an outcome
recorded within that wait before the fault may not have reached the ledgers yet.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BUDGET = 20  # arrivals per second per app
ACCEPTED = "0"  # the simulator's answer kind of a success
RUNNER_FAULTS = ("kill", "stop")  # the faults that leave a runner's requests on the wire

Room = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as the simulator saw it: unix time, app, room, answer kind, door (runner)."""

    t: float
    sdkappid: int | None
    room: str | None
    code: str
    door: int


@dataclass(frozen=True, slots=True)
class Record:
    """One results-log record of a runner: unix time, app, room, status, attempts."""

    runner: int
    t: float
    sdkappid: int | None
    room: str
    status: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Fault:
    """One nemesis action: unix time, kind, the runner it hit (None: Redis), when it ended."""

    t: float
    kind: str
    runner: int | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class History:
    """Everything the checker reads."""

    rooms: frozenset[Room]
    arrivals: Sequence[Arrival]
    records: Sequence[Record]
    faults: Sequence[Fault]
    stderr: Mapping[str, str] = field(default_factory=dict)
    before_s: float = 1.0
    after_s: float = 0.3
    given_back_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The checker's figures; `holds` says whether every promise held."""

    busy_seconds: int
    busy: Sequence[tuple[int, float]]  # (app, time) of each arrival that made a window too full
    max_in_1s: Mapping[int, int]
    accepted_busy_seconds: int  # the same over the accepted arrivals alone (the 21st refused)
    rooms_not_ok: Sequence[Room]
    accepted_twice: Sequence[Room]
    on_wire: Sequence[tuple[Fault, int]]
    unrecorded: int
    tracebacks: Sequence[str]

    @property
    def bound(self) -> int:
        """Rooms that may be accepted twice: the requests on the wire at the faults."""
        return sum(n for _, n in self.on_wire)

    @property
    def holds(self) -> bool:
        """True when every verdict is within its promise."""
        return (
            self.busy_seconds == 0
            and not self.rooms_not_ok
            and len(self.accepted_twice) <= self.bound
            and self.unrecorded == 0
            and not self.tracebacks
        )

    def lines(self) -> list[str]:
        """The verdicts as the bench prints them."""
        return [
            f"seconds with more than {BUDGET} arrivals for an app: {self.busy_seconds} (max in "
            f"1 s: {', '.join(f'{a} {n}' for a, n in sorted(self.max_in_1s.items()))}; with more "
            f"than {BUDGET} accepted: {self.accepted_busy_seconds})",
            f"rooms not ok at the end: {len(self.rooms_not_ok)}",
            f"rooms accepted more than once: {len(self.accepted_twice)} (bound: {self.bound} "
            "on the wire at the kills and pauses)",
            f"requests without a record anywhere: {self.unrecorded}",
            f"stderr files with a traceback: {len(self.tracebacks)}",
        ]


def check(history: History) -> Verdicts:
    """The verdicts over one history."""
    peaks = _peaks(history.arrivals)
    accepted_peaks = _peaks(a for a in history.arrivals if a.code == ACCEPTED)
    ok = {(r.sdkappid or 0, r.room) for r in history.records if r.status == "ok"}
    accepted = Counter(
        (a.sdkappid or 0, a.room) for a in history.arrivals if a.code == ACCEPTED and a.room
    )
    recorded = {(r.sdkappid or 0, r.room) for r in history.records}
    return Verdicts(
        busy_seconds=len({int(t) for _, busy in peaks.values() for t in busy}),
        busy=sorted((app, t) for app, (_, busy) in peaks.items() for t in busy),
        max_in_1s={app: seconds[0] for app, seconds in peaks.items()},
        accepted_busy_seconds=len({int(t) for _, busy in accepted_peaks.values() for t in busy}),
        rooms_not_ok=sorted(history.rooms - ok),
        accepted_twice=sorted(room for room, n in accepted.items() if n > 1),
        on_wire=[(f, on_wire(history, f)) for f in history.faults if f.kind in RUNNER_FAULTS],
        unrecorded=sum(
            1 for a in history.arrivals if a.room and (a.sdkappid or 0, a.room) not in recorded
        ),
        tracebacks=sorted(name for name, text in history.stderr.items() if "Traceback" in text),
    )


def _peaks(arrivals: Iterable[Arrival]) -> dict[int, tuple[int, list[float]]]:
    """Per app: the most arrivals in any 1 s, and the arrivals that made a window too full."""
    times: defaultdict[int, list[float]] = defaultdict(list)
    for a in arrivals:
        times[a.sdkappid or 0].append(a.t)
    peaks: dict[int, tuple[int, list[float]]] = {}
    for app, ts in times.items():
        ts.sort()
        best, first, busy = 0, 0, list[float]()
        for last, t in enumerate(ts):
            while ts[first] <= t - 1.0:
                first += 1
            best = max(best, last - first + 1)
            if last - first + 1 > BUDGET:
                busy.append(t)
        peaks[app] = (best, busy)
    return peaks


def on_wire(history: History, fault: Fault) -> int:
    """Requests of the fault's runner on the wire at the fault (see the module's docstring)."""
    last = fault.t - history.given_back_s  # recorded later: maybe not in the ledgers yet
    mine = [r for r in history.records if r.runner == fault.runner and r.t <= last]
    count = 0
    for a in history.arrivals:
        if a.door != fault.runner or not (
            fault.t - history.before_s <= a.t <= fault.t + history.after_s
        ):
            continue
        room = (a.sdkappid or 0, a.room)
        if not any((r.sdkappid or 0, r.room) == room and a.t <= r.t for r in mine):
            count += 1
    return count


def parse_arrival(line: str) -> Arrival | None:
    """One line of the simulator's arrival log, or None if torn."""
    try:
        d = json.loads(line)
        return Arrival(float(d["t"]), d["sdkappid"], d["room"], str(d["code"]), int(d["door"]))
    except (ValueError, KeyError, TypeError):
        return None


def parse_record(runner: int, line: str) -> Record | None:
    """One line of a runner's results log, or None if torn."""
    try:
        d: dict[str, Any] = json.loads(line)
        t = datetime.fromisoformat(str(d["ts"]).replace("Z", "+00:00")).timestamp()
        return Record(
            runner, t, d.get("sdkappid"), str(d["room_id"]), str(d["status"]),
            int(d.get("attempts") or 0),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None
