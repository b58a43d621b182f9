"""The run loop's side of sharing (`sharing.Sharing`), on virtual time: rooms another run holds
are put aside and claimed again after the input; rooms another run finished are skipped; every
room sent is released after its record is written. `Shelf` here is a second, in-memory
implementation of the interface (the real one, on Redis, is tested in tests/test_fleet_*.py and
end to end in tests/test_e2e_fleet.py)."""

from __future__ import annotations

import asyncio
import io
import json
import random

from resumer.engine.claimed import BATCH
from resumer.engine.run import Run
from resumer.engine.sharing import LEASED, Budget, Claim, Hold
from resumer.engine.summary import Summary
from resumer.pace.pacer import Pacer
from resumer.records import Result, Room
from resumer.results.writer import ResultsWriter
from resumer.timing import Sleep
from tests.engine.test_run import ScriptedApi, config
from tests.support.sources import Entries
from tests.support.vtime import run_virtual


class Shelf:
    """Rooms held by an imaginary other run until a given time, then final or abandoned."""

    def __init__(self, held_until: dict[str, float], finished: set[str]) -> None:
        self.held_until = held_until  # room -> when the other run lets go of it
        self.finished = finished  # rooms the other run finishes by then (else: it died)
        self.claims: list[tuple[str, Hold, float]] = []
        self.released: list[tuple[str, str]] = []
        self.written_before_release: list[bool] = []
        self.out: io.BytesIO | None = None
        self.lapsed: dict[str, Hold] = {}  # rooms whose hold lapsed -> what claiming again finds
        self.confirmed: list[str] = []
        self.batches: list[int] = []  # rooms per claim call

    def budget(self, sdkappid: int, *, rate: float, sleep: Sleep) -> Budget:
        return Pacer(budget=rate, sleep=sleep)

    async def claim(self, sdkappid: int, room_ids: list[str], sleep: Sleep) -> list[Claim]:
        now = asyncio.get_running_loop().time()
        self.batches.append(len(room_ids))
        claims = []
        for room_id in room_ids:
            if now < self.held_until.get(room_id, 0.0):
                hold = Hold.BUSY
            elif room_id in self.finished:
                hold = Hold.FINAL
            else:
                hold = Hold.LEASED
            self.claims.append((room_id, hold, now))
            claims.append(LEASED if hold is Hold.LEASED else Claim(hold))
        return claims

    def fresh(self, sdkappid: int, room_id: str, timeout: float) -> bool:
        return room_id not in self.lapsed

    async def confirm(self, sdkappid: int, room_id: str, sleep: Sleep) -> Hold:
        self.confirmed.append(room_id)
        return self.lapsed.pop(room_id)

    def release(self, sdkappid: int, room_id: str, claim: Claim, result: Result | None) -> None:
        assert self.out is not None
        self.written_before_release.append(room_id.encode() in self.out.getvalue())
        self.released.append((room_id, "" if result is None else result.status.value))

    def watch(self, on_lost: object) -> None:
        return None


def execute(shelf: Shelf, ids: list[str]) -> tuple[Summary, list[dict[str, object]]]:
    out = shelf.out = io.BytesIO()

    async def scenario() -> Summary:
        run = Run(
            config(),
            transport=ScriptedApi(),
            writer=ResultsWriter(out, name="test", owned=False),
            sharing=shelf,
            rng=random.Random(7),
        )
        return await run.resume(Entries([Room(room_id=i, sdkappid=None) for i in ids]))

    summary = run_virtual(scenario())
    return summary, [json.loads(line) for line in out.getvalue().decode().splitlines()]


def test_a_room_another_run_holds_is_done_after_the_input_if_that_run_died() -> None:
    shelf = Shelf(held_until={"held": 5.0}, finished=set())
    summary, records = execute(shelf, ["held", "a", "b"])
    assert sorted(str(r["room_id"]) for r in records) == ["a", "b", "held"]
    holds = [(room, hold) for room, hold, _ in shelf.claims if room == "held"]
    assert holds[0] == ("held", Hold.BUSY)
    assert holds[-1] == ("held", Hold.LEASED)
    assert all(hold is Hold.BUSY for _, hold in holds[1:-1])
    busy_until = max(t for room, hold, t in shelf.claims if room == "held" and hold is Hold.BUSY)
    assert (
        busy_until < 5.0 <= next(t for r, h, t in shelf.claims if h is Hold.LEASED and r == "held")
    )
    assert summary.skipped == 0


