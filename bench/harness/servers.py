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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

READY_TIMEOUT = 10.0  # seconds for a server to answer its readiness check
SLOTS = 16384  # a Redis Cluster's hash slots


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

    def __init__(self, directory: Path, extra: Sequence[str] = (), port: int = 0) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._extra = list(extra)  # more of redis-server's flags (a Cluster node's)
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
                *self._extra,
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
def redis_server(extra: Sequence[str] = ()) -> Iterator[RedisServer]:
    """A running `RedisServer` (with more flags: `extra`), stopped (and resumed first, if
    paused) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="resumer-redis-") as directory:
        server = RedisServer(Path(directory), extra)
        server.start()
        try:
            yield server
        finally:
            if server._process is not None:
                os.kill(server._process.pid, signal.SIGCONT)
            server.stop()


@contextmanager
def redis_cluster(primaries: int = 3) -> Iterator[list[RedisServer]]:
    """A Redis Cluster of `primaries` primaries (no replicas) on free ports, its slots spread
    evenly; yields its nodes once every node says cluster_state:ok, and
    stops them all when the block ends, whatever happened."""
    with tempfile.TemporaryDirectory(prefix="resumer-cluster-") as directory:
        nodes: list[RedisServer] = []
        try:
            for n in range(primaries):
                home = Path(directory) / str(n)
                home.mkdir()
                conf = str(home / "nodes.conf")
                flags = ["--cluster-enabled", "yes", "--cluster-config-file", conf]
                node = RedisServer(home, flags, port=_cluster_port())
                nodes.append(node)
                node.start()
            # What `redis-cli --cluster create ... --cluster-replicas 0` does, without its
            # one-second waits: each node takes an equal share of the slots, then meets the rest.
            share = SLOTS // len(nodes)
            for n, node in enumerate(nodes):
                last = SLOTS - 1 if n == len(nodes) - 1 else (n + 1) * share - 1
                _expect(node, "CLUSTER", "ADDSLOTSRANGE", str(n * share), str(last))
            for node in nodes[1:]:
                _expect(nodes[0], "CLUSTER", "MEET", "127.0.0.1", str(node.port))
            deadline = time.monotonic() + READY_TIMEOUT
            while not all(_cluster_ok(node) for node in nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster was not ready in {READY_TIMEOUT:g} s")
                time.sleep(0.05)  # polling the cluster's start-up, not pacing a test
            yield nodes
        finally:
            for node in nodes:
                if node._process is not None and node._process.poll() is None:
                    os.kill(node._process.pid, signal.SIGCONT)
                node.stop()


def _expect(node: RedisServer, *words: str) -> None:
    reply = node.command(*words)
    if reply != "+OK":
        raise RuntimeError(f"{' '.join(words)} on port {node.port}: {reply!r}")


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 above it) is a port, and free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _cluster_ok(node: RedisServer) -> bool:
    """The node knows every slot's owner (`CLUSTER INFO` says cluster_state:ok)."""
    request = "*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n"
    try:
        with socket.create_connection(("127.0.0.1", node.port), timeout=2) as conn:
            conn.sendall(request.encode())
            return b"cluster_state:ok" in conn.recv(65536)
    except OSError:
        return False


def tls_files(directory: Path) -> dict[str, Path]:
    """A self-signed CA, a server certificate for 127.0.0.1 and a client certificate, made
    with the openssl CLI in `directory`. Keys: ca, server_cert, server_key, client_cert,
    client_key, and other_ca (a CA that signed neither)."""
    openssl = _binary("openssl", "openssl")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*words: str) -> None:
        subprocess.run([openssl, *words], cwd=directory, capture_output=True, check=True)

    for ca in ("ca", "other_ca"):
        run("req", "-x509", *key, "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "1",
            "-subj", f"/CN=resumer test {ca}")  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    files = {"ca": directory / "ca.crt", "other_ca": directory / "other_ca.crt"}
    for who in ("server", "client"):
        run("req", *key, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        run(
            "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{who}.crt", "-days", "1", "-extfile", "san.cnf",
        )  # fmt: skip
        files[f"{who}_cert"] = directory / f"{who}.crt"
        files[f"{who}_key"] = directory / f"{who}.key"
    return files


def tls_flags(files: dict[str, Path], port: int, auth_clients: str = "optional") -> list[str]:
    """redis-server's flags to take TLS on `port` with `files` (its plain port stays open,
    for the tests' own plain-socket commands)."""
    return [
        "--tls-port", str(port),
        "--tls-cert-file", str(files["server_cert"]),
        "--tls-key-file", str(files["server_key"]),
        "--tls-ca-cert-file", str(files["ca"]),
        "--tls-auth-clients", auth_clients,
    ]  # fmt: skip
