"""The shell blocks of the README and docs/operations.md, run against the simulator."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from resumer.sim.profiles import DEMO_SECRET_KEY
from tests.docs.blocks import Block, blocks, ci_steps, exports, run_shell, substitute
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"
ROOMS = [f"room-{i}" for i in range(30)]
# Only credentials and addresses differ from what the documents say.
CREDENTIALS = {"'...'": f"'{DEMO_SECRET_KEY}'", "${{ secrets.TENCENT_IM_KEY }}": DEMO_SECRET_KEY}
# What the test prepares before a block marked `setup=NAME`, in a directory of its own: here a
# run whose results could not be written (its reader closed stdout at once), which exits 4 and
# leaves its outcomes on stderr.
SETUPS = {
    "unwritable-log": (
        "set +o pipefail\n"
        "resumer run -c config.toml rooms.txt 2>stderr.txt | head -c 0\n"
        "test ${PIPESTATUS[0]} -eq 4\n"
    ),
}
BIN = str(Path(sys.executable).parent)
needs_jq = pytest.mark.skipif(
    shutil.which("jq") is None, reason="the documents' recipes use jq"
)  # the venv's `resumer`, as after `make install`


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    """`resumer sim` on a free loopback port; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "resumer", "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the simulator did not say where it listens within 20 s"
        line = process.stdout.readline()
        assert "listening on" in line, line
        yield line.split("listening on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def config(url: str) -> str:
    """The reader's config.toml, one app, pointed at the simulator instead of a region."""
    return (
        f'endpoint = "{url}"\n\n[[apps]]\nsdkappid = 1400000001\nidentifier = "administrator"\n'
        'secret_key_env = "RESUMER_SECRET_KEY_1400000001"\n'
    )


def path_env() -> dict[str, str]:
    return {"PATH": BIN + os.pathsep + os.environ["PATH"]}


def check(block: Block, done: subprocess.CompletedProcess[str]) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == block.exit, f"{block.source} exited {done.returncode}:\n{said}"
    assert block.expect in said, f"{block.source} did not say {block.expect!r}:\n{said}"


def check_setup(block: Block, tmp_path: Path, env: dict[str, str]) -> None:
    """Prepare `block.setup` in a directory of its own, run the block there, check the log."""
    folder = tmp_path / block.setup
    folder.mkdir()
    for name in ("config.toml", "rooms.txt"):
        (folder / name).write_bytes((tmp_path / name).read_bytes())
    prepared = run_shell(SETUPS[block.setup], cwd=folder, env=env)
    assert prepared.returncode == 0, prepared.stderr
    check(block, run_shell(block.text, cwd=folder, env=env))
    lines = (folder / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["room_id"] for r in records) == sorted(ROOMS)  # each room once
    assert {r["status"] for r in records} == {"ok"}


@pytest.mark.parametrize("doc", [README, OPERATIONS], ids=lambda p: p.name)
def test_every_block_a_user_would_paste_is_marked(doc: Path) -> None:
    unmarked = [b.source for b in blocks(doc) if b.lang in ("sh", "yaml") and not b.marked]
    assert not unmarked, f"mark these blocks with <!-- doc-test: ... -->: {unmarked}"


@needs_jq
def test_the_readme_runbook(sim: str, tmp_path: Path) -> None:
    (tmp_path / "inventory.json").write_text(json.dumps({"rooms": [{"id": r} for r in ROOMS]}))
    (tmp_path / "config.toml").write_text(config(sim))
    env = path_env()
    ran = 0
    for block in blocks(README):
        if not block.marked or block.skip:
            continue
        script = substitute(block.text, CREDENTIALS)
        check(block, run_shell(script, cwd=tmp_path, env=env))
        env |= exports(script)
        ran += 1
    assert ran >= 5
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sorted(r["room_id"] for r in records) == sorted(ROOMS)
    assert {r["status"] for r in records} == {"ok"}


@needs_jq
def test_the_operations_recipes_and_the_ci_job(sim: str, tmp_path: Path) -> None:
    (tmp_path / "rooms.txt").write_text("".join(f"{r}\n" for r in ROOMS))
    (tmp_path / "config.toml").write_text(config(sim))
    env = path_env() | {"RESUMER_SECRET_KEY_1400000001": DEMO_SECRET_KEY}
    first = run_shell(
        "resumer run -c config.toml rooms.txt -o results.jsonl", cwd=tmp_path, env=env
    )
    assert first.returncode == 0, first.stderr
    port = free_port()
    addresses = {"--port 8080": f"--port {port}", "127.0.0.1:8080": f"127.0.0.1:{port}"}
    ran = 0
    for block in blocks(OPERATIONS):
        if not block.marked or block.skip:
            continue
        text = substitute(block.text, CREDENTIALS | addresses)
        if block.setup:
            check_setup(block, tmp_path, env)
        elif block.lang == "yaml":
            for step in ci_steps(text):
                check(block, run_shell(step.run, cwd=tmp_path, env=env | step.env))
            assert (tmp_path / "rehearsal.jsonl").stat().st_size > 0
        else:
            check(block, run_shell(text, cwd=tmp_path, env=env))
        ran += 1
    assert ran >= 7
