"""The dependency rule: every import in `resumer/` points down the layers, never up or across.

    cli ─▶ report, observe, fleet ─▶ engine ─▶ pace, results, config, inputs, sim ─▶ api
                                                                                     │
                  errors, records, seen, streams, timing, humanize, loading ◀───────┘

A module may import its own package and any package on a lower layer; a package on the same
layer or above is refused. Lazy imports (inside a function) count as much as the ones at the
top: they are how the CLI keeps aiohttp, rich, redis and matplotlib off the paths that do not
need them, not a way around the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "resumer"

LAYERS: dict[str, int] = {
    "errors": 0,
    "records": 0,
    "seen": 0,
    "streams": 0,
    "timing": 0,
    "humanize": 0,
    "loading": 0,
    "api": 1,
    "pace": 2,
    "results": 2,
    "config": 2,
    "inputs": 2,
    "sim": 2,
    "engine": 3,
    "report": 4,
    "observe": 4,
    "fleet": 4,
    "cli": 5,
    "__main__": 6,
}


def _unit(module: str) -> str:
    """`resumer.engine.run` → `engine`; `resumer` itself (its `__version__`) → `""`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(source: str, *, importer: str) -> set[str]:
    """Every `resumer...` module named by an import in `source`, lazy ones included."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named.update(a.name for a in node.names if a.name.split(".")[0] == "resumer")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{importer}: relative import of {node.module}")
            if node.module == "resumer":
                named.update(f"resumer.{a.name}" for a in node.names if a.name != "__version__")
            elif node.module.startswith("resumer."):
                named.add(node.module)
    return named


def upward(importer: str, imported: str) -> bool:
    """Whether `importer` (a module path like `resumer.engine.run`) may not import `imported`."""
    source, target = _unit(importer), _unit(imported)
    if target in ("", source):
        return False
    return LAYERS[target] >= LAYERS[source]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(name) for name, _ in _modules()} - {""}
    assert units == set(LAYERS), "give each package of resumer/ a layer in LAYERS"


def test_no_import_points_up_or_across() -> None:
    broken = [
        f"{name} imports {target}"
        for name, path in _modules()
        for target in sorted(imports(path.read_text(), importer=name))
        if upward(name, target)
    ]
    assert broken == []


@pytest.mark.parametrize(
    ("importer", "imported", "refused"),
    [
        ("resumer.engine.run", "resumer.pace.pacer", False),
        ("resumer.engine.run", "resumer.engine.app", False),
        ("resumer.cli.main", "resumer", False),
        ("resumer.pace.pacer", "resumer.engine.run", True),  # up
        ("resumer.results.writer", "resumer.config.model", True),  # across
        ("resumer.api.client", "resumer.cli.main", True),
    ],
)
def test_the_rule_itself(importer: str, imported: str, refused: bool) -> None:
    assert upward(importer, imported) is refused


def test_lazy_imports_count() -> None:
    source = "def f() -> None:\n    from resumer.cli import launch\n"
    assert imports(source, importer="resumer.engine.run") == {"resumer.cli"}