def test_a_room_another_run_finished_meanwhile_is_skipped_and_not_written() -> None:
    shelf = Shelf(held_until={"held": 3.0}, finished={"held", "done-before"})
    summary, records = execute(shelf, ["held", "done-before", "a"])
    assert [r["room_id"] for r in records] == ["a"]
    assert summary.skipped == 2
    stats = summary.apps[1400000001]
    assert (stats.routed, stats.done, stats.skipped) == (1, 1, 2)


def test_a_room_whose_hold_lapsed_is_claimed_again_before_its_request() -> None:
    shelf = Shelf(held_until={}, finished=set())
    shelf.lapsed = {"taken": Hold.FINAL, "ours": Hold.LEASED, "busy": Hold.BUSY}
    summary, records = execute(shelf, ["taken", "ours", "busy", "a"])
    assert sorted(shelf.confirmed) == ["busy", "ours", "taken"]
    assert sorted(str(r["room_id"]) for r in records) == ["a", "busy", "ours"]  # busy: aside
    assert all(r["attempts"] == 1 for r in records)
    assert summary.skipped == 1  # "taken": finished by the other run, never sent by this one
    assert summary.apps[1400000001].sent == 3


def test_each_room_sent_is_released_after_its_record_is_written() -> None:
    shelf = Shelf(held_until={}, finished=set())
    execute(shelf, [f"r{i}" for i in range(30)])
    assert sorted(room for room, _ in shelf.released) == sorted(f"r{i}" for i in range(30))
    assert all(shelf.written_before_release)
    assert {status for _, status in shelf.released} == {"ok"}


def test_a_stop_while_rooms_are_aside_ends_the_run() -> None:
    shelf = Shelf(held_until={"held": 1e9}, finished=set())  # held for ever by a live run

    async def scenario() -> Summary:
        run = Run(
            config(),
            transport=ScriptedApi(),
            writer=ResultsWriter(io.BytesIO(), name="test", owned=False),
            sharing=shelf,
        )
        asyncio.get_running_loop().call_later(30, run.stop)
        return await run.resume(Entries([Room(room_id="held", sdkappid=None)]))

    summary = run_virtual(scenario())
    assert summary.interrupted
    assert summary.apps[1400000001].done == 0  # not sent, not written: --resume does it
    assert len([c for c in shelf.claims if c[0] == "held"]) >= 20  # tried about once a second


def test_a_stop_gives_back_the_rooms_claimed_but_never_sent() -> None:
    shelf = Shelf(held_until={}, finished=set())

    async def scenario() -> None:
        run = Run(
            config(),  # 8 workers: each claims a room, most wait for their slot
            transport=ScriptedApi(),
            writer=ResultsWriter(shelf.out or io.BytesIO(), name="test", owned=False),
            sharing=shelf,
        )
        asyncio.get_running_loop().call_later(1.0, run.stop)
        await run.resume(Entries([Room(room_id=f"r{i}", sdkappid=None) for i in range(100)]))

    shelf.out = io.BytesIO()
    run_virtual(scenario())
    leased = [room for room, hold, _ in shelf.claims if hold is Hold.LEASED]
    released = [room for room, _ in shelf.released]
    assert sorted(released) == sorted(leased)  # every lease given back, once
    never_sent = [room for room, status in shelf.released if status == ""]
    assert never_sent  # those waiting for a slot at the stop
    written = shelf.out.getvalue().decode()
    assert not any(f'"{room}"' in written for room in never_sent)


def test_rooms_are_claimed_in_batches_of_what_waits_in_the_queue() -> None:
    shelf = Shelf(held_until={}, finished={f"r{i}" for i in range(0, 200, 2)})
    summary, records = execute(shelf, [f"r{i}" for i in range(200)])
    assert sorted(str(r["room_id"]) for r in records) == sorted(f"r{i}" for i in range(1, 200, 2))
    assert sum(shelf.batches) == 200  # each room claimed once
    assert max(shelf.batches) == BATCH
    assert len(shelf.batches) <= 200 // BATCH + 4  # not one call per room
    assert summary.skipped == 100
