"""`resumer run` end to end against stub servers for faults the simulator cannot make: replies
split across TCP segments, redirects, and ErrorInfo that tries to drive the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from resumer.sim.profiles import DEMO_SDKAPPID, DEMO_SECRET_KEY
from tests.support.e2e import app_flags, resumer, room_lines

# One reply: (status, headers, body pieces written with a pause between them).
Answer = Callable[[str], tuple[int, dict[str, str], list[bytes]]]


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.rooms: list[str] = []  # RoomId of each POST, "" for any other request
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API
    server: StubServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply(json.loads(body)["RoomId"])

    def do_GET(self) -> None:
        self._reply("")

    def _reply(self, room: str) -> None:
        with self.server.lock:
            self.server.rooms.append(room)
        status, headers, pieces = self.server.answer(room)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(sum(map(len, pieces))))
        self.end_headers()
        for n, piece in enumerate(pieces):
            if n:
                time.sleep(0.002)  # the next piece goes in a TCP segment of its own
            self.wfile.write(piece)
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(answer: Answer) -> Iterator[StubServer]:
    server = StubServer(answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def envelope(code: int, info: str = "", request_id: str = "Id-1") -> bytes:
    body = {"ActionStatus": "OK" if code == 0 else "FAIL", "ErrorInfo": info, "ErrorCode": code}
    return json.dumps(body | {"RequestId": request_id}).encode()


def test_replies_split_across_segments_are_read_whole_and_no_room_is_sent_twice(
    tmp_path: Path,
) -> None:
    def split(room: str) -> tuple[int, dict[str, str], list[bytes]]:
        body = envelope(0, request_id=f"Id-{room}")
        return 200, {"Content-Type": "application/json"}, [body[:40], body[40:]]

    with serving(split) as server:
        run = resumer(*app_flags(server.url), tmp=tmp_path, stdin=room_lines(20))
    assert run.code == 0, run.stderr
    assert sorted(server.rooms) == sorted(f"room-{i}" for i in range(20))  # each sent once
    assert {(r["status"], r["attempts"]) for r in run.records} == {("ok", 1)}
    assert {r["request_id"] for r in run.records} == {f"Id-room-{i}" for i in range(20)}


def test_a_redirect_is_never_followed_and_stops_the_app_with_a_sentence(tmp_path: Path) -> None:
    def ok(_room: str) -> tuple[int, dict[str, str], list[bytes]]:
        return 200, {}, [envelope(0)]

    with serving(ok) as elsewhere:

        def redirect(_room: str) -> tuple[int, dict[str, str], list[bytes]]:
            return 302, {"Location": f"{elsewhere.url}/steal?from=redirect"}, []

        with serving(redirect) as server:
            run = resumer(*app_flags(server.url), tmp=tmp_path, stdin=room_lines(10))
    assert run.code == 3, run.stderr
    assert elsewhere.rooms == []  # the UserSig never went to the Location host
    assert len(server.rooms) == 1  # the first request goes alone, and stops the app
    assert (
        f"app {DEMO_SDKAPPID} stopped after HTTP 302 (a redirect to {elsewhere.url}): "
        "point --endpoint at the API itself"
    ) in run.stderr
    assert "steal" not in run.stderr
    assert "usersig" not in run.stderr.lower()
    assert {r["status"] for r in run.records} == {"aborted"}
    assert "Traceback" not in run.stderr


def test_a_wrong_path_stops_at_once_saying_http_404(tmp_path: Path) -> None:
    def not_found(_room: str) -> tuple[int, dict[str, str], list[bytes]]:
        return 404, {"Content-Type": "text/html"}, [b"<h1>Not Found</h1>"]

    with serving(not_found) as server:
        run = resumer(*app_flags(server.url), tmp=tmp_path, stdin=room_lines(5))
    assert run.code == 3, run.stderr
    assert len(server.rooms) == 1
    assert "stopped after HTTP 404 (not the API's path): check --endpoint" in run.stderr
    assert "error 404" not in run.stderr


def test_error_info_that_drives_a_terminal_is_shown_and_recorded_escaped(tmp_path: Path) -> None:
    forged = "\x1b[2J\x1b[H\x1b[32mALL 3 ROOMS OK\x1b[0m\nnothing to see"
    escaped = "\\x1b[2J\\x1b[H\\x1b[32mALL 3 ROOMS OK\\x1b[0m\\x0anothing to see"
    replies = iter([100001, 100004])  # a retry (logged with its info), then a final refusal

    def hostile(_room: str) -> tuple[int, dict[str, str], list[bytes]]:
        return 200, {}, [envelope(next(replies), info=forged)]

    log = tmp_path / "out.jsonl"
    # -v: a retry is not notable, and the console shows it (with its info) only when asked
    flags = ("-o", str(log), "--log-format", "console", "--no-progress", "-v")
    with serving(hostile) as server:
        # the console log, as at a terminal (`e2e.resumer` asks for JSON, which escapes ESC)
        done = subprocess.run(
            [sys.executable, "-m", "resumer", "run", *app_flags(server.url), *flags],
            input=b"r\n",
            capture_output=True,
            # wide enough that the console does not cut the retry's line before its info
            env={**os.environ, "RESUMER_SECRET_KEY": DEMO_SECRET_KEY, "COLUMNS": "400"},
            timeout=60,
            check=False,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr  # the room is rejected
    assert "ALL 3 ROOMS OK" in stderr  # shown...
    assert "\x1b" not in stderr  # ...but it cannot drive the terminal
    assert json.loads(log.read_text())["error_info"] == escaped  # the log holds what was shown
