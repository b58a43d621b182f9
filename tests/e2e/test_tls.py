"""Runs through `rediss://` with an ACL user and a CA the test made: the budget shared, the
password in no output; a wrong CA is one sentence. Real CLIs, the simulator, a real
redis-server with TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from resumer.fleet.connect import NEEDED_COMMANDS
from resumer.sim.thread import SimThread
from tests.e2e.test_fleet import (
    _each_room_done_once,
    _runs,
    _sent_by_two_runs,
    _status,
    _wait,
    _within_budget,
)
from tests.support.e2e import app_flags, app_stats, room_lines, run_cli, sim_config
from tests.support.servers import RedisServer, free_port, redis_server, tls_files, tls_flags

SECRET = "tls-pw-7731"
ROOMS = 200


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[RedisServer, dict[str, Path], int]]:
    certs = tmp_path / "certs"
    certs.mkdir()
    files = tls_files(certs)
    port = free_port()
    with redis_server(tls_flags(files, port)) as server:
        acl = ["ACL", "SETUSER", "runner", "on", f">{SECRET}", "~resumer:*", "-@all"]
        assert server.command(*acl, *NEEDED_COMMANDS.split()) == "+OK"
        yield server, files, port


def _url(files: dict[str, Path], port: int, ca: str = "ca") -> str:
    return (
        f"rediss://runner:{SECRET}@127.0.0.1:{port}/0?ssl_ca_certs={files[ca]}"
        f"&ssl_certfile={files['client_cert']}&ssl_keyfile={files['client_key']}"
        "&ssl_cert_reqs=required"
    )


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_two_runs_through_tls_with_an_acl_user_share_the_budget(
    tmp_path: Path, tls: tuple[RedisServer, dict[str, Path], int]
) -> None:
    _server, files, port = tls
    url = _url(files, port)
    with SimThread(sim_config()) as sim:
        with _runs(tmp_path, sim.url, url, [room_lines(ROOMS)] * 2) as runs:
            _wait(runs, tmp_path)
        status = _status(url, "--format", "json")
        stats = app_stats(sim.stats())
    _within_budget(stats, throttled=3)
    _each_room_done_once(stats, ROOMS)
    assert not _sent_by_two_runs(tmp_path, 2)
    assert status.returncode == 0, status.stderr
    outputs = [status.stdout, status.stderr]
    outputs += [(tmp_path / f"stderr-{n}.txt").read_text() for n in range(2)]
    outputs += [(tmp_path / f"log-{n}.jsonl").read_text() for n in range(2)]
    assert all(SECRET not in text for text in outputs)
    assert "runner:***@" in outputs[2]


@pytest.mark.parametrize("ca", ["other_ca", "missing", "garbage"])
def test_a_wrong_missing_or_garbage_ca_is_one_sentence(
    tmp_path: Path, tls: tuple[RedisServer, dict[str, Path], int], ca: str
) -> None:
    _server, files, port = tls
    files = {**files, "missing": tmp_path / "nowhere.crt", "garbage": tmp_path / "garbage.crt"}
    files["garbage"].write_text("not a certificate\n")
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(3))
    with SimThread(sim_config()) as sim:
        flags = [*app_flags(sim.url), "--redis", _url(files, port, ca), str(rooms)]
        done = run_cli([*flags, "-o", str(tmp_path / "log.jsonl")])
        sent = app_stats(sim.stats(rooms=False))["requests"]
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr
    assert sent == 0
