"""Markdown tables and cells for the sections of `bench/RESULTS.md`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FIGURE_HEADER = ("figure", "value", "target", "")  # a section's table of single figures


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; each cell as `cell` writes it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: object) -> str:
    """A figure as a cell: – for none, met / **missed** for a target."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "met" if value else "**missed**"
    return str(value)


def seconds(value: float | None) -> str:
    """A duration in seconds, – for none."""
    return "–" if value is None else f"{value} s"


def met(figures: dict[str, Any], key: str) -> bool | None:
    """Whether the figures meet the target named `key` (None: no such target)."""
    found: bool | None = figures.get("meets", {}).get(key)
    return found


def lag(values: dict[str, float]) -> str:
    """p50 / p99 / max of a lag, in ms."""
    return f"{values['p50']} / {values['p99']} / {values['max']} ms"


def client_lag(figures: dict[str, Any]) -> str:
    """A run's client loop lag, p50 / p99 / max (`bench/harness/looplag.py`); – under a profiler."""
    values = figures.get("client_loop_lag_ms") or {}
    if values.get("p99") is None:
        return "–"
    return f"{values['p50']} / {values['p99']} / {values['max']}"


def load(values: Sequence[float]) -> str:
    """Load averages, comma-separated."""
    return ", ".join(str(x) for x in values)
