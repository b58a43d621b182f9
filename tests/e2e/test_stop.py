"""Stopping `resumer run` end to end: forced exits, slow replies, input that is slow or absent.

The real CLI as a subprocess against the simulator on 127.0.0.1, as in tests/test_e2e_long.py
(whose helpers these tests share). After every stop, `--resume` against a fresh simulator must
send exactly the rooms without an `ok` record: none twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

from resumer.api.usersig import make_usersig
from resumer.sim.config import Latency
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from resumer.sim.thread import SimThread
from tests.support.e2e import (
    DEADLINE,
    all_rooms,
    app_flags,
    app_stats,
    cli_command,
    cli_env,
    ok_rooms,
    poll,
    read_log,
    resumer,
    room_lines,
    run_cli,
    sim_config,
    start_cli,
)

ROOMS = 120


def _resume_sends_only_the_rooms_not_ok(args: list[str], log: Path, count: int) -> None:
    """--resume, against a fresh simulator: every room without an ok record once, no other."""
    before, _ = read_log(log)
    ok_before = set(ok_rooms(before))
    with SimThread(sim_config()) as sim:
        second = run_cli([*_with_endpoint(args, sim.url), "--resume"])
        sent = app_stats(sim.stats())["rooms"]
    assert second.returncode == 0, second.stderr
    assert sent == dict.fromkeys(all_rooms(count) - ok_before, 1)
    records, _ = read_log(log)
    assert sorted(ok_rooms(records)) == sorted(all_rooms(count))  # one ok each


def _with_endpoint(args: list[str], url: str) -> list[str]:
    at = args.index("--endpoint")
    return [*args[: at + 1], url, *args[at + 2 :]]


def _every_request_has_its_record(records: list[dict[str, Any]], arrived: dict[str, int]) -> None:
    """Each room the API saw has a record that counts at least the requests it saw."""
    attempts = {r["room_id"]: r["attempts"] for r in records}
    missing = set(arrived) - set(attempts)
    assert not missing, f"{len(missing)} rooms sent without a record: {sorted(missing)[:5]}"
    short = {room: (attempts[room], n) for room, n in arrived.items() if attempts[room] < n}
    assert not short, f"records that count fewer requests than were sent: {short}"


def test_sigterm_delivered_twice_at_once_still_lets_the_requests_in_flight_finish(
    tmp_path: Path,
) -> None:
    # GNU timeout and CI runners signal the child and then its process group: two at once.
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(ROOMS))
    slow = Latency(min_ms=200, max_ms=600)  # so that requests are really in flight
    with SimThread(sim_config(latency=slow, seed=21)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log)]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: log.exists() and log.read_bytes().count(b"\n") >= 20, "20 records", first)
        first.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # delivered apart (two pending SIGTERMs would merge into one)
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=DEADLINE)
        arrived = app_stats(sim.stats())["rooms"]
    stderr = (tmp_path / "first.err").read_text()
    assert code == 143, stderr
    records, torn = read_log(log)
    assert not torn
    assert {r["status"] for r in records} == {"ok"}  # every request in flight finished
    _every_request_has_its_record(records, arrived)
    _resume_sends_only_the_rooms_not_ok(args, log, ROOMS)


def test_a_second_sigint_a_moment_later_quits_and_records_the_rooms_in_flight(
    tmp_path: Path,
) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(ROOMS))
    # A third of the requests get no reply: at the stop, some are in flight for up to 6 s.
    with SimThread(sim_config(faults={"hang": 0.3}, seed=22)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log), "--timeout", "6"]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: log.exists() and log.read_bytes().count(b"\n") >= 10, "10 records", first)
        first.send_signal(signal.SIGINT)
        time.sleep(1.5)  # a person pressing Ctrl-C again
        assert first.poll() is None, "the run ended before the second Ctrl-C"
        signalled = time.monotonic()
        first.send_signal(signal.SIGINT)
        code = first.wait(timeout=DEADLINE)
        quitting = time.monotonic() - signalled
        arrived = app_stats(sim.stats())["rooms"]
    stderr = (tmp_path / "first.err").read_text()
    assert code == 130, stderr
    assert quitting < 2.0, f"took {quitting:.1f} s to quit"
    assert '"quitting"' in stderr
    assert "Traceback" not in stderr
    records, torn = read_log(log)
    assert not torn
    aborted = [r for r in records if r["status"] == "aborted"]
    assert aborted, "no request was in flight at the second Ctrl-C"
    assert all(r["attempts"] >= 1 for r in aborted)
    _every_request_has_its_record(records, arrived)
    _resume_sends_only_the_rooms_not_ok(args, log, ROOMS)


def test_sighup_stops_like_sigterm_and_exits_129(tmp_path: Path) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(ROOMS))
    with SimThread(sim_config(latency=Latency(min_ms=0, max_ms=400), seed=23)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log)]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: log.exists() and log.read_bytes().count(b"\n") >= 20, "20 records", first)
        first.send_signal(signal.SIGHUP)  # the SSH session dropped
        code = first.wait(timeout=DEADLINE)
        arrived = app_stats(sim.stats())["rooms"]
    stderr = (tmp_path / "first.err").read_text()
    assert code == 129, stderr
    records, _ = read_log(log)
    assert {r["status"] for r in records} == {"ok"}
    _every_request_has_its_record(records, arrived)
    _resume_sends_only_the_rooms_not_ok(args, log, ROOMS)


def test_the_grace_after_a_stop_lets_a_slow_reply_finish(tmp_path: Path) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    count = 700  # more than the app's queue holds: the input is still being read at the stop
    rooms.write_text(room_lines(count))
    slow_rooms = {f"room-{i}" for i in range(30, 40)}
    config = sim_config(
        latency=Latency(slow_ms=7000),  # over the old 5 s grace, under the 8 s timeout
        scripts=dict.fromkeys(slow_rooms, ("slow",)),
        seed=24,
    )
    with SimThread(config) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log), "--timeout", "8"]
        first = start_cli(args, tmp_path / "first.err")
        poll(lambda: "room-30" in app_stats(sim.stats())["rooms"], "room-30 sent", first)
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=DEADLINE)
        arrived = app_stats(sim.stats())["rooms"]
    stderr = (tmp_path / "first.err").read_text()
    assert code == 143, stderr
    records, _ = read_log(log)
    by_room = {r["room_id"]: r for r in records}
    assert by_room["room-30"]["status"] == "ok"  # answered 7 s after it was sent
    assert {r["status"] for r in records} == {"ok"}
    assert {r["attempts"] for r in records} == {1}
    _every_request_has_its_record(records, arrived)
    plan = run_cli([*args, "--resume", "--dry-run"])  # a real --resume would take half a minute
    assert f"{count - len(records)} rooms to resume, {len(records)} already final" in plan.stdout


def test_a_stop_while_stdin_has_no_writer_ends_the_run(tmp_path: Path) -> None:
    err = tmp_path / "run.err"
    with SimThread(sim_config()) as sim, err.open("wb") as stderr:
        run = subprocess.Popen(
            cli_command(*app_flags(sim.url), "-", "-o", str(tmp_path / "results.jsonl")),
            stdin=subprocess.PIPE,  # held open, never written: a terminal nobody types at
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(),
        )
        assert run.stdin is not None
        poll(lambda: b"run_started" in err.read_bytes(), "run_started", run)
        run.send_signal(signal.SIGTERM)
        try:
            code = run.wait(timeout=15)
        finally:
            run.kill()
            run.stdin.close()
    text = err.read_text()
    assert code == 143, text
    assert "Traceback" not in text
    assert "Fatal Python error" not in text


def test_a_slow_producers_line_is_sent_before_the_next_one_comes(tmp_path: Path) -> None:
    log = tmp_path / "results.jsonl"
    with SimThread(sim_config()) as sim, (tmp_path / "run.err").open("wb") as stderr:
        run = subprocess.Popen(
            cli_command(*app_flags(sim.url), "-", "-o", str(log)),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(),
        )
        assert run.stdin is not None
        run.stdin.write(b"room-0\n")  # (echo room-0; sleep ...; echo room-1) | resumer run -
        run.stdin.flush()
        poll(lambda: log.exists() and b"room-0" in log.read_bytes(), "room-0's record", run)
        assert app_stats(sim.stats())["rooms"] == {"room-0": 1}
        run.stdin.write(b"room-1\n")
        run.stdin.close()
        code = run.wait(timeout=DEADLINE)
    records, _ = read_log(log)
    assert code == 0
    assert [(r["room_id"], r["status"]) for r in records] == [("room-0", "ok"), ("room-1", "ok")]


def test_a_closed_stdin_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with SimThread(sim_config()) as sim:
        run = subprocess.run(
            cli_command(*app_flags(sim.url), "-o", str(tmp_path / "results.jsonl")),
            preexec_fn=lambda: os.close(0),  # resumer run - <&-
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=DEADLINE,
            check=False,
        )
        stats = app_stats(sim.stats(rooms=False))
    assert run.returncode == 2, run.stderr
    assert "standard input is closed" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert stats["requests"] == 0


def test_a_ready_usersig_with_input_from_a_pipe_resumes_every_room(tmp_path: Path) -> None:
    usersig = make_usersig(
        sdkappid=DEMO_SDKAPPID,
        identifier=DEMO_IDENTIFIER,
        secret_key=DEMO_SECRET_KEY,
        now=int(time.time()),
        expire=3600,
    )
    with SimThread(sim_config()) as sim:
        run = resumer(  # /dev/stdin is the pipe, as /dev/fd/63 is for `resumer run <(cmd)`
            *app_flags(sim.url),
            "/dev/stdin",
            tmp=tmp_path,
            stdin=room_lines(5),
            env={"RESUMER_SECRET_KEY": "", "RESUMER_USERSIG": usersig},
        )
    assert run.code == 0, run.stderr
    assert run.statuses() == dict.fromkeys(all_rooms(5), "ok")


def test_a_terminal_that_hangs_up_stops_the_run_with_every_record(tmp_path: Path) -> None:
    # An SSH session that drops: the run's terminal hangs up, the kernel sends SIGHUP, and
    # writing to the terminal fails from then on. The live display is on, as at a terminal.
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(ROOMS))
    master, terminal = pty.openpty()
    shown: list[bytes] = []
    drained = threading.Thread(target=_drain, args=(master, shown), daemon=True)
    with SimThread(sim_config(latency=Latency(min_ms=0, max_ms=400), seed=25)) as sim:
        args = [*app_flags(sim.url), str(rooms), "-o", str(log)]
        first = subprocess.Popen(
            [sys.executable, "-m", "resumer", "run", *args],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=cli_env(),
            start_new_session=True,  # a session of its own, led by the run ...
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509  (on it)
        )
        os.close(terminal)
        drained.start()
        poll(lambda: log.exists() and log.read_bytes().count(b"\n") >= 20, "20 records", first)
        os.close(master)  # hang up
        code = first.wait(timeout=DEADLINE)
        arrived = app_stats(sim.stats())["rooms"]
    assert code == 129, b"".join(shown)[-3000:].decode(errors="replace")
    records, torn = read_log(log)
    assert not torn
    assert {r["status"] for r in records} == {"ok"}
    _every_request_has_its_record(records, arrived)
    _resume_sends_only_the_rooms_not_ok([*args], log, ROOMS)


def _drain(master: int, shown: list[bytes]) -> None:
    """Read the terminal's output, as the SSH server would, until it hangs up."""
    with contextlib.suppress(OSError):
        while chunk := os.read(master, 65536):
            shown.append(chunk)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_start_up_waits_for_the_input_exits_130_quietly(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms"
    os.mkfifo(rooms)  # --dry-run counts the input before anything else: it waits for a writer
    err = tmp_path / "run.err"
    with err.open("wb") as stderr:
        run = subprocess.Popen(
            cli_command(*app_flags("http://127.0.0.1:9"), str(rooms), "--dry-run"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(),
            # A suite started in the background (`cmd &` in a script) ignores SIGINT, and so
            # would this child, as Unix wants: Ctrl-C's default, as at a terminal, is the case.
            preexec_fn=_default_sigint,  # noqa: PLW1509  (no threads of the test's own here)
        )
        time.sleep(1.0)  # past the imports, waiting in open(); a Ctrl-C earlier is quiet too
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=DEADLINE)
    assert code == 130
    assert err.read_text() == ""
