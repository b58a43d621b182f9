"""A tool under test as a child process, and what it cost.

A tool runs under `spawn.py` (beside this file), which reaps it with `os.wait4`: its own CPU
time (user + sys, its waited-for children included) and peak RSS, not mixed with the
simulator's nor inflated by the bench's own memory (see spawn.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KILL_AFTER = 10.0  # seconds between SIGTERM and SIGKILL at a deadline
SPAWN = Path(__file__).resolve().parent / "spawn.py"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRun:
    """What one child process did and cost."""

    exit_code: int
    wall_s: float
    cpu_s: float  # user + sys
    max_rss_mb: float
    killed: bool  # stopped at its deadline


def reap(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for `proc`: its exit code, CPU seconds and peak RSS in MB."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_child(
    command: Sequence[str],
    *,
    stdout: Path,
    stderr: Path,
    stdin: Path | None = None,
    env: Mapping[str, str] | None = None,
    deadline: float = 600.0,
    kill_tool_after: float | None = None,
) -> ChildRun:
    """Run `command` to its end, or stop its process group at `deadline` seconds.

    `kill_tool_after`: SIGKILL the tool alone (not its launcher, which still records what it
    cost) that many seconds in, as a crash or an OOM kill would.
    """
    killed = threading.Event()
    usage = stdout.with_name(stdout.name + ".usage.json")
    usage.unlink(missing_ok=True)
    with (
        open(stdin or os.devnull, "rb") as fin,
        open(stdout, "wb") as fout,
        open(stderr, "wb") as ferr,
    ):
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(SPAWN), str(usage), "--", *command],
            stdin=fin,
            stdout=fout,
            stderr=ferr,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a deadline stops xargs and every curl it started
        )

        def stop(sig: signal.Signals) -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(proc.pid, sig)

        timers = [
            threading.Timer(deadline, stop, (signal.SIGTERM,)),
            threading.Timer(deadline + KILL_AFTER, stop, (signal.SIGKILL,)),
        ]
        if kill_tool_after is not None:
            timers.append(threading.Timer(kill_tool_after, _kill_children, (proc.pid,)))
        for timer in timers:
            timer.start()
        try:
            code, cpu, rss = reap(proc)
        except BaseException:  # the bench was interrupted: leave no tool running behind it
            stop(signal.SIGKILL)
            reap(proc)
            raise
        finally:
            for timer in timers:
                timer.cancel()
        wall = time.monotonic() - started
    if usage.exists():  # else SIGKILL took the launcher too: its figures are the best left
        measured = json.loads(usage.read_text())
        code, cpu, rss = measured["exit_code"], measured["cpu_s"], measured["max_rss_mb"]
    return ChildRun(exit_code=code, wall_s=wall, cpu_s=cpu, max_rss_mb=rss, killed=killed.is_set())


def _kill_children(pid: int) -> None:
    """SIGKILL the children of `pid` (the launcher's: the tool)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # the launcher ended meanwhile
        return
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGKILL)
