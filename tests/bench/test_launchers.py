"""The names the comparison launchers swap are still the ones resumer looks up when it runs.

`bench/probes/fixed_margin.py`, `bench/probes/bucket_line.py` and `bench/probes/plain_sets.py`
run the real CLI with one piece of the code of before swapped in, by assigning a module
attribute. Were the name to move, the
assignment would still succeed and swap nothing: the "before" column would measure the code of
now. These tests fail instead.
"""

from __future__ import annotations

from resumer.cli import dry_run, output
from resumer.engine.routing import Router
from resumer.pace import pacer
from resumer.pace.pacing import HardLine, Margin
from resumer.results.resume import read_final


def test_the_pacer_builds_its_margin_from_the_name_fixed_margin_swaps() -> None:
    assert vars(pacer)["Margin"] is Margin


def test_the_pacer_builds_its_hard_line_from_the_name_bucket_line_swaps() -> None:
    assert vars(pacer)["HardLine"] is HardLine


def test_the_cli_routes_and_reads_the_log_by_the_names_plain_sets_swaps() -> None:
    assert vars(dry_run)["Router"] is Router
    assert vars(output)["read_final"] is read_final
