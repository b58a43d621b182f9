"""Long `resumer run` end to end: stopping (SIGTERM, SIGINT, kill -9), resuming, outages, refusals.

The real CLI as a subprocess against the simulator on 127.0.0.1, as in tests/e2e/test_run.py.
Runs that get a signal are started with Popen and stopped once the results log shows progress;
every wait polls a condition (the log, the simulator's stats) under a deadline, never a blind
sleep. Counts are asserted exactly where the contract makes them exact; time bounds are loose
enough for a busy 2-core machine.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from resumer.api.usersig import make_usersig
from resumer.pace.pacer import MARGIN
from resumer.records import Result, Status
from resumer.results.schema import to_line
from resumer.sim.config import Latency
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from resumer.sim.thread import SimThread
from tests.support.e2e import (
    DEADLINE,
    all_rooms,
    app_flags,
    app_stats,
    ok_rooms,
    poll,
    read_log,
    resumer,
    room_lines,
    run_cli,
    sim_config,
    start_cli,
)

ROOMS = 300  # about 15 s of work at 19.7/s: an outage fits in the middle
STOPPED_ROOMS = 120  # about 6 s of work: stopped after PROGRESS records, 4 s of work are left
SLOW = Latency(min_ms=0, max_ms=400)  # so that requests are really in flight at the stop
PROGRESS = 30  # records in the log before the run is stopped (about 1.5 s of work)
WINDOW = 1.0  # the simulator's budget window, seconds


def _lines(log: Path) -> int:
    return log.read_bytes().count(b"\n") if log.exists() else 0


def _last_status(records: list[dict[str, Any]]) -> dict[str, str]:
    return {r["room_id"]: r["status"] for r in records}  # the last record of a room decides


def _wait_for_quiet(sim: SimThread) -> None:
    """Wait until the simulator's window holds none of the last run's requests.

    A run started at once would share a 1 s window with the one just stopped; the 100422 that
    could follow is correct behaviour but would blur the exact count of requests per room.
    """
    deadline = time.monotonic() + DEADLINE
    while True:
        stats = sim.stats(rooms=False)
        last = app_stats(stats)["last_arrival_s"]
        if last is None or stats["uptime_s"] - last > WINDOW:
            return
        assert time.monotonic() < deadline, "the simulator still gets requests"
        time.sleep(0.05)


def _record(room_id: str, status: Status) -> str:
    return to_line(
        Result(
            ts="2026-11-24T10:00:00.123Z",
            sdkappid=DEMO_SDKAPPID,
            room_id=room_id,
            status=status,
            request_id="Id-0-O-Seq-1" if status is Status.OK else "",
            attempts=1,
        )
    )


@pytest.mark.parametrize(
    ("signum", "expected"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_stops_cleanly_and_resume_sends_no_room_twice(
    tmp_path: Path, signum: signal.Signals, expected: int
) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(STOPPED_ROOMS))
    with SimThread(sim_config(latency=SLOW, seed=11)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log)]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: _lines(log) >= PROGRESS, f"{PROGRESS} records", first)
        first.send_signal(signum)
        signalled = time.monotonic()
        code = first.wait(timeout=DEADLINE)
        stopping = time.monotonic() - signalled
        stopped, torn = read_log(log)
        _wait_for_quiet(sim)
        second = run_cli([*args, "--resume"])
        stats = app_stats(sim.stats())
    stderr = (tmp_path / "first.err").read_text()
    assert code == expected, stderr
    assert stopping <= 5.0, f"took {stopping:.1f} s to stop"
    assert "Traceback" not in stderr
    assert not torn
    assert PROGRESS <= len(stopped) < STOPPED_ROOMS
    assert {r["status"] for r in stopped} <= {"ok", "aborted"}  # aborted: cut off in flight
    assert second.returncode == 0, second.stderr
    records, _ = read_log(log)
    assert len(records) == len(stopped) + STOPPED_ROOMS - len(ok_rooms(stopped))
    assert sorted(ok_rooms(records)) == sorted(all_rooms(STOPPED_ROOMS))  # one ok each
    # No fault, and every request in flight finished within the grace period: one request each,
    # but for one 100422 from two arrivals a loaded simulator stamped close together.
    throttled = stats["by_code"].get("100422", 0)
    assert throttled <= 1, stats["by_code"]
    assert set(stats["rooms"]) == all_rooms(STOPPED_ROOMS)
    assert sum(stats["rooms"].values()) == STOPPED_ROOMS + throttled
    assert stats["by_code"].get("0") == STOPPED_ROOMS


def test_after_kill_9_resume_resends_only_the_requests_that_were_in_flight(
    tmp_path: Path,
) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(STOPPED_ROOMS))
    with SimThread(sim_config(latency=SLOW, seed=12)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log)]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: _lines(log) >= PROGRESS, f"{PROGRESS} records", first)
        first.kill()
        assert first.wait(timeout=DEADLINE) == -signal.SIGKILL
        killed, _ = read_log(log)  # a line torn by the kill is tolerated below
        _wait_for_quiet(sim)
        second = run_cli([*args, "--resume"])
        stats = app_stats(sim.stats())
    assert second.returncode == 0, second.stderr
    records, _ = read_log(log)
    assert _last_status(records) == dict.fromkeys(all_rooms(STOPPED_ROOMS), "ok")
    requests = stats["rooms"]
    assert set(requests) == all_rooms(STOPPED_ROOMS)
    ok_before = set(ok_rooms(killed))
    assert ok_before
    assert {requests[room] for room in ok_before} == {1}  # an ok record is never sent again
    resent = {room for room, count in requests.items() if count > 1}
    assert {requests[room] for room in resent} <= {2}
    # A room goes twice only if its request reached the simulator but its record was not
    # written before the kill: it arrived in the last 0.4 s (latency) plus the client's
    # turnaround. The simulator sees at most 20 arrivals in any 1 s (the budget), so as long
    # as the turnaround stays under 0.6 s, at most 20 rooms (about 8 are expected).
    assert len(resent) <= 20, f"{len(resent)} rooms sent twice"
    assert stats["by_code"] == {"0": STOPPED_ROOMS + len(resent)}


def test_resume_tolerates_a_torn_last_line(tmp_path: Path) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(10))
    whole = "".join(_record(f"room-{i}", Status.OK) for i in range(5))
    half = _record("room-5", Status.OK)[:40]  # a crash mid-write: no newline, not JSON
    log.write_text(whole + half, encoding="utf-8")
    with SimThread(sim_config()) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log), "--resume"]
        run = run_cli(args)
        sent = app_stats(sim.stats())["rooms"]
        again = run_cli(args)
        sent_again = app_stats(sim.stats())["rooms"]
    assert run.returncode == 0, run.stderr
    assert sent == {f"room-{i}": 1 for i in range(5, 10)}  # the torn room-5 is not final
    records, torn = read_log(log)
    assert torn == [half]  # kept alone on its line, where --resume skips it
    assert _last_status(records) == dict.fromkeys(all_rooms(10), "ok")
    assert again.returncode == 0, again.stderr
    assert sent_again == sent  # the torn line, now mid-file, is still tolerated


def test_an_output_with_records_is_refused_without_resume(tmp_path: Path) -> None:
    log = tmp_path / "results.jsonl"
    log.write_text(_record("room-0", Status.OK), encoding="utf-8")
    before = log.read_bytes()
    with SimThread(sim_config()) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(10))
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 2
    assert "--resume" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr
    assert stats["requests"] == 0
    assert log.read_bytes() == before


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_a_15_s_outage_pauses_the_run_and_every_room_ends_ok(tmp_path: Path) -> None:
    outage = (3.0, 18.0)  # seconds from the simulator's start
    config = sim_config(outages=(outage,), outage_kind="http503", seed=13)
    with SimThread(config) as sim:
        started = time.time()  # the simulator's t = 0, to within a few ms
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(ROOMS))
        stats = app_stats(sim.stats())
    assert run.code == 0, run.stderr
    assert run.statuses() == dict.fromkeys(all_rooms(ROOMS), "ok")
    assert stats["first_arrival_s"] < outage[0]  # the run spans the outage
    assert stats["last_arrival_s"] > outage[1]
    assert stats["by_code"]["0"] == ROOMS
    assert stats["by_code"]["http503"] == stats["during_outage"]
    # Probes, not the flood: 15 s at 20/s would be 300 requests.
    assert 1 <= stats["during_outage"] <= 50, stats["during_outage"]
    # The API's return is noticed within one probe period (8 s), with 2 s to spare.
    since_start = [datetime.fromisoformat(r["ts"]).timestamp() - started for r in run.records]
    back = min(t for t in since_start if t > outage[1]) - outage[1]
    assert back <= 10.0, f"the run went on {back:.1f} s after the API came back"


def test_an_expired_ready_usersig_is_refused_before_sending(tmp_path: Path) -> None:
    usersig = make_usersig(
        sdkappid=DEMO_SDKAPPID,
        identifier=DEMO_IDENTIFIER,
        secret_key=DEMO_SECRET_KEY,
        now=int(time.time()) - 3600 - 5400,  # valid for 1 h, expired 1 h 30 min ago
        expire=3600,
    )
    with SimThread(sim_config()) as sim:
        run = resumer(
            *app_flags(sim.url),
            tmp=tmp_path,
            stdin=room_lines(10),
            env={"RESUMER_SECRET_KEY": "", "RESUMER_USERSIG": usersig},
        )
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 2
    assert "expired" in run.stderr
    assert "1 h 30 min" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr
    assert stats["requests"] == 0
    assert not (tmp_path / "results.jsonl").exists()


def test_a_ready_usersig_that_expires_before_the_estimated_end_is_refused(
    tmp_path: Path,
) -> None:
    usersig = make_usersig(
        sdkappid=DEMO_SDKAPPID,
        identifier=DEMO_IDENTIFIER,
        secret_key=DEMO_SECRET_KEY,
        now=int(time.time()),
        expire=600,  # 10 minutes, for 24,000 rooms that need about 20 at the paced rate
    )
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(24_000))
    with SimThread(sim_config()) as sim:
        run = resumer(
            *app_flags(sim.url),
            str(rooms),
            tmp=tmp_path,
            env={"RESUMER_SECRET_KEY": "", "RESUMER_USERSIG": usersig},
        )
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 2
    needs = round(24_000 / (20 * (1 - MARGIN)))  # the input's rooms at the paced rate
    minutes, seconds = divmod(needs, 60)
    expected = (
        rf"expires in (9 min 5[0-9] s|10 min 0 s) but the run needs about {minutes} min {seconds} s"
    )
    assert re.search(expected, run.stderr), run.stderr
    assert stats["requests"] == 0


def test_dry_run_sends_nothing_and_counts_the_rooms_and_those_resume_skips(
    tmp_path: Path,
) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(10) + "room-0\n" + "x" * 49 + "\n")  # a duplicate, an invalid
    final = [("room-0", Status.OK), ("room-1", Status.REJECTED), ("room-2", Status.INVALID)]
    redo = [("room-3", Status.GAVE_UP), ("room-4", Status.ABORTED)]
    log.write_text("".join(_record(r, s) for r, s in final + redo), encoding="utf-8")
    before = log.read_bytes()
    with SimThread(sim_config()) as sim:
        run = run_cli([*app_flags(sim.url), str(rooms), "-o", str(log), "--resume", "--dry-run"])
        stats = app_stats(sim.stats(rooms=False))
    assert run.returncode == 0, run.stderr
    assert "7 rooms" in run.stdout  # room-3 to room-9: gave_up and aborted are done again
    assert "3 already final" in run.stdout
    assert stats["requests"] == 0
    assert log.read_bytes() == before
