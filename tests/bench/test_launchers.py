"""The names the comparison launchers swap are still the ones resumer looks up when it runs.

`bench/probes/fixed_margin.py`, `bench/probes/bucket_line.py` and `bench/probes/plain_sets.py`
run the real CLI with one piece of the code of before swapped in, by assigning a module
attribute. Were the name to move, the
assignment would still succeed and swap nothing: the "before" column would measure the code of
now. These tests fail instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from resumer.cli import dry_run, output
from resumer.engine.routing import Router
from resumer.pace import pacer
from resumer.pace.pacing import HardLine, Margin
from resumer.results.resume import read_final
from resumer.sim.profiles import DEMO_SDKAPPID
from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, cli_env, room_lines, sim_config


def test_the_pacer_builds_its_margin_from_the_name_fixed_margin_swaps() -> None:
    assert vars(pacer)["Margin"] is Margin


def test_the_pacer_builds_its_hard_line_from_the_name_bucket_line_swaps() -> None:
    assert vars(pacer)["HardLine"] is HardLine


def test_the_cli_routes_and_reads_the_log_by_the_names_plain_sets_swaps() -> None:
    assert vars(dry_run)["Router"] is Router
    assert vars(output)["read_final"] is read_final


def test_the_wire_probe_notes_every_grant_of_a_real_run(tmp_path: Path) -> None:
    wire_file = tmp_path / "wire.json"
    with SimThread(sim_config()) as sim:
        done = subprocess.run(
            [sys.executable, "-m", "bench.probes.wire_times", str(wire_file), "run",
             *app_flags(sim.url), "--log-format", "json", "-o", str(tmp_path / "log.jsonl")],
            input=room_lines(5).encode(),
            capture_output=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    times = json.loads(wire_file.read_text())[str(DEMO_SDKAPPID)]
    assert len(times) == 5
    assert all(granted <= wire for granted, wire in times)  # each heard at its connection
