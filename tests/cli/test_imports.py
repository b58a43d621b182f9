"""The paths that need no network, display or chart start without the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = ["--sdkappid", "1400000001", "--identifier", "admin"]
HEAVY = ("aiohttp", "rich", "redis", "prometheus_client", "matplotlib")
# Runs the CLI in this interpreter, then writes down every module it left imported.
RUN_AND_LIST = """
import json, runpy, sys
sys.argv = ["resumer", *json.loads(sys.argv[1])]
try:
    runpy.run_module("resumer", run_name="__main__")
except SystemExit as exit:
    code = exit.code
with open("modules.json", "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""


def imported(args: list[str], tmp_path: Path) -> set[str]:
    """The top-level names of the modules `resumer ARGS` imported, after it exited 0."""
    subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, json.dumps(args)],
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "RESUMER_SECRET_KEY": "a-made-up-key"},
        timeout=60,
        check=True,
    )
    seen = json.loads((tmp_path / "modules.json").read_text())
    assert seen["code"] in (0, None)
    return {name.split(".")[0] for name in seen["modules"]}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["run", *APP, "--region", "singapore", "rooms.txt", "--dry-run"],
        ["usersig", *APP],
    ],
    ids=["help", "dry-run", "usersig"],
)
def test_no_heavy_library_is_imported(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "rooms.txt").write_text("room1\nroom2\n")
    assert imported(args, tmp_path) & set(HEAVY) == set()


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """`report` on a log prints its tables with rich: the same check must see it."""
    (tmp_path / "log.jsonl").write_text("")
    assert "rich" in imported(["report", "log.jsonl"], tmp_path)
