"""`resumer run` end to end: the real CLI, the real HTTP stack, the simulator on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resumer.sim.config import Latency
from resumer.sim.profiles import DEMO_SDKAPPID, DEMO_SDKAPPID_2
from resumer.sim.thread import SimThread
from tests.support.e2e import Outcome, app_flags, app_stats, resumer, room_lines, sim_config


def assert_within_budget(stats: dict[str, Any]) -> None:
    """Never over 20 arrivals at the simulator in any 1 s window, so never a 100422.

    How close to the budget the run paces is measured on virtual time (tests/pace) and by the
    benchmarks: on a loaded machine the achieved rate says more about the load than the code.
    """
    assert stats["max_arrivals_1s"] <= 20, stats
    assert "100422" not in stats["by_code"], stats["by_code"]


def assert_each_room_ok_once(run: Outcome, stats: dict[str, Any], rooms: int) -> None:
    """Every room ended ok, and the simulator saw one request for each."""
    assert len(run.records) == rooms
    assert {r["status"] for r in run.records} == {"ok"}
    assert set(stats["rooms"].values()) == {1}
    assert set(stats["rooms"]) == set(run.statuses())


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_400_rooms_at_the_budget_with_slow_replies(tmp_path: Path) -> None:
    with SimThread(sim_config(latency=Latency(min_ms=0, max_ms=400), seed=1)) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(400))
        stats = app_stats(sim.stats())
    assert run.code == 0, run.stderr
    assert_each_room_ok_once(run, stats, 400)
    assert all(r["request_id"].startswith("Id-") for r in run.records)
    assert stats["by_code"] == {"0": 400}
    assert_within_budget(stats)


def test_transient_failures_cost_exactly_their_retries_and_refusals_are_final(
    tmp_path: Path,
) -> None:
    scripts = {
        "twice-100001": ("100001", "100001"),
        "once-100424": ("100424",),
        "once-100427": ("100427",),
        "once-502": ("http502",),
        **{f"refused-{c}": (str(c),) for c in (100002, 100004, 100006, 100428, 100429)},
    }
    with SimThread(sim_config(scripts=scripts)) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin="\n".join(scripts) + "\nplain\n")
        rooms = app_stats(sim.stats())["rooms"]
    assert run.code == 1, run.stderr
    expected_attempts = {"twice-100001": 3, "once-100424": 2, "once-100427": 2, "once-502": 2}
    for room, attempts in expected_attempts.items():
        assert (run.by_room()[room]["status"], rooms[room]) == ("ok", attempts)
        assert run.by_room()[room]["attempts"] == attempts
    for code in (100002, 100004, 100006, 100428, 100429):
        record = run.by_room()[f"refused-{code}"]
        assert (record["status"], record["error_code"], rooms[f"refused-{code}"]) == (
            "rejected",
            code,
            1,
        )
    assert run.by_room()["plain"]["status"] == "ok"
    events = [json.loads(line) for line in run.stderr.splitlines()]
    finished = [e for e in events if e["event"] == "run_finished"]
    assert finished[0]["statuses"] == {"ok": 5, "rejected": 5}
    assert {"run_started", "retrying"} <= {e["event"] for e in events}


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_sharing_the_budget_with_a_neighbour_it_backs_off_and_every_room_ends_ok(
    tmp_path: Path,
) -> None:
    config = sim_config(neighbour_rate=12, latency=Latency(min_ms=20, max_ms=120), seed=3)
    with SimThread(config) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(200))
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 0, run.stderr
    assert {r["status"] for r in run.records} == {"ok"}
    assert len(run.records) == 200
    # What the pacer settles at beside the neighbour is measured on virtual time
    # (tests/pace/test_shared_budget.py); here: it backs off, so throttles stay few.
    throttled = stats["by_code"].get("100422", 0)
    assert throttled / stats["requests"] <= 0.10
    assert stats["by_code"]["0"] == 200  # a throttled request is tried again; no room twice
    assert stats["max_accepted_1s"] <= 20


def test_a_wrong_secret_key_stops_the_app_at_once_with_a_sentence_naming_70009(
    tmp_path: Path,
) -> None:
    # Replies take 100 ms: at full pace two would be in flight before the first came back.
    with SimThread(sim_config(latency=Latency(min_ms=100, max_ms=100))) as sim:
        run = resumer(
            *app_flags(sim.url),
            tmp=tmp_path,
            stdin=room_lines(200),
            env={"RESUMER_SECRET_KEY": "not-the-key"},
        )
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 3
    assert stats["requests"] == 1  # the first request goes alone: one 70009, not a lock-out
    assert "70009" in run.stderr
    assert "wrong secret key or SDKAppID" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.records) == 200
    assert {r["status"] for r in run.records} == {"aborted"}
    assert "not-the-key" not in run.stderr


BAD_LINES = [
    "",
    "# a comment",
    "   ",
    "x" * 49,
    '{"RoomId": 42}',
    '{"RoomId": ""}',
    '{"RoomId": "ok-json", "sdkappid": 1400000001}',
    "{not json",
    '{"room_id": "snake-json"}',
]


def test_bad_input_and_broken_replies_never_lose_a_room(tmp_path: Path) -> None:
    kinds = ("html", "empty", "truncated", "code_not_int", "huge", "not_object", "missing_code")
    scripts = {f"broken-{k}": (k,) for k in (*kinds, "http503")}
    stdin = "\ufeff" + "\r\n".join([*BAD_LINES, *scripts, "dup", "dup"]) + "\r\n"
    stdin_bytes_invalid = "valid-after-bom"
    with SimThread(sim_config(scripts=scripts)) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=stdin + stdin_bytes_invalid)
        rooms = app_stats(sim.stats())["rooms"]
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    statuses = run.statuses()
    assert statuses["x" * 49] == "invalid"
    assert statuses["42"] == "invalid"
    assert statuses[""] == "invalid"
    assert statuses["ok-json"] == statuses["snake-json"] == "ok"
    assert [s for r, s in statuses.items() if r.startswith("{not")] == ["invalid"]
    for room in scripts:
        assert (statuses[room], rooms[room]) == ("ok", 2)  # the broken reply, then ok
    assert rooms["dup"] == 1
    assert [r["room_id"] for r in run.records].count("dup") == 1
    assert statuses["valid-after-bom"] == "ok"
    assert set(rooms) == {r for r, s in statuses.items() if s != "invalid"}  # invalid never sent


def test_two_apps_from_a_config_file_each_at_their_own_budget(tmp_path: Path) -> None:
    with SimThread(sim_config()) as sim:
        config = tmp_path / "resumer.toml"
        config.write_text(
            f'endpoint = "{sim.url}"\n'
            f'[[apps]]\nsdkappid = {DEMO_SDKAPPID}\nidentifier = "administrator"\n'
            'secret_key_env = "KEY_1"\n'
            f'[[apps]]\nsdkappid = {DEMO_SDKAPPID_2}\nidentifier = "administrator"\n'
            'secret_key_file = "key2.txt"\n'
        )
        (tmp_path / "key2.txt").write_text("resumer-demo-secret-key-2\n")  # beside the config
        lines = [f'{{"RoomId": "a-{i}", "sdkappid": {DEMO_SDKAPPID}}}' for i in range(200)]
        lines += [f'{{"RoomId": "b-{i}", "sdkappid": {DEMO_SDKAPPID_2}}}' for i in range(200)]
        run = resumer(
            "-c",
            str(config),
            tmp=tmp_path,
            stdin="\n".join(lines),
            env={"KEY_1": "resumer-demo-secret-key"},
        )
        stats = sim.stats(rooms=False)
    assert run.code == 0, run.stderr
    assert len(run.records) == 400
    assert {r["status"] for r in run.records} == {"ok"}
    for sdkappid in (DEMO_SDKAPPID, DEMO_SDKAPPID_2):
        app = app_stats(stats, sdkappid)
        assert app["by_code"] == {"0": 200}  # one request each, none throttled
        assert_within_budget(app)


@pytest.mark.parametrize(
    ("args", "config_text", "message"),
    [
        ([], "this is = not toml [", "not valid TOML"),
        ([], 'colour = "blue"\nregion = "china"', "unknown config key colour"),
        (["--rate", "25"], "", "between 0.1 and 20"),
        ([], 'region = "mars"', "unknown region 'mars'"),
        (["--region", "singapore"], "", "RESUMER_SECRET_KEY"),
        (["missing-file.txt"], "", "does not exist"),
    ],
)
def test_config_errors_exit_2_with_one_sentence_and_send_nothing(
    tmp_path: Path, args: list[str], config_text: str, message: str
) -> None:
    with SimThread(sim_config()) as sim:
        flags = ["--sdkappid", str(DEMO_SDKAPPID), "--identifier", "administrator"]
        if config_text:
            config = tmp_path / "bad.toml"
            app = '[[apps]]\nsdkappid = 1400000001\nidentifier = "a"\nsecret_key_env = "K"\n'
            config.write_text(f"{config_text}\n{app}")
            flags = ["-c", str(config)]
        elif "--region" not in args:
            flags += ["--endpoint", sim.url]
        env = {"RESUMER_SECRET_KEY": ""} if "--region" in args else None
        run = resumer(*flags, *args, tmp=tmp_path, stdin="room-1\n", env=env)
        requests = sim.stats(rooms=False)["apps"]
    assert run.code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not requests or all(a["requests"] == 0 for a in requests.values())
