"""The run loop on virtual time with a scripted transport: outcomes, retries, throttles, stops."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

import pytest
import structlog

from resumer.api.client import Request
from resumer.config.model import AppConfig, RunConfig
from resumer.engine.routing import Entry
from resumer.engine.run import Run
from resumer.engine.summary import Summary
from resumer.errors import InputBrokeError, ResultsLogError, UsageError
from resumer.records import InvalidRoom, Reply, Room, Status
from resumer.results.writer import ResultsWriter
from tests.support.sources import Entries, Stepped
from tests.support.vtime import run_virtual

KEY = "test-secret-key"


def envelope(code: int, request_id: str = "Id-1") -> Reply:
    body: dict[str, object] = {"ActionStatus": "OK" if code == 0 else "FAIL", "ErrorInfo": ""}
    body |= {"ErrorCode": code, "RequestId": request_id}
    return Reply(http_status=200, body=json.dumps(body).encode())


class ScriptedApi:
    """Answers each room with its script, step by step, then ErrorCode 0; records every call."""

    def __init__(self, scripts: dict[str, list[Reply | Exception]] | None = None) -> None:
        self.scripts = {room: list(steps) for room, steps in (scripts or {}).items()}
        self.calls: Counter[str] = Counter()
        self.by_app: Counter[str] = Counter()
        self.randoms: list[str] = []
        self.times: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, request: Request) -> Reply:
        room = json.loads(request.body)["RoomId"]
        query = dict(request.query)
        self.calls[room] += 1
        self.by_app[query["sdkappid"]] += 1
        self.randoms.append(query["random"])
        self.times[query["sdkappid"]].append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.1)  # the API's latency, in virtual time
        steps = self.scripts.get(room)
        step = steps.pop(0) if steps else envelope(0, f"Id-{room}")
        if isinstance(step, Exception):
            raise step
        return step


def config(*apps: int, max_attempts: int = 4, concurrency: int = 8) -> RunConfig:
    return RunConfig(
        apps=tuple(
            AppConfig(sdkappid=a, identifier="administrator", secret_key=KEY)
            for a in apps or (1400000001,)
        ),
        endpoint="http://127.0.0.1:1",
        max_attempts=max_attempts,
        concurrency=concurrency,
    )


def rooms(*ids: str, sdkappid: int | None = None) -> list[Entry]:
    return [Room(room_id=i, sdkappid=sdkappid) for i in ids]


def execute(
    cfg: RunConfig,
    api: ScriptedApi,
    entries: Iterable[Entry],
    *,
    stop_after: float | None = None,
) -> tuple[Summary, list[dict[str, object]]]:
    out = io.BytesIO()

    async def scenario() -> Summary:
        run = Run(
            cfg,
            transport=api,
            writer=ResultsWriter(out, name="test", owned=False),
            rng=random.Random(7),
            wallclock=lambda: 1_764_000_000.0,
        )
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, run.stop)
        return await run.resume(Entries(entries))

    summary = run_virtual(scenario())
    records = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    return summary, records


def by_room(records: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["room_id"]: r for r in records}


def test_every_room_ok_once_with_its_request_id() -> None:
    api = ScriptedApi()
    summary, records = execute(config(), api, rooms(*(f"r{i}" for i in range(50))))
    assert len(records) == 50
    assert all(r["status"] == "ok" and r["attempts"] == 1 for r in records)
    assert by_room(records)["r7"]["request_id"] == "Id-r7"
    assert set(api.calls.values()) == {1}
    assert summary.count(Status.OK) == 50


def test_invalid_and_duplicate_entries_are_recorded_or_dropped_without_sending() -> None:
    entries: list[Entry] = [
        *rooms("a", "b", "a"),
        InvalidRoom(room_id="x" * 60, reason="room ID is 60 bytes"),
        Room(room_id="c", sdkappid=1400000009),
    ]
    summary, records = execute(config(), ScriptedApi(), entries)
    statuses = {r["room_id"]: r["status"] for r in records}
    assert statuses == {"a": "ok", "b": "ok", "x" * 60: "invalid", "c": "invalid"}
    assert "not one of the configured apps" in str(by_room(records)["c"]["error_info"])
    assert summary.count(Status.INVALID) == 2
    assert (summary.duplicates, summary.as_dict()["duplicates"]) == (1, 1)


def test_invalid_rooms_count_in_done_and_total_and_under_no_error_code() -> None:
    empty = InvalidRoom(room_id="", reason="room ID is empty")
    entries: list[Entry] = [
        *rooms("a"),
        empty,
        InvalidRoom(room_id="null", reason="room ID is not a string (got null)"),
        empty,  # the same invalid line again: recorded once
        *rooms("refused"),
    ]
    summary, records = execute(config(), ScriptedApi({"refused": [envelope(100002)]}), entries)
    stats = summary.apps[1400000001]
    assert len(records) == 4
    assert (stats.done, stats.routed) == (4, 4)  # the display's "done 4/4", never "4/2"
    assert summary.as_dict()["statuses"] == {"ok": 1, "rejected": 1, "invalid": 2}
    assert summary.as_dict()["error_codes"] == {"100002": 1}  # no "0" for the invalid ones
    assert summary.duplicates == 1


def test_two_apps_each_get_their_own_budget() -> None:
    api = ScriptedApi()
    entries = rooms(*(f"a{i}" for i in range(300)), sdkappid=1) + rooms(
        *(f"b{i}" for i in range(300)), sdkappid=2
    )
    summary, records = execute(config(1, 2, concurrency=16), api, entries)
    assert len(records) == 600
    assert api.by_app == Counter({"1": 300, "2": 300})
    for times in api.times.values():
        rate = (len(times) - 1) / (times[-1] - times[0])
        assert 19.5 < rate <= 19.71
    assert summary.duration < 16  # 300 rooms at 19.7/s each, side by side


def test_several_apps_and_a_plain_line_is_invalid_with_a_reason() -> None:
    _, records = execute(config(1, 2), ScriptedApi(), rooms("orphan"))
    assert records[0]["status"] == "invalid"
    assert "several apps" in str(records[0]["error_info"])


def test_a_stop_lets_requests_in_flight_finish_and_leaves_the_rest_unwritten() -> None:
    api = ScriptedApi()
    summary, records = execute(config(), api, rooms(*(f"r{i}" for i in range(100))), stop_after=1.0)
    assert summary.interrupted
    assert 15 <= len(records) <= 25  # about one second's worth
    assert {r["status"] for r in records} == {"ok"}
    assert sum(api.calls.values()) == len(records)  # nothing sent without a record


class SlowApi(ScriptedApi):
    """ScriptedApi, but the rooms in `delays` take that many seconds to answer."""

    def __init__(self, delays: dict[str, float]) -> None:
        super().__init__()
        self.delays = delays
        self.arrived: Counter[str] = Counter()  # requests as they reach the API

    async def __call__(self, request: Request) -> Reply:
        room = json.loads(request.body)["RoomId"]
        self.arrived[room] += 1
        await asyncio.sleep(self.delays.get(room, 0.0))
        return await super().__call__(request)


def test_the_grace_after_a_stop_outlasts_the_request_timeout() -> None:
    # Sent at once, answered after 5.8 s (within the 6 s timeout), stopped at 0.5 s.
    api = SlowApi({"slow": 5.8})
    summary, records = execute(config(), api, rooms("slow"), stop_after=0.5)
    assert summary.interrupted
    assert [(r["status"], r["attempts"]) for r in records] == [("ok", 1)]


def test_a_room_cut_off_in_flight_counts_the_request_it_sent() -> None:
    api = SlowApi({"hung": 1000.0})  # a transport that never gives up
    summary, records = execute(config(), api, rooms("hung"), stop_after=0.5)
    assert summary.interrupted
    assert [(r["status"], r["attempts"]) for r in records] == [("aborted", 1)]
    assert summary.duration == pytest.approx(0.5 + 6 + 2, abs=0.1)  # the timeout + the margin


def test_a_stop_while_waiting_for_input_ends_the_run() -> None:
    out = io.BytesIO()
    source = Stepped()  # a FIFO without a writer, a terminal nobody types at
    source.give(*rooms("r0"))

    async def scenario() -> Summary:
        run = Run(
            config(), transport=ScriptedApi(), writer=ResultsWriter(out, name="t", owned=False)
        )
        asyncio.get_running_loop().call_later(5.0, run.stop)
        return await asyncio.wait_for(run.resume(source), 60)  # virtual seconds

    summary = run_virtual(scenario())
    assert summary.interrupted
    assert not summary.failure
    assert [json.loads(line)["room_id"] for line in out.getvalue().splitlines()] == ["r0"]


def test_a_stop_before_the_input_is_taken_sends_nothing() -> None:
    api, source = ScriptedApi(), Stepped()
    source.give(*rooms("r0"))

    async def scenario() -> Summary:
        run = Run(
            config(), transport=api, writer=ResultsWriter(io.BytesIO(), name="t", owned=False)
        )
        run.stop()
        return await run.resume(source)

    summary = run_virtual(scenario())
    assert summary.interrupted
    assert (source.taken, sum(api.calls.values())) == (0, 0)


def test_a_forced_exit_records_every_room_with_a_request_sent() -> None:
    api = SlowApi({f"r{i}": 1000.0 for i in range(3)})  # hung: in flight until the exit
    api.scripts = {"r3": [envelope(100001)] * 10}  # waits for its retry, 1 request sent
    out = io.BytesIO()
    forced: list[tuple[int, list[dict[str, object]]]] = []

    async def scenario() -> None:
        run = Run(
            config(max_attempts=6),
            transport=api,
            writer=ResultsWriter(out, name="t", owned=False),
            rng=random.Random(3),
        )
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, run.stop)

        def force() -> None:  # what a second, separate signal does before os._exit
            written = run.abort_in_flight()
            records = [json.loads(line) for line in out.getvalue().splitlines()]
            forced.append((written, records))

        loop.call_later(2.5, force)
        await run.resume(Entries(rooms("r4", "r3", "r0", "r1", "r2")))  # r4 goes alone

    run_virtual(scenario())
    written, records = forced[0]
    assert written == 3
    statuses = {r["room_id"]: r["status"] for r in records}
    assert statuses == {"r0": "aborted", "r1": "aborted", "r2": "aborted", "r3": "aborted"} | {
        "r4": "ok"  # r3: its retry's wait was cut short by the stop, and recorded then
    }
    assert {r["room_id"]: r["attempts"] for r in records} == dict(api.arrived)  # truthful


def test_an_input_that_breaks_before_anything_was_sent_is_raised_as_it_is() -> None:
    broke = UsageError("input file 'rooms.txt' cannot be read: I/O error")
    api, source = ScriptedApi(), Stepped()
    source.end(broke)

    async def scenario() -> Summary:
        run = Run(
            config(), transport=api, writer=ResultsWriter(io.BytesIO(), name="t", owned=False)
        )
        return await run.resume(source)

    with pytest.raises(UsageError) as raised:  # still "fix the input": exit 2
        run_virtual(scenario())
    assert raised.value is broke
    assert not api.calls


class _FullDisk(io.BytesIO):
    """A results log on a disk that fills up after `room` lines."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        assert isinstance(data, bytes)
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return super().write(data)


