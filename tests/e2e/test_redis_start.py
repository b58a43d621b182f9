"""What a run or `status` refuses at the start about its Redis: one sentence, exit 2, nothing
sent; and no password, in any form the URL takes it, in any output. Real CLIs, the simulator
and a real redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from resumer.fleet.connect import NEEDED_COMMANDS
from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, app_stats, cli_env, resumer, room_lines, sim_config
from tests.support.servers import RedisServer, redis_server

SECRET = "pw-s3cret-9"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
def sim() -> Iterator[SimThread]:
    with SimThread(sim_config()) as running:
        yield running


def _status(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resumer", "status", *args],
        capture_output=True,
        text=True,
        env={**cli_env(), **(env or {})},
        timeout=60,
        check=False,
    )


def _one_sentence(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_redis_without_redis_py_names_the_extra(tmp_path: Path, sim: SimThread) -> None:
    shim = tmp_path / "shim" / "redis"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('redis-py is not installed here')\n")
    env = {"PYTHONPATH": str(shim.parent)}
    url = "redis://127.0.0.1:1/0"
    ran = resumer(*app_flags(sim.url), "--redis", url, tmp=tmp_path, stdin="r1\n", env=env)
    by_env = resumer(
        *app_flags(sim.url), tmp=tmp_path, stdin="r1\n", env={**env, "RESUMER_REDIS_URL": url}
    )
    status = _status("--redis", url, env=env)
    for code, stderr in ((ran.code, ran.stderr), (by_env.code, by_env.stderr)):
        assert code == 2
        assert "pip install 'resumer[redis]'" in _one_sentence(stderr)
    assert status.returncode == 2
    assert "pip install 'resumer[redis]'" in _one_sentence(status.stderr)
    assert app_stats(sim.stats(rooms=False))["requests"] == 0


@pytest.mark.parametrize(
    ("option", "named"),
    [("?db=x", "db"), ("?socket_timeout=abc", "socket_timeout"), ("?ssl_cert_reqs=none", "ssl")],
)
def test_an_option_redis_py_refuses_is_one_sentence(
    tmp_path: Path, server: RedisServer, sim: SimThread, option: str, named: str
) -> None:
    url = server.url + option
    ran = resumer(*app_flags(sim.url), "--redis", url, tmp=tmp_path, stdin="r1\n")
    status = _status("--redis", url)
    assert ran.code == 2
    assert status.returncode == 2
    for stderr in (ran.stderr, status.stderr):
        sentence = _one_sentence(stderr)
        assert "option redis-py refuses" in sentence
        assert named in sentence
    assert app_stats(sim.stats(rooms=False))["requests"] == 0


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        (NEEDED_COMMANDS.replace(" +evalsha", ""), "evalsha"),
        (NEEDED_COMMANDS.replace(" +zadd", ""), "can't run this command"),  # inside a script
        ("+@read +ping +info", "refuses a command"),  # a read-only user
    ],
)
def test_a_user_lacking_a_command_is_one_sentence_before_any_send(
    tmp_path: Path, server: RedisServer, sim: SimThread, rules: str, named: str
) -> None:
    acl = ["ACL", "SETUSER", "runner", "on", f">{SECRET}", "~resumer:*", *rules.split()]
    assert server.command(*acl) == "+OK"
    url = server.url.replace("redis://", f"redis://runner:{SECRET}@")
    ran = resumer(*app_flags(sim.url), "--redis", url, tmp=tmp_path, stdin=room_lines(5))
    assert ran.code == 2
    sentence = _one_sentence(ran.stderr)
    assert named in sentence.lower()
    assert SECRET not in sentence
    assert app_stats(sim.stats(rooms=False))["requests"] == 0


def test_a_user_with_the_documented_commands_runs(
    tmp_path: Path, server: RedisServer, sim: SimThread
) -> None:
    acl = ["ACL", "SETUSER", "runner", "on", f">{SECRET}", "~resumer:*", *NEEDED_COMMANDS.split()]
    assert server.command(*acl) == "+OK"
    url = server.url.replace("redis://", f"redis://runner:{SECRET}@")
    ran = resumer(*app_flags(sim.url), "--redis", url, tmp=tmp_path, stdin=room_lines(5))
    assert ran.code == 0, ran.stderr
    assert all(r["status"] == "ok" for r in ran.records)
    status = _status("--redis", url)
    assert status.returncode == 0, status.stderr


def test_a_password_given_as_a_query_option_is_in_no_output(
    tmp_path: Path, server: RedisServer, sim: SimThread
) -> None:
    assert server.command("CONFIG", "SET", "requirepass", SECRET) == "+OK"
    good = f"{server.url}?password={SECRET}"
    ran = resumer(*app_flags(sim.url), "--redis", good, tmp=tmp_path, stdin=room_lines(3))
    assert ran.code == 0, ran.stderr
    started = [json.loads(line) for line in ran.stderr.splitlines() if "run_started" in line]
    assert started
    assert "password=***" in started[0]["redis"]
    table = _status("--redis", good)
    as_json = _status("--redis", good, "--format", "json")
    assert table.returncode == 0
    assert as_json.returncode == 0
    assert "password=***" in json.loads(as_json.stdout)["redis"]
    wrong = resumer(
        *app_flags(sim.url), "--redis", f"{server.url}?password=wrong-{SECRET}", tmp=tmp_path
    )
    assert wrong.code == 2
    outputs = [ran.stderr, table.stdout, table.stderr, as_json.stdout, wrong.stderr]
    outputs.append(json.dumps(ran.records))
    for text in outputs:
        assert SECRET not in text


def test_the_documented_acl_line_grants_what_the_run_calls() -> None:
    """docs/fleet.md's ACL SETUSER line is the one these tests grant."""
    docs = (Path(__file__).parents[2] / "docs" / "fleet.md").read_text(encoding="utf-8")
    assert f"~resumer:* -@all {NEEDED_COMMANDS}\n" in docs
