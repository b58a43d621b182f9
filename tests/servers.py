"""Real servers the tests start on loopback for themselves: a Prometheus Pushgateway.

Each runs as a child process on a free port of 127.0.0.1 and is stopped when its block ends.
`.ci/run` and `make check` install the Debian package; a missing binary fails the test with a
sentence saying so, it is never skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

READY_TIMEOUT = 10.0  # seconds for a server to answer its readiness check


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: apt-get install {package} (make check does)")
    return path


@contextmanager
def pushgateway() -> Iterator[str]:
    """A Pushgateway on a free port, without persistence; yields its base URL."""
    port = free_port()
    binary = _binary("prometheus-pushgateway", "prometheus-pushgateway")
    server = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{url} exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a child process's start-up, not pacing a test
    raise RuntimeError(f"{url} was not ready within {READY_TIMEOUT:g} s")
