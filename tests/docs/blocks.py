"""The blocks of a markdown document marked to be run, and how to run one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

# `<!-- doc-test: exit=N expect="text" -->` or `<!-- doc-test: skip (why) -->` on the line
# before a fence; the fence's language says how the block is run (sh, or yaml for a CI job).
_MARKER = re.compile(r"^\s*<!-- doc-test: (?P<spec>.*?) -->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_EXIT = re.compile(r"\bexit=(\d+)")
_EXPECT = re.compile(r'\bexpect="([^"]*)"')
_SETUP = re.compile(r"\bsetup=([\w-]+)")
BASH = shutil.which("bash") or "/bin/bash"
DEADLINE = 30.0  # seconds for one block: each is a few seconds of paced requests


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One fenced block of a document, with what its marker says of it."""

    source: str  # file:line, for messages
    lang: str
    text: str
    marked: bool
    skip: bool
    exit: int
    expect: str
    setup: str  # the name of what the test prepares first, or ""


def blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, marked or not, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence or not fence["lang"]:
            i += 1
            continue
        marker = _MARKER.match(lines[i - 1]) if i else None
        body: list[str] = []
        j = i + 1
        while not lines[j].strip().startswith("```"):
            body.append(lines[j])
            j += 1
        spec = marker["spec"] if marker else ""
        exit_code = _EXIT.search(spec)
        expect = _EXPECT.search(spec)
        setup = _SETUP.search(spec)
        found.append(
            Block(
                source=f"{path.name}:{i + 1}",
                lang=fence["lang"],
                text=textwrap.dedent("\n".join(body)) + "\n",
                marked=marker is not None,
                skip=spec.startswith("skip"),
                exit=int(exit_code[1]) if exit_code else 0,
                expect=expect[1] if expect else "",
                setup=setup[1] if setup else "",
            )
        )
        i = j + 1
    return found


def substitute(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


def exports(script: str) -> dict[str, str]:
    """The `export NAME='value'` lines of a block: a reader's shell keeps them for the next."""
    return {m[1]: m[2].strip("'\"") for m in re.finditer(r"(?m)^export (\w+)=(\S+)\s*$", script)}


def run_shell(script: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `script` with bash as a CI step does (stop at the first failing command)."""
    return subprocess.run(
        [BASH, "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One step of a GitHub Actions job: its script and its environment."""

    run: str
    env: dict[str, str]


def ci_steps(yaml: str) -> list[Step]:
    """The `run` steps of a job written as a YAML list of steps (the subset the docs use)."""
    steps: list[Step] = []
    for chunk in re.split(r"(?m)^- ", yaml)[1:]:
        lines = ("  " + chunk).splitlines()
        run: list[str] = []
        env: dict[str, str] = {}
        section = ""
        for line in lines:
            key = re.match(r"^  (\w[\w-]*):\s*(.*)$", line)
            if key:
                section = key[1]
                if section == "run" and key[2] not in ("|", ""):
                    run.append(key[2])
                continue
            if section == "run":
                run.append(line)
            elif section == "env":
                name, _, value = line.strip().partition(":")
                env[name] = value.strip()
        if run:
            steps.append(Step(run=textwrap.dedent("\n".join(run)) + "\n", env=env))
    return steps
