"""Runs sharing one app's budget on a real three-primary Redis Cluster, named by one node's
address; `resumer status` read from another node. Real CLIs and the simulator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from resumer.fleet.connect import NEEDED_COMMANDS
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.thread import SimThread
from tests.e2e.test_fleet import (
    _each_room_done_once,
    _runs,
    _sent_by_two_runs,
    _status,
    _until_sent,
    _wait,
    _within_budget,
)
from tests.support.e2e import app_flags, app_stats, room_lines, run_cli, sim_config, start_cli
from tests.support.servers import redis_cluster

ROOMS = 300


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_two_runs_on_a_cluster_share_the_budget_and_status_on_another_node_lists_both(
    tmp_path: Path,
) -> None:
    with redis_cluster() as nodes, SimThread(sim_config()) as sim:
        first_node, other_node = nodes[0].url, nodes[2].url
        with _runs(tmp_path, sim.url, first_node, [room_lines(ROOMS)], "--ledger", "c1") as runs:
            _until_sent(sim, 40, runs)  # the second starts late: it must see the first live
            source = tmp_path / "rooms-1.txt"
            source.write_text(room_lines(ROOMS))
            args = [*app_flags(sim.url), "--redis", first_node, "--ledger", "c1"]
            args += ["-o", str(tmp_path / "log-1.jsonl"), str(source)]
            runs.append(start_cli(args, tmp_path / "stderr-1.txt"))
            _until_sent(sim, 80, runs)
            live = _status(other_node, "--format", "json")
            _wait(runs, tmp_path)
        stats = app_stats(sim.stats())
    assert live.returncode == 0, live.stderr
    during = json.loads(live.stdout)
    assert {r["pid"] for r in during["runners"]} == {run.pid for run in runs}
    assert [a["sdkappid"] for a in during["apps"]] == [DEMO_SDKAPPID]
    _within_budget(stats, throttled=3)
    _each_room_done_once(stats, ROOMS)
    assert Counter(r["status"] for r in _all(tmp_path)) == {"ok": ROOMS}
    assert not _sent_by_two_runs(tmp_path, 2)


def _all(tmp: Path) -> list[dict[str, object]]:
    """The final record of each room, from both runs' logs (a room skipped is in neither)."""
    final: dict[str, dict[str, object]] = {}
    for n in range(2):
        for line in (tmp / f"log-{n}.jsonl").read_text().splitlines():
            record = json.loads(line)
            final[str(record["room_id"])] = record
    return list(final.values())


def test_a_cluster_node_whose_user_may_not_run_info_is_one_sentence(tmp_path: Path) -> None:
    # Without INFO the Cluster is not found out: the plain client meets MOVED at the start.
    rules = NEEDED_COMMANDS.replace(" +info", "").split()
    with redis_cluster() as nodes, SimThread(sim_config()) as sim:
        for node in nodes:
            acl = ["ACL", "SETUSER", "runner", "on", ">pw-9", "~resumer:*", *rules]
            assert node.command(*acl) == "+OK"
        url = nodes[0].url.replace("redis://", "redis://runner:pw-9@")
        rooms = tmp_path / "rooms.txt"
        rooms.write_text(room_lines(5))
        done = run_cli(
            [*app_flags(sim.url), "--redis", url, "-o", str(tmp_path / "log"), str(rooms)]
        )
        sent = app_stats(sim.stats(rooms=False))["requests"]
    assert done.returncode == 2, done.stderr
    assert "answers MOVED" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert "pw-9" not in done.stderr
    assert sent == 0
