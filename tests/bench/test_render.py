"""Each scenario renders its RESULTS.md section from stored figures as the bench always has.

The fixtures are a smoke run's figures (`fixtures/<scenario>.json`) and the text the renderer
of before wrote from them (`fixtures/<scenario>.md`, `RESULTS.md`, `spliced.md`): the same
text now, but for the files it names, which moved into `bench/harness/`, `bench/probes/` and
`bench/scenarios/`, and one note that named scenario 8 for the soak (9).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.harness import document
from bench.scenarios import BY_NAME, SCENARIOS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MOVED = {
    "`bench/simproc.py`": "`bench/harness/simproc.py`",
    "`bench/floor.py`": "`bench/harness/floor.py`",
    "`bench/fixed_margin.py`": "`bench/probes/fixed_margin.py`",
    "`bench/plain_sets.py`": "`bench/probes/plain_sets.py`",
    "`metrics_cost.scrape_cpu_ms`": "`s06_metrics_cost.scrape_cpu_ms`",
}
LOOP_LAG_NOTE = (  # the note as it was, and as it reads now
    "- **Client loop lag** (scenarios 5 and 8): resumer runs under `bench/looplag.py`, whose task"
    " on\n  resumer's own event loop sleeps 10 ms at a time and notes how late each wake-up is, by"
    " the\n  monotonic clock.",
    "- **Client loop lag** (scenarios 5 and 9): resumer runs under `bench/harness/looplag.py`,"
    " whose\n  task on resumer's own event loop sleeps 10 ms at a time and notes how late each"
    " wake-up is,\n  by the monotonic clock.",
)


def _before(name: str) -> str:
    """The text of before, with the files it names where they are now."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for old, new in MOVED.items():
        text = text.replace(old, new)
    return text.replace(*LOOP_LAG_NOTE)


def _figures(name: str) -> dict[str, Any]:
    figures: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return figures


def _report(names: list[str], command: str = "python -m bench.run --smoke") -> dict[str, Any]:
    report: dict[str, Any] = json.loads((FIXTURES / "report.json").read_text())
    return report | {"command": command, "scenarios": {n: _figures(n) for n in names}}


@pytest.mark.parametrize("name", list(BY_NAME))
def test_a_scenario_renders_its_section_as_before(name: str) -> None:
    assert BY_NAME[name].render(_figures(name)) + "\n" == _before(f"{name}.md")


def test_the_sections_are_numbered_in_the_order_they_run() -> None:
    headings = [s.render(_figures(s.name)).split(".", 1)[0] for s in SCENARIOS]
    assert headings == [f"## {n}" for n in range(1, len(SCENARIOS) + 1)]


def test_the_whole_document_renders_as_before() -> None:
    report = _report(list(BY_NAME))
    assert document.render(report, SCENARIOS) == _before("RESULTS.md")


def test_a_partial_run_splices_its_sections_into_the_document_as_before() -> None:
    report = _report(["pacing", "soak", "seen"], "python -m bench.run --only pacing soak seen")
    into = (FIXTURES / "splice-into.md").read_text(encoding="utf-8")
    assert document.splice(into, report, SCENARIOS) == _before("spliced.md")
