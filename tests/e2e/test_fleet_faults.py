"""Several runs on one Redis when a process or Redis fails: real CLIs, the simulator and a real
redis-server, counting what reached the API (the simulator's arrivals per room)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from resumer.sim.thread import SimThread
from tests.e2e.test_fleet import _event, _records, _runs, _until_sent, _wait, _within_budget
from tests.support.e2e import app_stats, room_lines, sim_config
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
