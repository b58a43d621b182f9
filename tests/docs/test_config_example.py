"""config.example.toml: every key the loader allows is shown, and the real loader accepts it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from resumer.sim.profiles import DEMO_SECRET_KEY, DEMO_SECRET_KEY_2

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def resumer(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resumer", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_example_loads_through_the_real_loader(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "config.toml")
    key = tmp_path / "secrets" / "1400000002.key"
    key.parent.mkdir()
    key.write_text(DEMO_SECRET_KEY_2 + "\n")
    key.chmod(0o600)
    (tmp_path / "rooms.jsonl").write_text(
        '{"RoomId": "a", "sdkappid": 1400000001}\n{"RoomId": "b", "sdkappid": 1400000002}\n'
    )
    env = {"RESUMER_SECRET_KEY_1400000001": DEMO_SECRET_KEY}
    done = resumer("run", "-c", "config.toml", "rooms.jsonl", "--dry-run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "app 1400000001: 1 rooms to resume" in done.stdout
    assert "app 1400000002: 1 rooms to resume" in done.stdout


def test_the_example_shows_every_key_the_loader_allows(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("no_such_key = 1\n")
    done = resumer("run", "-c", "config.toml", "--dry-run", cwd=tmp_path)
    assert done.returncode == 2
    allowed = re.search(r"allowed are (.*)$", done.stderr, re.M)
    assert allowed, done.stderr
    shown = set(re.findall(r"(?m)^#?\s*\[*(\w+)\]*\s*(?:=|$)", EXAMPLE.read_text()))
    missing = {k.strip() for k in allowed[1].split(",")} - shown
    assert not missing, f"config.example.toml does not show {sorted(missing)}"
