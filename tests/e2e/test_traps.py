"""What an operator adds around a run cannot hang it or make it lie: the real CLI, the simulator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from resumer.sim.thread import SimThread
from tests.support.e2e import (
    app_flags,
    poll,
    read_log,
    resumer,
    room_lines,
    sim_config,
    start_cli,
)

FINAL_PUSH_BOUND = 3.0  # seconds the final push may add to a run (FINAL_PUSH_TIMEOUT)


@contextmanager
def tcp_server(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A server on a free loopback port, one thread per connection; its http:// URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn, stop), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """Read the request, then send one byte every 0.5 s until told to stop."""
    with conn:
        conn.recv(65536)
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        for byte in reply:
            if stop.wait(0.5):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return


def not_http(conn: socket.socket, _stop: threading.Event) -> None:
    with conn:
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def events(stderr: str, name: str) -> list[dict[str, object]]:
    found = (json.loads(line) for line in stderr.splitlines() if line.startswith("{"))
    return [e for e in found if e.get("event") == name]


def test_a_pushgateway_that_trickles_costs_the_run_at_most_the_final_push_deadline(
    tmp_path: Path,
) -> None:
    with tcp_server(trickle) as gateway, SimThread(sim_config()) as sim:
        started = time.monotonic()
        run = resumer(
            *app_flags(sim.url), "--metrics-push", gateway, tmp=tmp_path, stdin=room_lines(40)
        )
        took = time.monotonic() - started
    assert run.code == 0, run.stderr
    assert len(run.records) == 40
    assert took < 10 + FINAL_PUSH_BOUND, f"the run took {took:.1f} s"
    (warning,) = events(run.stderr, "metrics_push_failed")
    assert warning["error"] == f"no answer within {FINAL_PUSH_BOUND:g} s"
    assert events(run.stderr, "run_finished")


def test_one_sigterm_during_the_final_push_stops_the_run_cleanly(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(20))
    log, stderr = tmp_path / "results.jsonl", tmp_path / "stderr.txt"
    with tcp_server(trickle) as gateway, SimThread(sim_config()) as sim:
        args = [*app_flags(sim.url), "--metrics-push", gateway, str(rooms), "-o", str(log)]
        process = start_cli(args, stderr)
        try:
            poll(lambda: log.exists() and len(read_log(log)[0]) == 20, "20 records", process)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=FINAL_PUSH_BOUND + 5)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = stderr.read_text()
    assert code in (0, 143), text
    assert "Traceback" not in text
    assert events(text, "run_finished")


def test_a_pushgateway_that_answers_something_else_is_a_warning_not_a_traceback(
    tmp_path: Path,
) -> None:
    with tcp_server(not_http) as gateway, SimThread(sim_config()) as sim:
        run = resumer(
            *app_flags(sim.url), "--metrics-push", gateway, tmp=tmp_path, stdin=room_lines(30)
        )
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.records) == 30
    (warning,) = events(run.stderr, "metrics_push_failed")
    assert warning["error"] == "the reply was not HTTP (BadStatusLine)"
    assert events(run.stderr, "run_finished")


def test_a_pushgateway_behind_basic_auth_gets_the_user_and_password(tmp_path: Path) -> None:
    heads: list[bytes] = []

    def gateway(conn: socket.socket, _stop: threading.Event) -> None:
        with conn:
            heads.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    with tcp_server(gateway) as url, SimThread(sim_config()) as sim:
        push = url.replace("http://", "http://ops:secret@")
        run = resumer(*app_flags(sim.url), "--metrics-push", push, tmp=tmp_path, stdin="r1\n")
    assert run.code == 0, run.stderr
    assert not events(run.stderr, "metrics_push_failed")
    assert b"Authorization: Basic b3BzOnNlY3JldA==\r\n" in heads[0]  # ops:secret
    assert "secret" not in run.stderr


def config_file(tmp_path: Path, codes: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[codes]\n{codes}\n[[apps]]\nsdkappid = 1400000001\nidentifier = "administrator"\n'
        'secret_key_env = "RESUMER_SECRET_KEY"\n'
    )
    return config


def test_a_throttle_code_made_final_is_refused_in_one_sentence(tmp_path: Path) -> None:
    config = config_file(tmp_path, "reject = [100422]")
    with SimThread(sim_config()) as sim:
        run = resumer("-c", str(config), "--endpoint", sim.url, tmp=tmp_path, stdin="r1\n")
        requests = sim.stats(rooms=False)["apps"]
    assert run.code == 2
    assert "[codes] reject lists 100422, a throttle code" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert all(a["requests"] == 0 for a in requests.values())


def test_a_fatal_code_moved_to_retry_is_warned_about_at_start(tmp_path: Path) -> None:
    config = config_file(tmp_path, "retry = [70050]")
    with SimThread(sim_config()) as sim:
        run = resumer("-c", str(config), "--endpoint", sim.url, tmp=tmp_path, stdin="r1\n")
    assert run.code == 0, run.stderr
    (warning,) = events(run.stderr, "codes_moved")
    assert warning["code"] == 70050
    assert "each room sends it up to max_attempts times" in str(warning["message"])
    first = json.loads(run.stderr.splitlines()[0])
    assert first["event"] == "codes_moved"  # before run_started: said before anything is sent


def test_a_config_file_that_is_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with SimThread(sim_config()) as sim:
        run = resumer("-c", str(fifo), "--endpoint", sim.url, tmp=tmp_path, timeout=20)
    assert run.code == 2
    assert f"config file '{fifo}' is not a regular file" in run.stderr


def test_a_report_over_a_clock_step_says_so_and_keeps_finished_per_second_true(
    tmp_path: Path,
) -> None:
    with SimThread(sim_config()) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(40))
    assert run.code == 0, run.stderr
    # the host's clock stepped 3 h forward after the first 20 records: wall time in the log
    log = tmp_path / "results.jsonl"
    records = run.records
    for record in records[20:]:
        record["ts"] = "2026-11-24T13:00:00.000Z"
    for record in records[:20]:
        record["ts"] = "2026-11-24T10:00:00.000Z"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = subprocess.run(
        [sys.executable, "-m", "resumer", "report", "--format", "json", str(log)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    total = json.loads(done.stdout)["total"]
    assert (total["duration_s"], total["paused_s"]) == (10800.0, 10799.0)
    assert total["rate"] == 40.0  # over the one second the records were written in
    shown = subprocess.run(
        [sys.executable, "-m", "resumer", "report", str(log)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "the records pause once for over 5 minutes, 2:59:59 in all" in shown.stdout
