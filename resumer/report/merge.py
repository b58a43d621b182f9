"""Merge results logs into one account of an incident: the last record of each room wins.

Pure: lines in (in the order of the logs given), a frozen Report out. Memory holds one small
entry per room (its last status and error code) and one per app and second of the incident;
everything else is counted as it streams by.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from resumer.records import Status
from resumer.results.schema import Fields, fields_of

Outcome = tuple[Status, int]  # a room's last status and error code
App = int | None  # an SDKAppID; None for records of lines that named no app

# The results log's timestamps: fixed width, so they order as strings (compared as they stream)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z").fullmatch
# Seconds without a record that count as a pause, not as work: a run paced at 20/s writes
# several records a second, so a gap this long is a clock stepped forward (timestamps are wall
# time), an input that paused, or logs of runs apart. finished/s leaves pauses out.
PAUSE = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class AppReport:
    """One app's rooms (by their last record), its requests and its span of time; or the total."""

    sdkappid: App
    statuses: Mapping[Status, int]  # rooms by the status of their last record, every status
    codes: Mapping[int, int]  # error codes of the rooms whose last record is not ok (nor invalid)
    records: int  # records read, every run's
    attempts: int  # requests sent: attempts summed over every record, every run's
    first_ts: str | None  # the earliest and latest timestamp of its records, as written
    last_ts: str | None
    pauses: int = 0  # gaps of over PAUSE seconds without a record
    paused: float = 0.0  # seconds those gaps last, in all

    @property
    def rooms(self) -> int:
        """Distinct rooms with a record."""
        return sum(self.statuses.values())

    @property
    def finished(self) -> int:
        """Rooms whose last record is final (ok, rejected, invalid)."""
        return sum(n for status, n in self.statuses.items() if status.is_final)

    @property
    def todo(self) -> int:
        """Rooms whose last record is not final: what `--todo` lists and `--resume` does again."""
        return self.rooms - self.finished

    @property
    def seconds(self) -> float | None:
        """Seconds from the first record to the last; None without a timestamp."""
        if self.first_ts is None or self.last_ts is None:
            return None
        return moment(self.last_ts) - moment(self.first_ts)

    @property
    def rate(self) -> float | None:
        """Rooms finished per second between the first and the last record, pauses left out."""
        seconds = self.seconds
        busy = None if seconds is None else max(seconds - self.paused, 0.0)
        return self.finished / busy if busy else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The merged account of one or more results logs."""

    apps: tuple[AppReport, ...]  # by SDKAppID, records without an app last
    total: AppReport
    torn: int  # lines cut short (a crash mid-write): a JSON object that does not close
    foreign: int  # lines that are not a record: not JSON, or JSON of another kind
    untimed: int  # records without a usable timestamp: counted, but placed at no time
    # rooms finished in each second of the incident, per app: {unix second: (ok, not ok)}
    per_second: Mapping[App, Mapping[int, tuple[int, int]]]

    @property
    def unreadable(self) -> int:
        """Lines skipped: torn and foreign."""
        return self.torn + self.foreign


class _AppTally:
    """What is counted per app as records stream by."""

    __slots__ = ("attempts", "first", "last", "records", "seconds")

    def __init__(self) -> None:
        self.records = 0
        self.attempts = 0
        self.first: str | None = None
        self.last: str | None = None
        self.seconds: dict[str, list[int]] = {}  # "YYYY-MM-DDTHH:MM:SS" -> [ok, not ok]


class Merger:
    """Feed it the lines of every log in order; the last record of each room wins."""

    def __init__(self) -> None:
        self._apps: dict[App, tuple[dict[str, Outcome], _AppTally]] = {}  # rooms, tally
        self._outcomes: dict[Outcome, Outcome] = {}  # one shared tuple per (status, code)
        self._torn = self._foreign = self._untimed = 0

    def add_line(self, line: bytes) -> None:
        """One line of a log: a record, a blank line (ignored), or a torn or foreign line."""
        fields = fields_of(line)
        if fields is not None:
            self.add(fields)
        elif line.strip():
            if _is_torn(line):
                self._torn += 1
            else:
                self._foreign += 1

    def add(self, fields: Fields) -> None:
        """One record."""
        ts, sdkappid, room_id, status, code, _info, _request_id, attempts, _elapsed = fields
        app = self._apps.get(sdkappid)
        if app is None:
            app = self._apps[sdkappid] = ({}, _AppTally())
        rooms, tally = app
        outcome = (status, code)
        rooms[room_id] = self._outcomes.setdefault(outcome, outcome)
        tally.records += 1
        tally.attempts += attempts
        if not _TIMESTAMP(ts):
            self._untimed += 1
            return
        if tally.first is None or ts < tally.first:
            tally.first = ts
        if tally.last is None or ts > tally.last:
            tally.last = ts
        second = ts[:19]
        counts = tally.seconds.get(second)
        if counts is None:
            counts = tally.seconds[second] = [0, 0]
        counts[status is not Status.OK] += 1

    def todo(self) -> Iterator[tuple[App, str]]:
        """(sdkappid, room_id) of every room whose last record is not final, app by app."""
        for sdkappid, (rooms, _tally) in self._apps.items():
            for room_id, (status, _code) in rooms.items():
                if not status.is_final:
                    yield sdkappid, room_id

    def report(self) -> Report:
        """The account of everything fed so far."""
        per_second = {s: _per_second(t.seconds) for s, (_r, t) in self._apps.items()}
        order = sorted(self._apps, key=_app_order)
        apps = [self._app(sdkappid, per_second[sdkappid]) for sdkappid in order]
        every = sorted({second for seconds in per_second.values() for second in seconds})
        return Report(
            apps=tuple(apps),
            total=_total(apps, _pauses(every)),
            torn=self._torn,
            foreign=self._foreign,
            untimed=self._untimed,
            per_second=per_second,
        )

    def _app(self, sdkappid: App, seconds: Mapping[int, object]) -> AppReport:
        rooms, tally = self._apps[sdkappid]
        pauses, paused = _pauses(list(seconds))
        outcomes = Counter(rooms.values())  # counted in C: a million rooms in milliseconds
        statuses = dict.fromkeys(Status, 0)
        codes: Counter[int] = Counter()
        for (status, code), n in outcomes.items():
            statuses[status] += n
            if status not in (Status.OK, Status.INVALID):  # invalid: never sent, no code
                codes[code] += n
        return AppReport(
            sdkappid=sdkappid,
            statuses=statuses,
            codes=dict(codes.most_common()),
            records=tally.records,
            attempts=tally.attempts,
            first_ts=_checked(tally.first),
            last_ts=_checked(tally.last),
            pauses=pauses,
            paused=paused,
        )


def merge(lines: Iterable[bytes]) -> Report:
    """The report of `lines`, the logs' lines in order (a convenience for tests and scripts)."""
    merger = Merger()
    for line in lines:
        merger.add_line(line)
    return merger.report()


