"""Real servers the tests and benchmarks start on loopback: a Prometheus Pushgateway, Redis.

Each runs as a child process on a free port of 127.0.0.1 and is stopped when its block ends.
`.ci/run` and `make check` install the Debian package; a missing binary fails the test with a
sentence saying so, it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class RedisServer:
    """A real `redis-server` of its own, on a free port of 127.0.0.1, in a temp dir.

    Not `--port 0`: to redis-server that means "no TCP at all". Nothing is persisted, so a
    `restart` starts empty, as a Redis that lost its state does.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        binary = _binary("redis-server", "redis-server")
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self._directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            if self.command("PING") == "+PONG":
                return
            time.sleep(0.02)  # polling a child process's start-up, not pacing a test
        raise RuntimeError(f"redis-server on port {self.port} was not ready in {READY_TIMEOUT:g} s")

    def command(self, *words: str) -> str:
        """One command over a plain socket; the first line of the reply ('' if none came)."""
        request = "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(f"*{len(words)}\r\n{request}".encode())
                return conn.recv(65536).decode(errors="replace").split("\r\n", 1)[0]
        except OSError:
            return ""

    def pause(self) -> None:
        """SIGSTOP: Redis hangs, connections stay open and every call times out."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop it (SIGKILL: no goodbye to the clients, as a crash)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        """Stop it and start it again on the same port, empty."""
        self.stop()
        self.start()

    def _signal(self, signum: signal.Signals) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signum)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running `RedisServer`, stopped (and resumed first, if paused) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="resumer-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            yield server
        finally:
            if server._process is not None:
                os.kill(server._process.pid, signal.SIGCONT)
            server.stop()
