"""`resumer demo` ends with the exit code `resumer run` would give for the same stop."""

from __future__ import annotations

import argparse
import dataclasses
import signal
from pathlib import Path

import pytest

from resumer.cli import demo
from resumer.cli.main import main
from resumer.engine.summary import Summary
from resumer.errors import ResultsLogError
from resumer.sim.config import SimConfig

CLEAN = Summary(apps={}, stopped={}, duration=1.0, interrupted=False, invalid_unrouted=0)


@pytest.mark.parametrize(
    ("summary", "stopped_by", "code"),
    [
        (CLEAN, None, 0),
        (dataclasses.replace(CLEAN, stopped={1400000001: "the app's key is wrong"}), None, 3),
        (CLEAN, signal.SIGTERM, 143),
        (dataclasses.replace(CLEAN, failure=ResultsLogError("results log 'r' is full")), None, 4),
    ],
)
def test_the_demo_maps_its_summary_as_run_does(
    summary: Summary,
    stopped_by: signal.Signals | None,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def resumed(
        _args: argparse.Namespace, _config: SimConfig, _results: Path
    ) -> tuple[Summary, signal.Signals | None]:
        return summary, stopped_by

    monkeypatch.setattr(demo, "_resume_samples", resumed)
    assert main(["demo", "--rooms", "3", "--log-format", "json"]) == code
    if summary.failure is not None:  # said last, after where the log is
        assert capsys.readouterr().err.splitlines()[-1] == f"resumer: {summary.failure}"
