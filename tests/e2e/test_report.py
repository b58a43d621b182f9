"""`resumer report` end to end: over the logs of real runs against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from resumer.report import chart
from resumer.report.merge import merge
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, app_stats, resumer, room_lines, sim_config

SCRIPTS = {
    "flaky-2": ("100001", "100001"),  # gives up in the run, the resume finishes it
    "flaky-4": ("100001",) * 4,  # gives up in the run and in the resume: left to do
    "flaky-4-too": ("100001",) * 4,
    "gone": ("100004",),  # rejected: final
}
ROOMS = [f"ok-{n}" for n in range(30)] + list(SCRIPTS)
TORN = b'{"ts":"2026-11-24T10:00:00.000Z","sdkappid":1400000001,"room_id":"ok-'


def report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m resumer report ARGS`."""
    command = [sys.executable, "-m", "resumer", "report", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def like_jq(*logs: Path) -> dict[str, Any]:
    """What jq would say over the logs: `jq -s 'group_by(.room_id) | map(last) ...'`, by hand."""
    records = []
    for log in logs:
        for line in log.read_bytes().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # jq would stop here; the torn line is skipped
    last = {(r["sdkappid"], r["room_id"]): r for r in records}
    return {
        "statuses": Counter(r["status"] for r in last.values()),
        "error_codes": Counter(str(r["error_code"]) for r in last.values() if r["status"] != "ok"),
        "attempts": sum(r["attempts"] for r in records),
        "records": len(records),
        "first_ts": min(r["ts"] for r in records),
        "last_ts": max(r["ts"] for r in records),
        "todo": [r["room_id"] for r in last.values() if r["status"] in ("gave_up", "aborted")],
    }


def test_report_of_a_run_and_its_resume_matches_jq_and_todo_finishes_the_rest(
    tmp_path: Path,
) -> None:
    rooms = "".join(f"{room}\n" for room in ROOMS)
    with SimThread(sim_config(scripts=SCRIPTS)) as sim:
        flags = [*app_flags(sim.url), "--max-attempts", "2"]
        first = resumer(*flags, tmp=tmp_path, stdin=rooms)
        assert first.code == 1, first.stderr
        resumed = resumer(*flags, "--resume", tmp=tmp_path, stdin=rooms)  # appends to the log
        assert resumed.code == 1, resumed.stderr
        log = tmp_path / "results.jsonl"
        with log.open("ab") as stream:
            stream.write(TORN)  # as if a third run had been killed mid-write

        done = report(log, "--format", "json")
        assert done.returncode == 0, done.stderr
        got, want = json.loads(done.stdout), like_jq(log)
        total = got["total"]
        assert {k: v for k, v in total["statuses"].items() if v} == want["statuses"]
        assert total["error_codes"] == want["error_codes"]
        assert (total["attempts"], got["records"]) == (want["attempts"], want["records"])
        assert (total["first_ts"], total["last_ts"]) == (want["first_ts"], want["last_ts"])
        assert got["unreadable_lines"] == {"torn": 1, "foreign": 0}
        assert want["statuses"] == {"ok": 31, "rejected": 1, "gave_up": 2}  # the test's premise

        todo = report(log, "--todo")
        assert todo.returncode == 0, todo.stderr
        lines = [json.loads(line) for line in todo.stdout.splitlines()]
        assert lines == [{"room_id": r, "sdkappid": DEMO_SDKAPPID} for r in want["todo"]]
        assert "1 torn" in todo.stderr

        before = app_stats(sim.stats())["rooms"]
        more = tmp_path / "more"
        more.mkdir()
        again = resumer(*app_flags(sim.url), "-", tmp=more, stdin=todo.stdout)
        after = app_stats(sim.stats())["rooms"]
    assert again.code == 0, again.stderr
    sent = {room for room, n in after.items() if n != before.get(room, 0)}
    assert sent == set(want["todo"]) == {"flaky-4", "flaky-4-too"}
    assert again.statuses() == dict.fromkeys(want["todo"], "ok")

    both = report(log, more / "results.jsonl", "--format", "json")
    merged = json.loads(both.stdout)["total"]
    assert merged["statuses"] == {"ok": 33, "rejected": 1, "invalid": 0, "gave_up": 0, "aborted": 0}
    assert merged["todo"] == 0
    assert merged["attempts"] == like_jq(log, more / "results.jsonl")["attempts"]

    table = report(log, more / "results.jsonl")
    assert table.returncode == 0, table.stderr
    assert "1400000001" in table.stdout
    assert "2 logs" in table.stdout
    assert "1 torn" in table.stdout


def test_a_missing_log_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "results.jsonl"
    log.write_text("")
    done = report(log, tmp_path / "nope.jsonl")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"resumer: cannot read the results log '{tmp_path / 'nope.jsonl'}': "
        "it does not exist: check the path\n"
    )
    folder = report(tmp_path)
    assert (folder.returncode, folder.stderr.count("\n")) == (2, 1)
    assert "is a directory" in folder.stderr


@pytest.mark.timeout(300)  # tens of seconds of real time when quiet
def test_the_chart_of_a_run_through_an_outage_shows_the_outage_as_a_gap(tmp_path: Path) -> None:
    outage = (4.0, 7.0)  # seconds from the simulator's start, as in the demo's profile
    with SimThread(sim_config(outages=(outage,), outage_kind="http503", seed=2)) as sim:
        run = resumer(*app_flags(sim.url), tmp=tmp_path, stdin=room_lines(200))
        stats = app_stats(sim.stats(rooms=False))
    assert run.code == 0, run.stderr
    assert stats["first_arrival_s"] < outage[0] < outage[1] < stats["last_arrival_s"]
    data = chart.chart_data(
        merge((tmp_path / "results.jsonl").read_bytes().splitlines(keepends=True))
    )
    ((start, end),) = data.gaps
    assert end - start >= 2  # whole seconds in which no room finished
    picture = tmp_path / "outage.png"
    done = report(tmp_path / "results.jsonl", "--chart", picture)
    assert done.returncode == 0, done.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    # `resumer report --todo LOG | head -1`, or a `resumer run -` that stopped reading: the
    # reader is gone, which is not an error to print a traceback about.
    log = tmp_path / "results.jsonl"
    record = '{"ts":"2026-11-24T10:00:00.000Z","sdkappid":1400000001,"room_id":"r-%d",'
    record += '"status":"gave_up","error_code":100001,"attempts":6}\n'
    log.write_text("".join(record % n for n in range(20_000)))  # far more than a pipe holds
    for flags in (["--todo"], [], ["--format", "json"]):
        command = [sys.executable, "-m", "resumer", "report", *flags, str(log)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.close()  # before the report is written: its first write fails
            err = proc.stderr.read().decode()
            proc.wait(timeout=60)
        assert err == ""
        assert proc.returncode == 141  # as a shell reports cat or jq killed by SIGPIPE
