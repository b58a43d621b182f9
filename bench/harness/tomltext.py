"""Simulator profiles and resumer configs as TOML text, from plain tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def toml_text(table: Mapping[str, Any]) -> str:
    """A TOML document of plain values, [tables] of plain values and [[arrays]] of them."""
    lines = [f"{key} = {_value(v)}" for key, v in table.items() if not _is_table(v)]
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines += [f"[{key}]", *(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items())]
        elif _is_table(value):
            for item in value:
                lines += [f"[[{key}]]", *(f"{k} = {_value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


def _is_table(value: object) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, list) and bool(value) and isinstance(value[0], Mapping)
    )


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
