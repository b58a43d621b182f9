"""The bench never imports the tests: the tests import the bench's servers, not the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imported(path: Path) -> set[str]:
    """Every module `path` imports, at its top or lazily inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_bench_module_imports_the_tests() -> None:
    modules = sorted(BENCH.rglob("*.py"))
    assert len(modules) > 30  # the walk found the bench
    offenders = {
        str(path.relative_to(BENCH)): sorted(
            n for n in _imported(path) if n.split(".")[0] == "tests"
        )
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}
