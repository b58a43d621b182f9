"""The bench's simulator (`bench.harness.simproc`) as a child process on a free port."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.harness.child import reap

_LISTENING = re.compile(rb"listening on (http://\S+)")
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class Sim:
    """`with Sim(profile_file) as sim:` the bench's simulator, on a free port of loopback."""

    def __init__(
        self, profile: Path, *, log: Path, doors: int = 1, arrival_log: Path | None = None
    ) -> None:
        self._profile = profile
        self._log = log
        self._doors = doors
        self._arrival_log = arrival_log
        self._proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.urls: list[str] = []  # one per door (`--doors`); the first is `url`
        self.cpu_s = 0.0  # the simulator's CPU time, known once it has stopped
        self.wall_s = 0.0
        self._started = 0.0

    def __enter__(self) -> Self:
        with open(self._log, "wb") as err:
            more = ["--doors", str(self._doors)]
            if self._arrival_log is not None:
                more += ["--arrival-log", str(self._arrival_log)]
            self._proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "bench.harness.simproc"),
                    *("--profile", str(self._profile), *more),
                ],
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._started = time.monotonic()
        assert self._proc.stdout is not None
        for _ in range(self._doors):
            found = _LISTENING.search(self._proc.stdout.readline())
            if not found:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the simulator did not start: {self._log.read_text()[-2000:]}")
            self.urls.append(found.group(1).decode())
        self.url = self.urls[0]
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
        _, self.cpu_s, _ = reap(self._proc)
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
