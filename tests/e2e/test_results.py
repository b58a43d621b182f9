"""The results log end to end: a log that cannot be written, -o that is no log, a log in use.

The real CLI as a subprocess against the simulator on 127.0.0.1, as in tests/e2e/test_run.py.
Every run has a timeout: a hang fails the test instead of holding the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resumer.records import Result, Status
from resumer.results.schema import to_line
from resumer.sim.config import Latency
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, app_stats, cli_command, cli_env, room_lines, sim_config

TIMEOUT = 60.0  # seconds: every run here ends in a few; more is a hang


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cli_command(*args),
        input=stdin,
        capture_output=True,
        env=cli_env(),
        timeout=TIMEOUT,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def _requests(sim: SimThread) -> int:
    apps = sim.stats(rooms=False)["apps"]
    return sum(a["requests"] for a in apps.values())


def _split_stderr(stderr: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Log events, result records (spilled outcomes) and plain lines of a JSON-log stderr."""
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    plain: list[str] = []
    for line in stderr.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            plain.append(line)
            continue
        (events if "event" in item else records).append(item)
    return events, records, plain


def test_stdout_closed_by_its_reader_stops_the_run_and_loses_no_outcome(tmp_path: Path) -> None:
    # `resumer run rooms.txt | head -0`: the reader is gone before the first result line.
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(60))
    with SimThread(sim_config(latency=Latency(min_ms=50, max_ms=200), seed=5)) as sim:
        process = subprocess.Popen(
            cli_command(*app_flags(sim.url), str(rooms)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        assert process.stdout is not None
        process.stdout.close()
        _, stderr = process.communicate(timeout=TIMEOUT)
        sent = app_stats(sim.stats())["rooms"]
    events, spilled, plain = _split_stderr(stderr.decode())
    assert process.returncode == 4, stderr
    assert "Traceback" not in stderr.decode()
    assert "Task exception" not in stderr.decode()
    assert plain == [
        f"resumer: the program reading the results on stdout closed the pipe after 0 records: "
        f"the run stopped sending, and {_outcomes(len(spilled))} it could not write "
        f"{'is' if len(spilled) == 1 else 'are'} on stderr above as JSON lines: write the "
        "results to a file with -o"
    ]
    assert sorted(r["room_id"] for r in spilled) == sorted(sent)  # each request sent: a record
    assert set(sent.values()) == {1}
    assert len(sent) <= 5  # stopped at once, not after 60 rooms
    assert {e["event"] for e in events} >= {"run_started"}


def _outcomes(count: int) -> str:
    return "the outcome" if count == 1 else f"the {count} outcomes"


def test_head_1_ends_the_run_promptly_with_exit_4(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(100))
    with SimThread(sim_config()) as sim:
        command = " ".join(f"'{part}'" for part in cli_command(*app_flags(sim.url), str(rooms)))
        done = subprocess.run(
            ["/bin/bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"],
            capture_output=True,
            env=cli_env(),
            timeout=TIMEOUT,
            check=False,
        )
        requests = _requests(sim)
    stderr = done.stderr.decode()
    assert done.returncode == 4, stderr
    assert json.loads(done.stdout)["status"] == "ok"
    assert "Traceback" not in stderr
    assert "closed the pipe" in stderr
    assert requests < 100  # stopped, not run to the end


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (os.mkfifo, "it is a named pipe: name a regular file, or omit -o"),
        (lambda p: p.mkdir(), "it is a directory: name a regular file, or omit -o"),
        (lambda p: p.symlink_to("/dev/full"), "it is a device: name a regular file, or omit -o"),
    ],
    ids=["fifo", "directory", "dev-full"],
)
def test_an_output_that_is_no_regular_file_is_refused_at_once(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    output = tmp_path / "results.jsonl"
    make(output)
    with SimThread(sim_config()) as sim:
        run = _run(*app_flags(sim.url), "-o", str(output), stdin=room_lines(5).encode())
        requests = _requests(sim)
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"resumer: cannot use {str(output)!r} as the results log: {message} " + (
        "to write the results to stdout\n"
    )
    assert requests == 0


def test_dev_stdout_as_the_output_is_refused_with_the_fix(tmp_path: Path) -> None:
    # `resumer run -o /dev/stdout | wc -l` read the pipe it wrote to, and hung.
    with SimThread(sim_config()) as sim:
        run = _run(*app_flags(sim.url), "-o", "/dev/stdout", stdin=room_lines(5).encode())
        requests = _requests(sim)
    assert run.returncode == 2, run.stderr
    assert run.stderr == (
        "resumer: cannot use '/dev/stdout' as the results log: it is this run's standard "
        "output: omit -o to write the results to stdout\n"
    )
    assert (run.stdout, requests) == ("", 0)


def test_a_closed_stdout_for_the_results_is_one_sentence(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(5))
    with SimThread(sim_config()) as sim:
        command = " ".join(f"'{part}'" for part in cli_command(*app_flags(sim.url), str(rooms)))
        done = subprocess.run(
            ["/bin/bash", "-c", f"exec {command} >&-"],
            capture_output=True,
            env=cli_env(),
            timeout=TIMEOUT,
            check=False,
        )
        requests = _requests(sim)
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == (
        "resumer: standard output is closed and the results go there without -o: give -o FILE, "
        "or run with stdout open\n"
    )
    assert requests == 0


@pytest.mark.parametrize("log_format", ["auto", "json"])
def test_a_closed_stderr_still_runs_and_keeps_the_log_out_of_the_results(
    tmp_path: Path, log_format: str
) -> None:
    # A cron line or a supervisor may start resumer with fd 2 closed: the log has nowhere to go,
    # which is no reason to fail (auto exited 1, "some room needs a look", having sent nothing)
    # nor to mix it into the results on stdout (json did).
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(5))
    with SimThread(sim_config()) as sim:
        command = [*cli_command(*app_flags(sim.url), str(rooms))[:-2], "--log-format", log_format]
        quoted = " ".join(f"'{part}'" for part in command)
        done = subprocess.run(
            ["/bin/bash", "-c", f"exec {quoted} 2>&-"],
            capture_output=True,
            env=cli_env(),
            timeout=TIMEOUT,
            check=False,
        )
        requests = _requests(sim)
    assert done.returncode == 0
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [record.get("status") for record in records] == ["ok"] * 5
    assert requests == 5