def test_a_log_that_cannot_be_written_stops_the_run_and_no_outcome_is_lost() -> None:
    api = ScriptedApi()
    log, spill = _FullDisk(room=5), io.StringIO()

    async def scenario() -> Summary:
        writer = ResultsWriter(log, name="results.jsonl", owned=False, spill=spill)
        run = Run(config(), transport=api, writer=writer)
        return await run.resume(Entries(rooms(*(f"r{i}" for i in range(200)))))

    failure = run_virtual(scenario()).failure
    assert isinstance(failure, ResultsLogError)
    assert "could not be written" in str(failure)
    written = [json.loads(line)["room_id"] for line in log.getvalue().splitlines()]
    spilled = [json.loads(line)["room_id"] for line in spill.getvalue().splitlines()]
    assert len(written) == 5
    assert spilled  # the outcome that failed, and those of the requests then in flight
    assert f"the {len(spilled)} outcomes it could not write" in str(failure)
    assert sorted(written + spilled) == sorted(api.calls)  # every request sent has its record
    assert set(api.calls.values()) == {1}
    assert sum(api.calls.values()) <= 5 + 8  # stopped at once: at most what was in flight


def test_an_input_that_breaks_after_requests_were_sent_is_its_own_error() -> None:
    source = Stepped()
    source.give(*rooms(*(f"r{i}" for i in range(10))))

    class Api(ScriptedApi):
        async def __call__(self, request: Request) -> Reply:
            source.end(UsageError("input file 'rooms.txt' cannot be read: I/O error"))
            return await super().__call__(request)

    out = io.BytesIO()
    api = Api()

    async def scenario() -> Summary:
        run = Run(config(), transport=api, writer=ResultsWriter(out, name="t", owned=False))
        return await run.resume(source)

    summary = run_virtual(scenario())
    assert summary.interrupted
    assert isinstance(summary.failure, InputBrokeError)  # the CLI adds how to go on
    assert str(summary.failure) == "input file 'rooms.txt' cannot be read: I/O error"
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(r["room_id"] for r in records) == sorted(api.calls)  # in flight: recorded
    assert {r["status"] for r in records} == {"ok"}  # the 8 in flight finished


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    yield
    structlog.reset_defaults()
