"""The progress display, the `progress` events and the summary table, on a clock set by hand."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter

import structlog
from rich.console import Console
from structlog.testing import capture_logs

from resumer.api.classify import Action, Verdict
from resumer.config.model import AppConfig
from resumer.engine.app import App, AppCounts
from resumer.engine.summary import Summary
from resumer.observe import logs
from resumer.observe.progress import (
    ProgressDisplay,
    ProgressEvents,
    log_stream,
    retries_by_code,
    summary_tables,
)
from resumer.records import Status
from tests.support.vtime import run_virtual

KEY = "test-secret-key"


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_app(sdkappid: int = 1400000001, **stats: int) -> App:
    app = App(
        AppConfig(sdkappid=sdkappid, identifier="admin", secret_key=KEY),
        rate=20,
        wallclock=lambda: 0.0,
    )
    app.stats.statuses[Status.OK] = stats.pop("done", 0)  # `done` counts the records
    for name, value in stats.items():
        setattr(app.stats, name, value)
    return app


def console() -> Console:
    return Console(file=io.StringIO(), width=120, force_terminal=False)


def text(out: Console, renderable: object) -> str:
    out.print(renderable)
    assert isinstance(out.file, io.StringIO)
    return out.file.getvalue()


def table_rows(out: str) -> dict[str, list[str]]:
    """A table's rows as text, by the first cell: cells are at least two spaces apart."""
    rows = (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    return {cells[0]: cells[1:] for cells in rows if len(cells) > 1}


def display(*apps: App, clock: Clock, input_done: bool = False) -> ProgressDisplay:
    return ProgressDisplay(
        {a.sdkappid: a for a in apps},
        console=console(),
        input_done=lambda: input_done,
        clock=clock,
    )


async def test_row_shows_counts_rate_pace_eta_retries_throttles() -> None:
    clock = Clock()
    app = make_app(routed=1000, done=100, sent=100)
    progress = display(app, clock=clock)
    progress.sample()
    clock.now = 10.0
    app.stats.statuses[Status.OK], app.stats.sent, app.stats.throttles = 290, 300, 3
    app.stats.retry_codes.update({100001: 5, 0: 1, 100424: 1})
    row = text(console(), progress.render()).splitlines()[1].split()
    # 20 requests/s achieved, 710 rooms left: 35.5 s, shown rounded; the bar is in between
    assert row[:2] == ["1400000001", "290/1,000+"]
    assert row[-9:] == ["20.0", "19.7", "−1.5%", "0:36", "7", "(100001×5,", "0×1", "…)", "3"]
    assert progress.eta(app.sdkappid) == 35.5


async def test_rate_covers_the_last_window_only() -> None:
    clock = Clock()
    app = make_app(routed=10_000)
    progress = display(app, clock=clock)
    for second in range(31):  # 5/s for 20 s, then 15/s
        clock.now = float(second)
        app.stats.sent = 5 * min(second, 20) + 15 * max(0, second - 20)
        progress.sample()
    assert progress.rate(app.sdkappid) == 15.0


async def test_eta_unknown_before_a_rate_and_zero_when_all_done() -> None:
    clock = Clock()
    app = make_app(routed=50, done=10, sent=10)
    progress = display(app, clock=clock, input_done=True)
    row = text(console(), progress.render()).splitlines()[1].split()
    assert row[1] == "10/50"  # no "+": the input is read to the end
    assert row[-3] == "–"  # no rate yet
    app.stats.statuses[Status.OK] = 50
    clock.now = 1.0
    assert progress.eta(app.sdkappid) == 0.0
    assert "done" in text(console(), progress.render())


async def test_status_word_says_why_an_app_is_not_sending() -> None:
    fatal, unreachable, stopping, probing = (make_app(n, routed=5) for n in (1, 2, 3, 4))
    fatal.fatal = Verdict(action=Action.FATAL, code=70009, info="bad sig", envelope=True)
    unreachable.fatal = Verdict(action=Action.RETRY, code=0, info="connection refused")
    for app in (fatal, unreachable, stopping):
        app.halt.set()
    probing.outage.state.pause = 1.0
    out = text(console(), display(fatal, unreachable, stopping, probing, clock=Clock()).render())
    rows = {line.split()[0]: line.rstrip() for line in out.splitlines()[1:]}
    assert rows["1"].endswith("stopped: error 70009")
    assert rows["2"].endswith("stopped: no reply")
    assert rows["3"].endswith("stopping")
    assert rows["4"].endswith("outage: probing")


def test_run_redraws_until_cancelled_and_log_lines_go_through_the_console() -> None:
    async def scenario() -> str:
        app, screen = make_app(routed=3, done=3), console()
        loop = asyncio.get_running_loop()
        progress = ProgressDisplay(
            {app.sdkappid: app}, console=screen, input_done=lambda: True, clock=loop.time
        )
        stream = log_stream(screen)
        assert not stream.isatty()  # as the console sees its file: so `auto` picks JSON
        logs.configure("auto", stream)
        try:
            task = asyncio.create_task(progress.run(interval=0.5))
            await asyncio.sleep(2)
            structlog.get_logger("resumer").info("throttled", sdkappid=app.sdkappid)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            structlog.reset_defaults()
        assert isinstance(screen.file, io.StringIO)
        return screen.file.getvalue()

    out = run_virtual(scenario())
    assert '"event": "throttled"' in out
    assert "3/3" in out.split('"throttled"')[1]  # the last frame, drawn when stopped


async def test_events_carry_every_figure_per_app() -> None:
    clock = Clock()
    one, two = make_app(1, routed=400, done=100, sent=100), make_app(2, routed=0)
    events = ProgressEvents({1: one, 2: two}, input_done=lambda: False, clock=clock)
    events.sample()
    clock.now = 10.0
    one.stats.statuses[Status.OK], one.stats.sent, one.stats.throttles = 200, 250, 10
    one.stats.retry_codes[100001] = 40
    with capture_logs() as captured:
        events.emit()
    assert captured[0] == {
        "event": "progress",
        "log_level": "info",
        "sdkappid": 1,
        "done": 200,
        "total": 400,
        "input_done": False,
        "sent": 250,
        "rate": 15.0,
        "pacing_rate": 19.7,
        "margin": 0.015,
        "retries": 40,
        "throttles": 10,
        "eta_s": 13,
    }
    assert captured[1]["sdkappid"] == 2
    assert captured[1]["eta_s"] == 0  # nothing left


def test_events_run_every_interval() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        app = make_app(routed=1)
        events = ProgressEvents({app.sdkappid: app}, input_done=lambda: True, clock=loop.time)
        with capture_logs() as captured:
            task = asyncio.create_task(events.run(interval=10))
            await asyncio.sleep(35)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return [e["event"] for e in captured].count("progress")

    assert run_virtual(scenario()) == 3  # at 10, 20 and 30 s


def test_summary_tables_count_rooms_codes_requests_and_stops() -> None:
    ok = AppCounts(sent=1205, throttles=2)
    ok.retry_codes[100001] = 5
    ok.statuses.update({Status.OK: 1198, Status.REJECTED: 2})
    ok.codes.update({"100004": 2})
    bad = AppCounts(sent=3)
    bad.statuses.update({Status.ABORTED: 40})
    bad.codes.update({"70009": 1, "0": 39})
    summary = Summary(
        apps={1: ok, 2: bad},
        stopped={2: "app 2 stopped after error 70009: the secret key is wrong"},
        duration=61.0,
        interrupted=True,
        invalid_unrouted=4,
    )
    out = text(
        Console(file=io.StringIO(), width=160, force_terminal=False), summary_tables(summary)
    )
    rooms_part, requests_part = re.split(r"^ *requests *$", out, flags=re.MULTILINE)
    rooms, requests = table_rows(rooms_part), table_rows(requests_part)
    assert rooms["app"] == ["ok", "rejected", "invalid", "gave_up", "aborted", "error codes"]
    assert rooms["1"] == ["1,198", "2", "0", "0", "0", "100004×2"]
    assert rooms["2"] == ["0", "0", "0", "0", "40", "no code×39, 70009×1"]
    assert rooms["no app"] == ["0", "0", "4", "0", "0"]
    assert rooms["total"] == ["1,198", "2", "4", "0", "40", "no code×39, 100004×2, 70009×1"]
    assert requests["app"] == ["sent", "retries", "throttles", "rate"]
    assert requests["1"] == ["1,205", "5", "2", "19.8/s"]
    assert requests["total"] == ["1,208", "5", "2", "19.8/s"]
    assert "no app" not in requests
    assert "took 1:01, interrupted\napp 2 stopped after error 70009" in out


def test_summary_of_one_app_has_no_total_row() -> None:
    stats = AppCounts(sent=20)
    stats.statuses.update({Status.OK: 20})
    summary = Summary(
        apps={1: stats}, stopped={}, duration=0.0, interrupted=False, invalid_unrouted=0
    )
    out = text(console(), summary_tables(summary))
    assert "total" not in out
    assert table_rows(out)["1"][-1] == "–"  # no rate over no time


def test_a_log_line_longer_than_the_terminal_is_cut_not_folded() -> None:
    screen = Console(file=io.StringIO(), width=40, force_terminal=True, color_system=None)
    stream = log_stream(screen)
    stream.write("12:00:00 [warning] outage_started " + "x" * 80 + "\nshort line\n")
    assert isinstance(screen.file, io.StringIO)
    lines = screen.file.getvalue().splitlines()
    assert len(lines) == 2
    assert len(lines[0]) == 40
    assert lines[0].endswith("…")
    assert lines[1].rstrip() == "short line"


def test_retries_are_counted_by_code_the_commonest_first() -> None:
    assert retries_by_code(Counter()) == "0"
    assert retries_by_code(Counter({100001: 3})) == "3 (100001×3)"
    assert retries_by_code(Counter({0: 2, 100001: 1200, 502: 1})) == "1,203 (100001×1,200, 0×2 …)"
