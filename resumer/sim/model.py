"""The simulated API's decisions, pure: one request and the time in, one answer out.

`SimModel.handle` checks a request in the order a real server would, and the first check
that fails gives the answer:

    sdkappid missing or empty            60012
    sdkappid not an unsigned integer     60006  (invalid)
    sdkappid not configured              70020  (not found: wrong key or data centre)
    app locked after failed signatures   70050  (10 failures of 70009 within 60 s lock 60 s)
    identifier, usersig or contenttype missing, contenttype not "json",
      random not an integer in 0..2^32-1 60025
    usersig empty                        70002
    usersig undecodable                  70003
    identifier differs from the UserSig  70013
    sdkappid differs from the UserSig    70014
    signed with another key              70009
    expired (time + expire < now)        70001
    identifier not an admin of the app   60010
    body not a JSON object, RoomId not a string of 1..48 UTF-8 bytes    100002
    window full: `rate` requests accepted in the last `window` s        100422
    room missing, or not a live room     100004, 100006
    room operated on less than `room_interval` s ago                    100427
    the room's next scripted step, then an outage, then a random fault, else ok

A request is *accepted* once it passes the window, and only accepted requests fill it; a
100422 does not. The room interval starts at every request that passes its check, whatever
answer follows (the backend began a mixing operation). The neighbour, another client of the
same app, is simulated lazily: its requests, at an even pace from the start, are played into
the window before each arrival, exactly as a background task would have sent them.

Times: `now` is monotonic seconds (the event loop's clock), `now_unix` is wall-clock seconds
for UserSig expiry. Random draws come from one `random.Random(seed)`.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import deque
from collections.abc import Mapping
from typing import Any

from resumer.api.usersig import UserSigInfo, decode_usersig, signature_matches
from resumer.errors import UserSigError
from resumer.sim.config import AppSecret, Jitter, Latency, SimConfig
from resumer.sim.replies import Answer, broken, envelope
from resumer.sim.stats import AppTraffic
from resumer.sim.window import SlidingWindow

__all__ = ["AppSecret", "Jitter", "Latency", "SimConfig", "SimModel"]

MAX_ROOM_BYTES = 48
MAX_RANDOM = 0xFFFFFFFF
LOCK_FAILURES = 10  # failed signature checks within LOCK_SPAN that lock the app
LOCK_SPAN = 60.0  # seconds, both to count failures and to stay locked


class _App:
    """Mutable state of one configured app."""

    def __init__(self, secret: AppSecret, *, window: float) -> None:
        self.secret = secret
        self.window = SlidingWindow(window)  # accepted requests, the neighbour's included
        self.neighbour_sent = 0  # how many neighbour requests have been played
        self.sig_failures = SlidingWindow(LOCK_SPAN)
        self.locked_until = -float("inf")
        self.last_op: dict[str, float] = {}  # room -> start of its current interval
        self.ops: deque[tuple[float, str]] = deque()  # (time, room), to expire last_op
        self.script_pos: dict[str, int] = {}  # room -> index of its next scripted step
        self.stats = AppTraffic()


class SimModel:
    """The simulated API's state and decisions. Not thread-safe: one event loop drives it."""

    def __init__(self, config: SimConfig, *, start: float) -> None:
        self.config = config
        self.start = start
        self._rng = random.Random(config.seed)
        # Its own draws, so adding jitter leaves a seed's faults and latencies as they were.
        self._jitter_rng = random.Random(None if config.seed is None else config.seed + 1)
        self._seq = 0
        self._apps = {
            sdkappid: _App(secret, window=config.window) for sdkappid, secret in config.apps.items()
        }
        self._unrouted: dict[str, int] = {}
        self._missing = _pattern(config.missing_pattern)
        self._not_live = _pattern(config.not_live_pattern)
        self._faults = tuple(config.faults.items())

    def handle(
        self, query: Mapping[str, str], body: bytes, *, now: float, now_unix: float
    ) -> Answer:
        """Check one request that arrived at `now` and decide its answer."""
        sdkappid_text = query.get("sdkappid", "")
        sdkappid = _uint(sdkappid_text)
        app = None if sdkappid is None else self._apps.get(sdkappid)
        if sdkappid is None or app is None:
            code = 60012 if not sdkappid_text else 60006 if sdkappid is None else 70020
            self._unrouted[str(code)] = self._unrouted.get(str(code), 0) + 1
            return envelope(code, self._request_id(), delay=self._latency())
        self._play_neighbour(app, now)
        app.stats.arrival(now - self.start, in_outage=self._outage(now))
        answer = self._decide(app, sdkappid, query, body, now=now, now_unix=now_unix)
        app.stats.by_kind[answer.kind] += 1
        return answer

    def _decide(
        self,
        app: _App,
        sdkappid: int,
        query: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        now_unix: float,
    ) -> Answer:
        if now < app.locked_until:
            return self._reply("70050")
        code = self._verify(app, sdkappid, query, now_unix)
        if code == 70009 and app.sig_failures.add(now) >= LOCK_FAILURES:
            app.locked_until = now + LOCK_SPAN
        if code:
            return self._reply(str(code))
        room = _room_id(body)
        if room is None:
            return self._reply("100002")
        app.stats.rooms[room] += 1
        if not app.window.admit(now, self.config.rate):
            return self._reply("100422")
        app.stats.admitted(now - self.start, neighbour=False)
        return self._accepted(app, room, now)

    def _accepted(self, app: _App, room: str, now: float) -> Answer:
        """The answer to a request the window accepted."""
        if room in self.config.missing_rooms or (self._missing and self._missing.search(room)):
            return self._reply("100004")
        if room in self.config.not_live_rooms or (self._not_live and self._not_live.search(room)):
            return self._reply("100006")
        if self._too_fast(app, room, now):
            return self._reply("100427")
        steps = self.config.scripts.get(room)
        if steps:
            pos = app.script_pos.get(room, 0)
            if pos < len(steps):
                app.script_pos[room] = pos + 1
                return self._reply(steps[pos], app)
        if self._outage(now):
            return self._reply(self.config.outage_kind, app)
        return self._reply(self._fault(), app)

    def _verify(  # noqa: PLR0911 - one early return per check reads as the table above
        self, app: _App, sdkappid: int, query: Mapping[str, str], now_unix: float
    ) -> int:
        """0 if the query's credentials are good for `app`, else the error code."""
        identifier = query.get("identifier")
        usersig = query.get("usersig")
        random_ = _uint(query.get("random", ""))
        if (
            not identifier
            or usersig is None
            or query.get("contenttype") != "json"
            or random_ is None
            or random_ > MAX_RANDOM
        ):
            return 60025
        if not usersig:
            return 70002
        info = _decode(usersig)
        if info is None:
            return 70003
        if info.identifier != identifier:
            return 70013
        if info.sdkappid != sdkappid:
            return 70014
        if not _signed(info, app.secret.secret_key):
            return 70009
        if info.expires_at < now_unix:
            return 70001
        if identifier not in app.secret.admins:
            return 60010
        return 0

    def _too_fast(self, app: _App, room: str, now: float) -> bool:
        """True if `room` began an operation less than `room_interval` ago; else start one."""
        interval = self.config.room_interval
        if interval <= 0:
            return False
        # forget rooms whose interval is over, so memory stays at rate x interval rooms
        while app.ops and app.ops[0][0] <= now - interval:
            t, old = app.ops.popleft()
            if app.last_op.get(old) == t:
                del app.last_op[old]
        if room in app.last_op:
            return True
        app.last_op[room] = now
        app.ops.append((now, room))
        return False

    def _play_neighbour(self, app: _App, now: float) -> None:
        """Send the neighbour's requests due by `now` into the app's window."""
        rate = self.config.neighbour_rate
        if rate <= 0:
            return
        while (t := self.start + app.neighbour_sent / rate) <= now:
            app.neighbour_sent += 1
            if app.window.admit(t, self.config.rate):
                app.stats.admitted(t - self.start, neighbour=True)
            else:
                app.stats.neighbour_throttled += 1

    def _outage(self, now: float) -> bool:
        since = now - self.start
        return any(start <= since < end for start, end in self.config.outages)

    def _fault(self) -> str:
        """A random fault kind, or "ok"."""
        if not self._faults:
            return "ok"
        draw = self._rng.random()
        for kind, p in self._faults:
            if draw < p:
                return kind
            draw -= p
        return "ok"

    def _reply(self, kind: str, app: _App | None = None) -> Answer:
        """The answer of a kind (see resumer.sim.config), with its delay."""
        request_id = self._request_id()
        if kind == "hang":
            return Answer(status=0, body=b"", content_type="", kind="hang", hang=True)
        if kind == "slow":
            if app is not None:
                app.stats.slow_replies += 1
            return envelope(0, request_id, delay=self.config.latency.slow_ms / 1000)
        if kind == "ok":
            return envelope(0, request_id, delay=self._latency())
        if kind.isdigit():
            return envelope(int(kind), request_id, delay=self._latency())
        return broken(kind, request_id, delay=self._latency())

    def arrival_delay(self) -> float:
        """Seconds this request spends on the way in, before the window counts it."""
        jitter = self.config.jitter
        if not jitter.active:
            return 0.0
        rng = self._jitter_rng
        if jitter.tail and rng.random() < jitter.tail:
            return rng.uniform(jitter.tail_min_ms, jitter.tail_max_ms) / 1000
        return rng.uniform(jitter.min_ms, jitter.max_ms) / 1000

    def _latency(self) -> float:
        lat = self.config.latency
        if lat.max_ms <= 0:
            return 0.0
        return self._rng.uniform(lat.min_ms, lat.max_ms) / 1000

    def _request_id(self) -> str:
        self._seq += 1
        return f"Id-{self._rng.getrandbits(128):032x}-O-Seq-{self._seq}"

    def stats(self, *, now: float, rooms: bool = True) -> dict[str, Any]:
        """Everything counted so far, as JSON-ready dicts (shape: see resumer.sim.stats)."""
        for app in self._apps.values():
            self._play_neighbour(app, now)
        return {
            "uptime_s": round(now - self.start, 6),
            "rate": self.config.rate,
            "window_s": self.config.window,
            "apps": {
                str(sdkappid): app.stats.as_json(rooms=rooms)
                for sdkappid, app in self._apps.items()
            },
            "unrouted": dict(sorted(self._unrouted.items())),
        }

    def reset_stats(self, *, now: float) -> None:
        """Zero the counters; the window, scripts, intervals and locks keep their state."""
        for app in self._apps.values():
            self._play_neighbour(app, now)
            app.stats = AppTraffic()
        self._unrouted.clear()


def _uint(text: str) -> int | None:
    """The value of a decimal unsigned integer written in ASCII digits, else None."""
    # the length cap keeps int() clear of its 4300-digit limit, which raises ValueError
    return int(text) if len(text) <= 20 and text.isascii() and text.isdigit() else None


def _room_id(body: bytes) -> str | None:
    """The body's RoomId if it is a string of 1..48 UTF-8 bytes, else None."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON or UTF-8; absurdly deep nesting
        return None
    room = data.get("RoomId") if isinstance(data, dict) else None
    if not isinstance(room, str):
        return None
    try:
        size = len(room.encode())
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape is not UTF-8
        return None
    return room if 1 <= size <= MAX_ROOM_BYTES else None


def _pattern(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern is not None else None


# A client sends the same UserSig for hours: decoding and checking it once is enough.
@functools.lru_cache(maxsize=1024)
def _decode(usersig: str) -> UserSigInfo | None:
    try:
        return decode_usersig(usersig)
    except (UserSigError, RecursionError):  # RecursionError: JSON nested absurdly deep
        return None


@functools.lru_cache(maxsize=1024)
def _signed(info: UserSigInfo, secret_key: str) -> bool:
    return signature_matches(info, secret_key)
