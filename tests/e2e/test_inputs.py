"""Validation end to end: what never reaches the API, and what is refused before anything is sent.

The real CLI as a subprocess (tests/e2e.py), against the simulator where a request could leave.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from resumer.cli import main as cli
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.thread import SimThread
from tests.support.e2e import Outcome, app_flags, app_stats, resumer, sim_config

# What an operator's list may hold besides room IDs; each is recorded invalid and never sent.
JUNK = [
    '{"RoomId": null}',
    '{"RoomId": 5}',
    "{not json",
    "room\x00with-a-nul",
    "room\x1b[2Jclears-the-screen",
    '{"RoomId": ""}',
    "x" * 49,
    '{"RoomId": null}',  # the same invalid line again: recorded once
]


def _events(run: Outcome) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.stderr.splitlines()]


def _finished(run: Outcome) -> dict[str, Any]:
    (event,) = [e for e in _events(run) if e["event"] == "run_finished"]
    return event


def test_invalid_records_fed_back_stay_invalid_and_resume_skips_them(tmp_path: Path) -> None:
    first, fed, again = tmp_path / "first", tmp_path / "fed", tmp_path / "again"
    for folder in (first, fed, again):
        folder.mkdir()
    stdin = "\n".join([*JUNK, "ok-1"]) + "\n"
    with SimThread(sim_config()) as sim:
        run = resumer(*app_flags(sim.url), tmp=first, stdin=stdin)
        invalid = [r for r in run.records if r["status"] == "invalid"]
        # `jq -c 'select(.status != "ok")' results.jsonl | resumer run -` (docs/operations.md)
        fed_back = resumer(
            *app_flags(sim.url), tmp=fed, stdin="".join(json.dumps(r) + "\n" for r in invalid)
        )
        resumed = resumer(*app_flags(sim.url), "--resume", tmp=first, stdin=stdin)
        rooms = app_stats(sim.stats())["rooms"]
    assert rooms == {"ok-1": 1}  # no junk sent, ever; the ok room not again on --resume
    assert run.code == 1, run.stderr
    assert len(invalid) == len(JUNK) - 1
    assert _finished(run)["error_codes"] == {}  # invalid rooms are not "error 0"
    assert fed_back.code == 1, fed_back.stderr
    shown = [(r["room_id"], r["error_info"]) for r in fed_back.records]
    assert shown == [(r["room_id"], r["error_info"]) for r in invalid]
    assert {r["status"] for r in fed_back.records} == {"invalid"}
    assert resumed.code == 0, resumed.stderr  # the invalid ones are final: nothing to say again
    assert resumed.records == run.records  # nothing written again
    assert _finished(resumed)["skipped"] == len(invalid) + 1


def test_a_utf16_file_without_a_bom_is_refused_and_nothing_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "rooms.txt"
    path.write_bytes("room-1\r\nroom-2\r\n".encode("utf-16-le"))  # Windows' "Unicode" save
    with SimThread(sim_config()) as sim:
        run = resumer(*app_flags(sim.url), str(path), tmp=tmp_path)
        requests = sim.stats(rooms=False)["apps"]
    assert run.code == 2
    assert run.stderr == f"resumer: input file {str(path)!r} looks like UTF-16: save it as UTF-8\n"
    assert all(a["requests"] == 0 for a in requests.values())


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://127.0.0.1:99999", "a port is from 1 to 65535"),
        ("http://", "has no host"),
        ("http://127.0.0.1:8080/?x=1", "has a query string or fragment"),
        ("http://127.0.0.1 :8080", "holds a space or a control character"),
        ("http://user:s3cret@127.0.0.1:70000", "endpoint 'http://user:***@127.0.0.1:70000'"),
    ],
)
def test_a_malformed_endpoint_is_refused_at_start_up(
    tmp_path: Path, endpoint: str, message: str
) -> None:
    run = resumer(*app_flags(endpoint), tmp=tmp_path, stdin="room-1\n", timeout=30)
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert "s3cret" not in run.stderr
    assert run.records == []


def test_credentials_in_the_endpoint_never_reach_the_log(tmp_path: Path) -> None:
    with SimThread(sim_config()) as sim:
        endpoint = sim.url.replace("http://", "http://operator:s3cret@")
        run = resumer(*app_flags(endpoint), tmp=tmp_path, stdin="room-1\n")
    assert run.code == 0, run.stderr
    (started,) = [e for e in _events(run) if e["event"] == "run_started"]
    assert started["endpoint"] == sim.url.replace("http://", "http://operator:***@")
    assert "s3cret" not in run.stderr


@pytest.mark.parametrize(
    ("config_text", "key_file", "message"),
    [
        ('region = ["china"]', None, "config key 'region' must be a string"),
        ("concurrency = 2.7", None, "config key 'concurrency' must be a whole number"),
        ("max_attempts = 2.5", None, "config key 'max_attempts' must be a whole number"),
        ("# caf\xe9", None, "is not UTF-8 text"),
        ("", "/dev/zero", "secret_key_file '/dev/zero' is not a regular file"),
        ("", b"cl\xe9", "key' is not UTF-8 text"),
    ],
)
def test_a_bad_config_or_key_file_is_one_sentence_exit_2(
    tmp_path: Path, config_text: str, key_file: str | bytes | None, message: str
) -> None:
    config = tmp_path / "resumer.toml"
    if isinstance(key_file, bytes):
        (tmp_path / "key").write_bytes(key_file)
    source = f'secret_key_file = "{key_file if isinstance(key_file, str) else "key"}"'
    app = f'[[apps]]\nsdkappid = {DEMO_SDKAPPID}\nidentifier = "a"\n'
    app += source if key_file else 'secret_key_env = "K"'
    text = f'endpoint = "http://127.0.0.1:9"\n{config_text}\n{app}\n'
    config.write_bytes(text.encode("latin-1"))
    run = resumer("-c", str(config), tmp=tmp_path, stdin="room-1\n", env={"K": "k"}, timeout=30)
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_a_key_file_others_may_read_is_used_with_one_warning(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("resumer-demo-secret-key\n")
    key.chmod(0o644)
    with SimThread(sim_config()) as sim:
        config = tmp_path / "resumer.toml"
        config.write_text(
            f'endpoint = "{sim.url}"\n[[apps]]\nsdkappid = {DEMO_SDKAPPID}\n'
            'identifier = "administrator"\nsecret_key_file = "key"\n'
        )
        run = resumer("-c", str(config), tmp=tmp_path, stdin="room-1\n")
    assert run.code == 0, run.stderr
    (warning,) = [e for e in _events(run) if e["level"] == "warning"]
    assert warning["message"] == f"permissions 0644 on {key} are too open: chmod 600 {key}"


def test_the_dry_run_routes_invalid_lines_as_the_run_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text("\n".join([*JUNK, "new", "done"]) + "\n")
    final = [{"sdkappid": DEMO_SDKAPPID, "room_id": "done", "status": "ok"}]
    final.append({"sdkappid": DEMO_SDKAPPID, "room_id": "null", "status": "invalid"})
    log.write_text("".join(json.dumps(r) + "\n" for r in final))
    monkeypatch.setattr(os, "environ", {**os.environ, "RESUMER_SECRET_KEY": "k"})
    flags = [*app_flags("http://127.0.0.1:9"), str(rooms), "-o", str(log), "--resume"]
    assert cli.main(["run", *flags, "--dry-run"]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert plan[0].startswith(
        f"app {DEMO_SDKAPPID}: 1 rooms to resume, 2 already final, 1 duplicates, 6 invalid;"
    )
