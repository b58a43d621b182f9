"""A scenario: what it measures, and how its section of `bench/RESULTS.md` reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.harness.plan import Plan, Workspace

Figures = dict[str, Any]  # a scenario's JSON-ready figures, as report.json keeps them


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One scenario of `python -m bench.run`: its name (for `--only`), measure and render."""

    name: str
    measure: Callable[[Workspace, Plan], Figures]
    render: Callable[[Figures], str]  # the section, "## N. ..." first
