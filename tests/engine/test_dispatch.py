"""The dispatcher on virtual time: what each route does to the queues, records and counts."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterable

import pytest

from resumer.config.model import AppConfig
from resumer.engine.app import App
from resumer.engine.dispatch import Dispatcher
from resumer.engine.recorder import Recorder
from resumer.engine.routing import Decision, Entry, Route, Router
from resumer.records import InvalidRoom, Room
from resumer.results.writer import ResultsWriter
from tests.support.sources import Entries
from tests.support.vtime import run_virtual

ONE, TWO = 1400000001, 1400000002


def dispatch(
    entries: Iterable[Entry],
    *,
    sdkappids: tuple[int, ...] = (ONE,),
    final: frozenset[str] = frozenset(),
) -> tuple[Dispatcher, dict[int, App], Recorder, list[dict[str, object]]]:
    out = io.BytesIO()

    async def scenario() -> tuple[Dispatcher, dict[int, App], Recorder]:
        apps = {
            s: App(
                AppConfig(sdkappid=s, identifier="admin", secret_key="k"),
                rate=20,
                wallclock=lambda: 0.0,
            )
            for s in sdkappids
        }
        recorder = Recorder(
            ResultsWriter(out, name="t", owned=False),
            wallclock=lambda: 0.0,
            on_unwritable=lambda: None,
        )
        router = Router(apps, skip=lambda _sdkappid, room_id: room_id in final)
        dispatcher = Dispatcher(apps, router=router, recorder=recorder, stopped=asyncio.Event())
        await dispatcher.route_input(Entries(entries))
        return dispatcher, apps, recorder

    dispatcher, apps, recorder = run_virtual(scenario())
    return dispatcher, apps, recorder, [json.loads(line) for line in out.getvalue().splitlines()]


def queued(app: App) -> list[str]:
    rooms = []
    while not app.queue.empty():
        room = app.queue.get_nowait()
        assert room is not None
        rooms.append(room.room_id)
    return rooms


def test_rooms_to_send_go_to_their_apps_queue_in_input_order() -> None:
    entries: list[Entry] = [Room(room_id="a", sdkappid=TWO), Room(room_id="b", sdkappid=ONE)]
    dispatcher, apps, _, records = dispatch(
        [*entries, Room(room_id="c", sdkappid=TWO)], sdkappids=(ONE, TWO)
    )
    assert (queued(apps[ONE]), queued(apps[TWO])) == (["b"], ["a", "c"])
    assert (apps[ONE].stats.routed, apps[TWO].stats.routed) == (1, 2)
    assert records == []
    assert dispatcher.input_done


def test_invalid_entries_are_recorded_at_once_and_counted_where_they_belong() -> None:
    entries: list[Entry] = [
        InvalidRoom(room_id="", reason="room ID is empty"),
        Room(room_id="x", sdkappid=TWO),  # not a configured app
    ]
    _, apps, recorder, records = dispatch(entries)
    assert [(r["room_id"], r["status"]) for r in records] == [("", "invalid"), ("x", "invalid")]
    assert (apps[ONE].stats.routed, apps[ONE].stats.done) == (1, 1)  # in the total and done
    assert recorder.invalid_unrouted == 1
    assert queued(apps[ONE]) == []


def test_duplicates_are_counted_and_rooms_final_in_the_log_skipped() -> None:
    entries: list[Entry] = [Room(room_id="a"), Room(room_id="a"), Room(room_id="old")]
    dispatcher, apps, recorder, records = dispatch(entries, final=frozenset({"old"}))
    assert queued(apps[ONE]) == ["a"]
    assert dispatcher.duplicates == 1
    assert (apps[ONE].stats.skipped, recorder.skipped(list(apps.values()))) == (1, 1)
    assert records == []


def test_a_stopped_dispatcher_takes_no_input() -> None:
    async def scenario() -> bool:
        app = App(
            AppConfig(sdkappid=ONE, identifier="admin", secret_key="k"),
            rate=20,
            wallclock=lambda: 0.0,
        )
        stopped = asyncio.Event()
        stopped.set()
        recorder = Recorder(
            ResultsWriter(io.BytesIO(), name="t", owned=False),
            wallclock=lambda: 0.0,
            on_unwritable=lambda: None,
        )
        dispatcher = Dispatcher(
            {ONE: app}, router=Router([ONE]), recorder=recorder, stopped=stopped
        )
        await dispatcher.route_input(Entries([Room(room_id="a")]))
        return app.queue.empty() and not dispatcher.input_done

    assert run_virtual(scenario())


def test_a_route_that_fails_its_guard_is_a_bug_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    # SEND is only ever decided for a Room of a configured app: anything else must not vanish.
    monkeypatch.setattr(Router, "route", lambda _self, _entry: Decision(Route.SEND, None))
    with pytest.raises(AssertionError, match="routed to be sent"):
        dispatch([Room(room_id="a")])
