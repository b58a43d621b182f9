"""`--dry-run` with `--redis` connects as the run would, counts the rooms final in the ledger
and the runs live on the app, and refuses what the real run would; it also binds --metrics.
Real CLIs, the simulator and a real redis-server."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, app_stats, room_lines, run_cli, sim_config, start_cli
from tests.support.servers import free_port, redis_server

DEADLINE = 30.0  # seconds for a background run to be seen live


def _sentence(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_the_dry_run_counts_the_rooms_final_in_the_ledger(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    with redis_server() as redis, SimThread(sim_config()) as sim:
        rooms.write_text(room_lines(10))
        common = [*app_flags(sim.url), "--redis", redis.url, "--ledger", "nightly"]
        first = run_cli([*common, str(rooms), "-o", str(tmp_path / "first.jsonl")])
        assert first.returncode == 0, first.stderr
        rooms.write_text(room_lines(15))
        plan = run_cli([*common, str(rooms), "--dry-run"])
        other = run_cli([*app_flags(sim.url), "--redis", redis.url, str(rooms), "--dry-run"])
        sent = app_stats(sim.stats(rooms=False))["requests"]
    assert plan.returncode == 0, plan.stderr
    assert "15 rooms to resume" in plan.stdout
    assert "10 of the rooms to resume final in ledger nightly (would be skipped)" in plan.stdout
    assert "0 runs live on this app" in plan.stdout
    assert "0 of the rooms to resume final in no --ledger" in other.stdout
    assert sent == 10  # the first run's only: the dry runs sent nothing


def test_the_dry_run_sees_a_run_live_on_the_app(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(400))
    with redis_server() as redis, SimThread(sim_config()) as sim:
        flags = [*app_flags(sim.url), "--redis", redis.url]
        running = start_cli(
            [*flags, str(rooms), "-o", str(tmp_path / "log.jsonl")], tmp_path / "stderr.txt"
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while True:
                plan = run_cli([*flags, str(rooms), "--dry-run"])
                assert plan.returncode == 0, plan.stderr
                if "1 run live on this app" in plan.stdout:
                    break
                assert time.monotonic() < deadline, plan.stdout
        finally:
            running.kill()
            running.wait(timeout=10)


def test_the_dry_run_refuses_an_unreachable_redis(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(3))
    gone = f"redis://127.0.0.1:{free_port()}/0"
    plan = run_cli([*app_flags("http://127.0.0.1:9"), "--redis", gone, str(rooms), "--dry-run"])
    assert plan.returncode == 2
    assert "cannot reach Redis" in _sentence(plan.stderr)


def test_the_dry_run_refuses_a_metrics_port_in_use(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(3))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        flags = [*app_flags("http://127.0.0.1:9"), str(rooms), "--dry-run"]
        plan = run_cli([*flags, "--metrics", f"127.0.0.1:{port}"])
    free = run_cli([*flags, "--metrics", f"127.0.0.1:{free_port()}"])
    assert plan.returncode == 2
    assert f"cannot listen on --metrics 127.0.0.1:{port}" in _sentence(plan.stderr)
    assert free.returncode == 0, free.stderr
