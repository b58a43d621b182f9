"""What stop signals do during a run: stop, ignore a repeat delivered at once, force a later one."""

from __future__ import annotations

import dataclasses
import io
import signal
import sys
import types

import pytest
from rich.console import Console

from resumer import __main__ as entry
from resumer.cli import launch
from resumer.cli.launch import REPEAT_WINDOW, Stopper
from resumer.engine.summary import Summary
from resumer.errors import InputBrokeError
from resumer.observe import logs
from resumer.results.writer import ResultsWriter


@pytest.fixture(autouse=True)
def _log_to_a_buffer() -> None:
    # An earlier test's in-process run (cli.main) may have left the log on a stream that pytest
    # has closed since: the Stopper's "stopping" event then failed, in the whole suite only.
    logs.configure("json", io.StringIO())


class FakeRun:
    def __init__(self) -> None:
        self.stops = 0
        self.aborted = 0

    def stop(self) -> None:
        self.stops += 1

    def abort_in_flight(self) -> int:
        self.aborted += 1
        return 2


class Exited(Exception):
    pass


def _stopper(monkeypatch: pytest.MonkeyPatch, now: list[float]) -> tuple[Stopper, FakeRun]:
    def exit_now(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr("os._exit", exit_now)
    run = FakeRun()
    stopper = Stopper(run, Console(file=io.StringIO()), clock=lambda: now[0])  # type: ignore[arg-type]
    return stopper, run


def test_a_signal_delivered_twice_at_once_is_one_request_to_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    stopper, run = _stopper(monkeypatch, now)
    stopper(signal.SIGTERM)
    stopper(signal.SIGTERM)  # GNU timeout: to the child, then to its process group
    now[0] += REPEAT_WINDOW / 2
    stopper(signal.SIGTERM)
    assert (run.stops, run.aborted) == (1, 0)
    assert stopper.first is signal.SIGTERM


def test_another_signal_at_once_is_a_separate_request_to_quit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    stopper, run = _stopper(monkeypatch, now)
    stopper(signal.SIGTERM)  # CI cancels the job
    now[0] += REPEAT_WINDOW / 10
    with pytest.raises(Exited) as exited:
        stopper(signal.SIGINT)  # and the operator, watching, presses Ctrl-C
    assert exited.value.args == (143,)
    assert (run.stops, run.aborted) == (1, 1)


@pytest.mark.parametrize(
    ("first", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_separate_second_signal_records_the_rooms_in_flight_then_exits(
    monkeypatch: pytest.MonkeyPatch, first: signal.Signals, code: int
) -> None:
    monkeypatch.setattr(launch, "_leave_hung_up_terminal", lambda: None)
    now = [100.0]
    stopper, run = _stopper(monkeypatch, now)
    stopper(first)
    now[0] += REPEAT_WINDOW + 0.1  # a second Ctrl-C a moment later
    with pytest.raises(Exited) as exited:
        stopper(signal.SIGINT)
    assert exited.value.args == (code,)  # the first signal's code
    assert (run.stops, run.aborted) == (1, 1)


def test_ctrl_c_while_the_cli_is_still_loading_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Loading(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt  # as if Ctrl-C landed in the CLI's imports

    monkeypatch.setitem(sys.modules, "resumer.cli.main", Loading("resumer.cli.main"))
    assert entry.main() == 130
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        (
            "results.jsonl",
            "the results log holds what was done: once the input is fixed, run the same command "
            "again with --resume",
        ),
        (
            "stdout",
            "the results printed hold what was done: save them to a file and, once the input is "
            "fixed, run again with -o FILE --resume",
        ),
    ],
)
def test_an_input_that_broke_after_sends_gets_how_to_go_on(name: str, advice: str) -> None:
    broke = InputBrokeError("input file 'rooms.txt' cannot be read: I/O error")
    summary = Summary(apps={}, stopped={}, duration=1.0, interrupted=True, invalid_unrouted=0)
    writer = ResultsWriter(io.BytesIO(), name=name, owned=False)
    advised = launch._advised(dataclasses.replace(summary, failure=broke), writer)
    assert isinstance(advised.failure, InputBrokeError)
    assert str(advised.failure) == (
        f"input file 'rooms.txt' cannot be read: I/O error; requests were already sent and {advice}"
    )
    assert launch._advised(summary, writer) is summary  # nothing broke: nothing to add
