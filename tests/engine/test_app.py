"""One app during a run: a stop cuts its naps short, and it is stopped once, with one sentence."""

from __future__ import annotations

import asyncio

import pytest

from resumer.api.classify import Action, Verdict
from resumer.config.model import AppConfig
from resumer.engine.app import App, AppCounts, Halted
from resumer.records import Status
from tests.support.vtime import run_virtual


def _app() -> App:
    return App(
        AppConfig(sdkappid=1400000001, identifier="admin", secret_key="k"),
        rate=20,
        wallclock=lambda: 0.0,
    )


def test_an_abort_stops_the_app_once_and_keeps_the_first_sentence() -> None:
    first = Verdict(action=Action.FATAL, code=70009, info="")
    later = Verdict(action=Action.FATAL, code=70003, info="")

    async def scenario() -> App:
        app = _app()
        app.abort(first, "error 70009: a wrong secret key")
        app.abort(later, "error 70003: another")
        return app

    app = run_virtual(scenario())
    assert app.fatal is first
    assert app.stopped_because == "app 1400000001 stopped after error 70009: a wrong secret key"
    assert app.halt.is_set()


def test_a_nap_sleeps_until_the_app_stops_then_raises_halted() -> None:
    async def scenario() -> float:
        app = _app()
        loop = asyncio.get_running_loop()
        await app.nap(2.0)  # a full nap
        loop.call_later(1.0, app.halt.set)
        with pytest.raises(Halted):
            await app.nap(60.0)
        return loop.time()

    assert run_virtual(scenario()) == pytest.approx(3.0, abs=0.01)


def test_a_stop_ends_every_nap_at_once_and_a_later_nap_at_its_start() -> None:
    async def scenario() -> tuple[list[str], float]:
        app = _app()
        loop = asyncio.get_running_loop()
        ends: list[str] = []

        async def napper(seconds: float) -> None:
            try:
                await app.nap(seconds)
                ends.append(f"slept {seconds:g}")
            except Halted:
                ends.append(f"halted at {loop.time():g}")

        loop.call_later(2.0, app.abort, Verdict(action=Action.FATAL, code=70009, info=""), "x")
        await asyncio.gather(*(napper(s) for s in (1.0, 5.0, 60.0)))
        await napper(1.0)
        return ends, loop.time()

    ends, now = run_virtual(scenario())
    assert ends == ["slept 1", "halted at 2", "halted at 2", "halted at 2"]
    assert now == pytest.approx(2.0, abs=0.01)


def test_done_counts_the_records_of_every_status() -> None:
    counts = AppCounts()
    counts.statuses.update({Status.OK: 3, Status.INVALID: 1, Status.ABORTED: 2})
    counts.skipped = 5  # skipped rooms have no record
    assert counts.done == 6