def test_the_output_being_an_input_is_refused_however_it_is_spelled(tmp_path: Path) -> None:
    rooms = tmp_path / "rooms.txt"
    rooms.write_text(room_lines(5))
    before = rooms.read_bytes()
    spelled = str(tmp_path / "." / "rooms.txt")
    with SimThread(sim_config()) as sim:
        named = _run(*app_flags(sim.url), str(rooms), "-o", spelled)
        with rooms.open("rb") as stdin:
            piped = subprocess.run(
                cli_command(*app_flags(sim.url), "-", "-o", str(rooms)),
                stdin=stdin,
                capture_output=True,
                env=cli_env(),
                timeout=TIMEOUT,
                check=False,
            )
        requests = _requests(sim)
    assert named.returncode == 2, named.stderr
    assert named.stderr == (
        f"resumer: the results log {spelled!r} is the same file as the input {str(rooms)!r}: "
        "the run would read its own records back; write the results to another file\n"
    )
    assert piped.returncode == 2, piped.stderr
    assert b"is the same file as standard input" in piped.stderr
    with SimThread(sim_config()) as sim:
        with rooms.open("ab") as stdout:  # `resumer run rooms.txt >> rooms.txt`
            appended = subprocess.run(
                cli_command(*app_flags(sim.url), str(rooms)),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                env=cli_env(),
                timeout=TIMEOUT,
                check=False,
            )
        requests += _requests(sim)
    assert appended.returncode == 2, appended.stderr
    assert appended.stderr.decode() == (
        f"resumer: standard output is the same file as the input {str(rooms)!r}: the run would "
        "read its own records back; write the results to another file\n"
    )
    assert requests == 0
    assert rooms.read_bytes() == before


