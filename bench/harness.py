"""The processes of a benchmark: the simulator, a tool under test, and what each one cost.

A tool runs under `bench/spawn.py`, which reaps it with `os.wait4`: its own CPU time (user +
sys, its waited-for children included) and peak RSS, not mixed with the simulator's nor
inflated by the bench's own memory (see spawn.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

KILL_AFTER = 10.0  # seconds between SIGTERM and SIGKILL at a deadline
SPAWN = Path(__file__).resolve().parent / "spawn.py"
_LISTENING = re.compile(rb"listening on (http://\S+)")
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRun:
    """What one child process did and cost."""

    exit_code: int
    wall_s: float
    cpu_s: float  # user + sys
    max_rss_mb: float
    killed: bool  # stopped at its deadline


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
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
            code, cpu, rss = _reap(proc)
        except BaseException:  # the bench was interrupted: leave no tool running behind it
            stop(signal.SIGKILL)
            _reap(proc)
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


class Sim:
    """`with Sim(profile_file) as sim:` a bench simulator (`bench.simproc`) on a free port."""

    def __init__(self, profile: Path, *, log: Path) -> None:
        self._profile = profile
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.cpu_s = 0.0  # the simulator's CPU time, known once it has stopped
        self.wall_s = 0.0
        self._started = 0.0

    def __enter__(self) -> Self:
        with open(self._log, "wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "bench.simproc", "--profile", str(self._profile)],
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._started = time.monotonic()
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        found = _LISTENING.search(line)
        if not found:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the simulator did not start: {self._log.read_text()[-2000:]}")
        self.url = found.group(1).decode()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        _, self.cpu_s, _ = _reap(self._proc)
        self.wall_s = time.monotonic() - self._started
        assert self._proc.stdout is not None
        self._proc.stdout.close()

    def get(self, path: str) -> Any:
        """GET a JSON document of the simulator, e.g. "/stats?rooms=0"."""
        with _HTTP.open(self.url + path, timeout=60) as reply:
            return json.load(reply)

    def stats(self) -> dict[str, Any]:
        """GET /stats without the per-room map."""
        stats: dict[str, Any] = self.get("/stats?rooms=0")
        return stats

    def arrivals(self, sdkappid: int) -> tuple[list[float], list[str]]:
        """Arrival times (s since the simulator started) and answer kinds of one app."""
        data = self.get(f"/bench/arrivals?sdkappid={sdkappid}")
        return [float(t) for t in data["t"]], [str(k) for k in data["kind"]]


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
