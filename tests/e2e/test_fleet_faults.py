"""Several runs on one Redis when a process or Redis fails: real CLIs, the simulator and a real
redis-server, counting what reached the API (the simulator's arrivals per room)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from resumer.fleet.keys import PROTOCOL
from resumer.results.resume import read_final
from resumer.sim.thread import SimThread
from tests.e2e.test_fleet import _event, _records, _runs, _until_sent, _wait, _within_budget
from tests.support.e2e import app_flags, app_stats, room_lines, run_cli, sim_config
from tests.support.servers import redis_server


@pytest.mark.timeout(300)  # about 40 s of real time when quiet
def test_a_run_paused_past_its_leases_sends_nothing_another_run_did_meanwhile(
    tmp_path: Path,
) -> None:
    with redis_server() as redis, SimThread(sim_config()) as sim:
        with _runs(tmp_path, sim.url, redis.url, [room_lines(300)] * 2) as runs:
            _until_sent(sim, 80, runs)
            runs[0].send_signal(signal.SIGSTOP)
            at_stop = dict(app_stats(sim.stats())["rooms"])
            time.sleep(15)  # longer than a lease (10 s): the other run takes its rooms over
            at_cont = dict(app_stats(sim.stats())["rooms"])
            runs[0].send_signal(signal.SIGCONT)
            _wait(runs, tmp_path)
        stats = app_stats(sim.stats())
    done_meanwhile = {room for room, sent in at_cont.items() if sent > at_stop.get(room, 0)}
    sent_again = {room for room in done_meanwhile if stats["rooms"][room] > at_cont[room]}
    throttled = stats["by_code"].get("100422", 0)
    assert len(sent_again) <= throttled, (sent_again, stats["by_code"])  # a throttled try only
    assert set(stats["rooms"]) == {f"room-{i}" for i in range(300)}
    twice = [room for room, sent in stats["rooms"].items() if sent > 1]
    assert len(twice) <= 8 + throttled, twice  # what the paused run had on the wire
    ok = {r["room_id"] for r in _records(tmp_path, 2) if r["status"] == "ok"}
    assert len(ok) == 300
    _within_budget(stats, throttled=3)
    paused = _event(tmp_path / "stderr-0.txt", "redis_shared")
    assert paused["confirmed"] + paused["lost"] > 0, paused  # it noticed, and did not send


@pytest.mark.timeout(300)  # about 30 s of real time when quiet
def test_a_redis_restarted_empty_stops_the_runs_and_resume_finishes(tmp_path: Path) -> None:
    with redis_server() as redis, SimThread(sim_config()) as sim:
        with _runs(tmp_path, sim.url, redis.url, [room_lines(300)] * 2) as runs:
            _until_sent(sim, 100, runs)
            redis.stop()
            time.sleep(3)
            redis.start()  # on the same port, empty: no persistence
            codes = [run.wait(timeout=120) for run in runs]
        stderrs = [(tmp_path / f"stderr-{n}.txt").read_text() for n in range(2)]
        before = app_stats(sim.stats())
        recorded = {r["room_id"] for r in _records(tmp_path, 2)}
        final = [read_final(str(tmp_path / f"log-{n}.jsonl")).count for n in range(2)]
        with _runs(tmp_path, sim.url, redis.url, [room_lines(300)] * 2, "--resume") as again:
            _wait(again, tmp_path)
        after = app_stats(sim.stats())
    republished = [
        _event(tmp_path / f"stderr-{n}.txt", "ledger_republished")["rooms"] for n in range(2)
    ]
    assert republished == final  # each resumed run recorded its log's final rooms on Redis
    for code, stderr in zip(codes, stderrs, strict=True):
        assert "Traceback" not in stderr
        if code == 3:
            assert "lost the runs' shared state" in stderr.strip().splitlines()[-1], stderr
    assert set(codes) <= {0, 3}, codes
    assert 3 in codes  # the wipe was seen: nothing more claimed or booked on the empty Redis
    twice = [room for room, sent in before["rooms"].items() if sent > 1]
    assert len(twice) <= 8, twice  # what was on the wire when Redis went
    assert set(before["rooms"]) <= recorded  # every room sent has its record: nothing lost
    _within_budget(before, throttled=3)
    _within_budget(after, throttled=6)
    ok = {r["room_id"] for r in _records(tmp_path, 2) if r["status"] == "ok"}
    assert ok == {f"room-{i}" for i in range(300)}  # --resume finished
    # The resumed runs skip what the other's log holds final (republished on Redis): only the
    # rooms one of them claimed before the other's republishing was done are sent again.
    twice_after = [room for room, sent in after["rooms"].items() if sent > 1]
    assert len(twice_after) - len(twice) <= 8, sorted(set(twice_after) - set(twice))


def test_a_live_run_of_another_version_is_refused_naming_both(tmp_path: Path) -> None:
    old = json.dumps({"runner": "h:1:a", "host": "h", "pid": 1, "started_us": 1, "apps": []})
    with redis_server() as redis, SimThread(sim_config()) as sim:
        assert redis.command("SET", "resumer:runner:h:1:a", old, "PX", "60000") == "+OK"
        done = run_cli(
            [*app_flags(sim.url), "--redis", redis.url, "-o", str(tmp_path / "log.jsonl")]
        )
        sent = app_stats(sim.stats())["requests"]
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert f"(key layout and scripts v1; this one v{PROTOCOL})" in last, done.stderr
    assert "Traceback" not in done.stderr
    assert sent == 0
