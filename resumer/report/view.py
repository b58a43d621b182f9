"""How `resumer report` shows a Report: rich tables for a person, one JSON object for machines,
and the rooms left to do as input lines that `resumer run -` takes back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from resumer.humanize import error_codes, hms
from resumer.records import Status
from resumer.report.merge import PAUSE, App, AppReport, Report


def tables(report: Report, logs: Sequence[str]) -> Group:
    """Rooms by status and error code, then requests and time, per app and in total; notes."""
    rooms = Table(title="rooms (the last record of each)", box=box.SIMPLE_HEAD)
    timing = Table(title="requests and time (every record)", box=box.SIMPLE_HEAD)
    rooms.add_column("app", no_wrap=True)
    for status in Status:
        rooms.add_column(status.value, justify="right", no_wrap=True)
    rooms.add_column("error codes of the rooms not ok")
    timing.add_column("app", no_wrap=True)
    for name in ("records", "attempts", "first (UTC)", "last (UTC)", "took", "finished/s"):
        timing.add_column(name, justify="right", no_wrap=True)

    def row(name: str, app: AppReport, style: str = "") -> None:
        counts = (f"{app.statuses[s]:,}" for s in Status)
        rooms.add_row(name, *counts, error_codes(app.codes), style=style)
        timing.add_row(
            name,
            f"{app.records:,}",
            f"{app.attempts:,}",
            _wall(app.first_ts),
            _wall(app.last_ts),
            "–" if app.seconds is None else hms(app.seconds),
            "–" if app.rate is None else f"{app.rate:.1f}",
            style=style,
        )

    for app in report.apps:
        row(app_name(app.sdkappid), app)
    if len(report.apps) != 1:
        rooms.add_section()
        timing.add_section()
        row("total", report.total, style="bold")
    return Group(rooms, timing, *(Text(note) for note in notes(report, logs)))


def notes(report: Report, logs: Sequence[str]) -> Iterator[str]:
    """The sentences under the tables: what was read, what was skipped, what is left."""
    total = report.total
    read = f"{len(logs)} log{'s' if len(logs) != 1 else ''}, {total.records:,} records"
    yield f"{read}, {total.rooms:,} rooms; finished/s: rooms now final, first to last record"
    if report.unreadable:
        yield (
            f"skipped {report.unreadable:,} unreadable lines: {report.torn:,} torn (cut by a "
            f"crash), {report.foreign:,} foreign (not a results record)"
        )
    if report.untimed:
        yield f"{report.untimed:,} records have no usable timestamp: counted, but not timed"
    if total.pauses:
        times = "once" if total.pauses == 1 else f"{total.pauses:,} times"
        yield (
            f"the records pause {times} for over {PAUSE // 60} minutes, {hms(total.paused)} in "
            "all (the host's clock stepped forward, the input paused, or the logs are of runs "
            "apart): took counts the pauses, finished/s leaves them out"
        )
    if total.todo:
        yield (
            f"{total.todo:,} rooms are not final (gave_up, aborted): "
            "resumer report --todo LOG... | resumer run -c CONFIG - -o MORE.jsonl"
        )


def as_dict(report: Report, logs: Sequence[str]) -> dict[str, Any]:
    """The report as plain data: `--format json`."""
    return {
        "logs": list(logs),
        "records": report.total.records,
        "rooms": report.total.rooms,
        "unreadable_lines": {"torn": report.torn, "foreign": report.foreign},
        "untimed_records": report.untimed,
        "apps": [_app_dict(app) for app in report.apps],
        "total": {k: v for k, v in _app_dict(report.total).items() if k != "sdkappid"},
    }


def todo_lines(rooms: Iterable[tuple[App, str]]) -> Iterator[str]:
    """One JSON input line per room, `{"room_id": ..., "sdkappid": ...}`, for `resumer run -`."""
    for sdkappid, room_id in rooms:
        line: dict[str, Any] = {"room_id": room_id}
        if sdkappid is not None:  # absent: the run's only app takes it, as for a plain line
            line["sdkappid"] = sdkappid
        text = json.dumps(line, ensure_ascii=False)
        # A lone surrogate (from a JSON escape) cannot be printed as UTF-8: written as its JSON
        # escape, which the input reader reads back as the same value (as results.to_line does)
        yield text.encode("utf-8", "backslashreplace").decode("utf-8")


def app_name(sdkappid: App) -> str:
    """How an app is named in a table or chart."""
    return "no app" if sdkappid is None else str(sdkappid)


def _app_dict(app: AppReport) -> dict[str, Any]:
    seconds, rate = app.seconds, app.rate
    return {
        "sdkappid": app.sdkappid,
        "rooms": app.rooms,
        "statuses": {s.value: n for s, n in app.statuses.items()},
        "error_codes": {str(code): n for code, n in app.codes.items()},
        "finished": app.finished,
        "todo": app.todo,
        "records": app.records,
        "attempts": app.attempts,
        "first_ts": app.first_ts,
        "last_ts": app.last_ts,
        "duration_s": None if seconds is None else round(seconds, 3),
        "paused_s": round(app.paused, 3),
        "rate": None if rate is None else round(rate, 2),
    }


def _wall(ts: str | None) -> str:
    return "–" if ts is None else ts[:19].replace("T", " ")
