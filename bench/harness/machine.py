"""The machine and software a benchmark ran on, for the report."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository


def describe() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and the versions that matter to the figures."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {
            name: _version(name) for name in ("resumer", "aiohttp", "aiolimiter", "tenacity")
        },
        "curl": _curl(),
        "git": _first_line(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
    }


def _curl() -> str | None:
    """The name and version of curl, e.g. "curl 7.88.1"; None without curl."""
    line = _first_line(["curl", "--version"]) if shutil.which("curl") else None
    return " ".join(line.split()[:2]) if line else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _first_line(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    return done.stdout.splitlines()[0] if done.stdout else None