def moment(ts: str) -> float:
    """Unix time of a results-log timestamp."""
    return datetime.fromisoformat(ts).timestamp()  # Python 3.11 reads the trailing Z as UTC


def _is_torn(line: bytes) -> bool:
    """A line that is not a record is torn if a crash cut it: the start of a JSON object."""
    if not line.endswith(b"\n"):
        return True  # the last line of a log, without its newline
    text = line.strip()
    if not text.startswith(b"{"):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return True
    return False  # whole JSON, but not a record: foreign


def _per_second(seconds: Mapping[str, list[int]]) -> dict[int, tuple[int, int]]:
    counts: dict[int, tuple[int, int]] = {}
    for key, (ok, not_ok) in seconds.items():
        try:
            second = int(moment(key + "Z"))
        except ValueError:  # shaped like a timestamp but not one (month 13): no place in time
            continue
        counts[second] = (ok, not_ok)
    return dict(sorted(counts.items()))


def _checked(ts: str | None) -> str | None:
    """`ts` if it is a real moment (February 30 is shaped like one), else None."""
    if ts is None:
        return None
    try:
        moment(ts)
    except ValueError:
        return None
    return ts


def _pauses(seconds: list[int]) -> tuple[int, float]:
    """How many gaps of over PAUSE seconds lie between the (sorted) seconds with a record, and
    how long they last in all (less the second each side, so a pause never outlasts the span)."""
    gaps = [b - a - 1 for a, b in itertools.pairwise(seconds) if b - a > PAUSE]
    return len(gaps), float(sum(gaps))


def _total(apps: list[AppReport], pauses: tuple[int, float]) -> AppReport:
    statuses = dict.fromkeys(Status, 0)
    codes: Counter[int] = Counter()
    for app in apps:
        codes.update(app.codes)
        for status, n in app.statuses.items():
            statuses[status] += n
    firsts = [a.first_ts for a in apps if a.first_ts is not None]
    lasts = [a.last_ts for a in apps if a.last_ts is not None]
    return AppReport(
        sdkappid=None,
        statuses=statuses,
        codes=dict(codes.most_common()),
        records=sum(a.records for a in apps),
        attempts=sum(a.attempts for a in apps),
        first_ts=min(firsts, default=None),
        last_ts=max(lasts, default=None),
        pauses=pauses[0],
        paused=pauses[1],
    )


def _app_order(sdkappid: App) -> tuple[bool, int]:
    return (sdkappid is None, sdkappid or 0)