def _wait_for_lines(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not (log.exists() and log.read_bytes().count(b"\n") >= 1):
        assert process.poll() is None, f"the first run ended (exit {process.returncode})"
        assert time.monotonic() < deadline, "no record from the first run"
        time.sleep(0.05)


def test_a_second_run_on_a_log_in_use_is_refused_naming_the_first(tmp_path: Path) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(200))
    other = tmp_path / "other.txt"
    other.write_text(room_lines(5, prefix="other"))
    with SimThread(sim_config()) as sim:
        first = subprocess.Popen(
            cli_command(*app_flags(sim.url), str(rooms), "-o", str(log)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=cli_env(),
        )
        try:
            _wait_for_lines(log, first)
            second = _run(*app_flags(sim.url), str(other), "-o", f"{tmp_path}/./results.jsonl")
            resumed = _run(*app_flags(sim.url), str(other), "-o", str(log), "--resume")
            sent = app_stats(sim.stats())["rooms"]
        finally:
            first.terminate()
            first.wait(timeout=TIMEOUT)
    for run in (second, resumed):
        assert run.returncode == 2, run.stderr
        assert f"is in use by another resumer run (PID {first.pid}): wait for it" in run.stderr
        assert len(run.stderr.splitlines()) == 1
    assert not [room for room in sent if room.startswith("other")]


def test_resume_says_how_many_lines_of_the_log_it_skipped(tmp_path: Path) -> None:
    rooms, log = tmp_path / "rooms.txt", tmp_path / "results.jsonl"
    rooms.write_text(room_lines(4))
    done = to_line(
        Result(ts="t", sdkappid=DEMO_SDKAPPID, room_id="room-0", status=Status.OK, attempts=1)
    )
    log.write_text(f"not json\n{done}{{}}\n" + done[:20], encoding="utf-8")  # + a torn line
    with SimThread(sim_config()) as sim:
        run = _run(*app_flags(sim.url), str(rooms), "-o", str(log), "--resume")
        sent = app_stats(sim.stats())["rooms"]
    assert run.returncode == 0, run.stderr
    assert sorted(sent) == ["room-1", "room-2", "room-3"]
    events, _, _ = _split_stderr(run.stderr)
    skipped = [e for e in events if e["event"] == "results_log_lines_skipped"]
    assert [(e["file"], e["lines"], e["level"]) for e in skipped] == [(str(log), 3, "warning")]


def test_an_input_that_breaks_after_requests_were_sent_exits_5(tmp_path: Path) -> None:
    fifo, second, log = tmp_path / "rooms.fifo", tmp_path / "more.txt", tmp_path / "results.jsonl"
    os.mkfifo(fifo)
    second.write_text(room_lines(5, prefix="more"))
    with SimThread(sim_config()) as sim:
        process = subprocess.Popen(
            cli_command(*app_flags(sim.url), str(fifo), str(second), "-o", str(log)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        with fifo.open("w") as producer:
            producer.write(room_lines(600))  # more than a batch: the run starts at once
            producer.flush()
            _wait_for_lines(log, process)
            second.unlink()  # the next input breaks when the reader reaches it
        _, stderr = process.communicate(timeout=TIMEOUT)
        sent = app_stats(sim.stats())["rooms"]
    lines = stderr.decode().splitlines()
    assert process.returncode == 5, stderr
    assert lines[-1] == (
        f"resumer: input file {str(second)!r} does not exist: check the path; requests were "
        "already sent and the results log holds what was done: once the input is fixed, run the "
        "same command again with --resume"
    )
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["room_id"] for r in records) == sorted(sent)


def test_a_dry_run_checks_the_output_but_neither_creates_nor_locks_it(tmp_path: Path) -> None:
    fifo, log = tmp_path / "results.fifo", tmp_path / "results.jsonl"
    os.mkfifo(fifo)
    flags = app_flags("http://127.0.0.1:9")  # a dry run sends nothing: no simulator needed
    refused = _run(*flags, "--dry-run", "-o", str(fifo), stdin=b"room-1\n")
    planned = _run(*flags, "--dry-run", "-o", str(log), "--resume", stdin=b"room-1\n")
    assert refused.returncode == 2, refused.stderr
    assert "it is a named pipe" in refused.stderr
    assert planned.returncode == 0, planned.stderr
    assert "1 rooms to resume" in planned.stdout
    assert not log.exists()
