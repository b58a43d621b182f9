"""The run's link to Redis: one client, calls that fail closed, one prober while Redis is gone.

Fail closed: a call that gets no answer (a refused or broken connection, a timeout, an error
reply such as OOM or READONLY) is not skipped and not answered locally: the caller waits, and
calls again once Redis answers. One prober probes with backoff meanwhile, so a hundred waiting
workers cost Redis one probe a second, not a hundred. The probe is a write (a SET of a key that
expires at once), not a PING: a Redis out of memory or turned read-only still answers PING while
every real call fails, and taking PONG for "back" would flap lost/back forever, the outage clock
reset each time, the run never stopped. Past `limit` seconds without an answer, `on_lost` is
told (the run stops, exit 3) and the callers' naps end in their app's stop.

redis-py's defaults (5 s timeouts, retries with backoff for most of a minute) would hold a
pacer far past the moment a slot was due: a call gives up within fleet.connect.SOCKET_TIMEOUT,
and retries once at once only (a pooled connection that a Redis restart broke). The calls of
`call` go through a client of their own whose socket has no timeout, each bounded as a whole
by `call` instead (see connect.untimed_client); the others (the probe, the heartbeat, the
start's) through one that times out on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from string import Template
from typing import TypeVar

import redis.asyncio as aioredis
import structlog
from redis.exceptions import (
    AuthenticationError,
    NoScriptError,
    RedisError,
)

from resumer.errors import RedisLostError, UsageError
from resumer.fleet import keys
from resumer.fleet.connect import (
    PROBE_TTL_MS,
    SOCKET_TIMEOUT,
    check_commands,
    connect_client,
    fitting_client,
    reason,
    untimed_client,
)
from resumer.fleet.repeat import GRACE
from resumer.timing import Sleep

T = TypeVar("T")

WAIT_STEP = 0.05  # seconds a caller waits between looks at whether Redis is back
FIRST_PROBE = 0.1  # seconds before the prober's first probe; it doubles up to LAST_PROBE
LAST_PROBE = 2.0


def lua(name: str, **constants: object) -> str:
    """The source of the fleet's Lua script `name`, its `$NAME`s filled in from `constants`."""
    text = resources.files("resumer.fleet").joinpath(name).read_text(encoding="utf-8")
    # Only a script with constants is a template: the others' Lua patterns use `$` as it is.
    return Template(text).substitute(constants) if constants else text


async def time_us(client: aioredis.Redis) -> int:
    """Redis's clock (`TIME`), in µs since the Unix epoch."""
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


class Script:
    """A Lua script, run by its SHA (EVALSHA) and loaded again on NOSCRIPT (a restart of Redis,
    SCRIPT FLUSH), as redis-py's `register_script` does, without the checks of redis-py's
    pipeline classes its calls make (one against a typing Protocol: a tenth of a call's CPU)."""

    def __init__(self, source: str) -> None:
        self.source = source
        # The name Redis knows the script by, not a safeguard.
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self,
        *,
        keys: Sequence[str | bytes],
        args: Sequence[str | bytes],
        client: aioredis.Redis,
    ) -> object:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


def runner_id() -> str:
    """A name for this run, unique on the Redis: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Link:
    """One run's connection to Redis (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        shown_url: str,
        limit: float,
        on_lost: Callable[[RedisLostError], None] = lambda _error: None,
        clock: Callable[[], float] | None = None,
        untimed: aioredis.Redis | None = None,
    ) -> None:
        self.redis = client  # for calls outside `call`: redis-py times them out on its own
        # The client of `call`, which bounds each call as a whole (see connect.untimed_client).
        self._untimed = untimed or client
        self.shown_url = shown_url  # the URL with any password masked
        self.runner = runner_id()
        self._limit = limit
        self.on_lost = on_lost  # told once, when Redis is gone past `limit`
        self._clock = clock or asyncio.get_running_loop().time
        self._log = structlog.get_logger("resumer")
        self._lost_since: float | None = None  # when a call first failed, while none succeeded
        self._waiting = False  # callers wait: a call failed, and no probe succeeded since
        self._delay = FIRST_PROBE  # the prober's next wait: doubles through one outage
        self._prober: asyncio.Task[None] | None = None
        self._closed = False
        self.outages = 0  # times Redis was lost and came back, or not
        self.calls = 0  # calls that Redis answered
        self._scripts: dict[str, Script] = {}  # by source

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        shown_url: str,
        limit: float,
        on_lost: Callable[[RedisLostError], None] = lambda _error: None,
    ) -> Link:
        """Connect and PING once: a Redis that does not answer at the start is a usage error."""
        client = connect_client(url, shown_url=shown_url)
        untimed: aioredis.Redis | None = None
        try:
            await client.ping()
            client = await fitting_client(client, url, shown_url=shown_url)
            await check_commands(client, shown_url)
            untimed = await untimed_client(client, url, shown_url=shown_url)
        except UsageError:
            await client.aclose()
            raise
        except AuthenticationError:
            await client.aclose()
            raise UsageError(
                f"Redis at {shown_url} wants a password, or another one: put it in the URL, "
                "e.g. redis://:PASSWORD@host:6379/0"
            ) from None
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise UsageError(
                f"cannot reach Redis at {shown_url} ({reason(exc)}): start it or fix --redis"
            ) from None
        return cls(client, shown_url=shown_url, limit=limit, on_lost=on_lost, untimed=untimed)

    @property
    def lost(self) -> bool:
        """Redis gave no answer to the last call, and has not answered since."""
        return self._lost_since is not None

    def script(self, source: str) -> Script:
        """A Lua script, run by its SHA and loaded again on NOSCRIPT (a restart, SCRIPT FLUSH).

        One per source, whoever asks (every app's pacer runs the same one): after a restart of
        Redis, one caller meets NOSCRIPT and loads it, not each."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = Script(source)
        return script

    async def load_scripts(self) -> None:
        """Load every script asked for so far (SCRIPT LOAD), at the start: the first calls,
        every app's at once, then find them loaded instead of each meeting NOSCRIPT, a failed
        call, and loading it again. Not failed closed: the start's calls are not."""
        for source in self._scripts:
            await self.redis.script_load(source)

    async def call(self, work: Callable[[aioredis.Redis], Awaitable[T]], sleep: Sleep) -> T:
        """`work(client)`'s answer; while Redis is lost, wait (with `sleep`) until it is back.

        `sleep` is the caller's nap: the run's stop (or Redis lost past the limit, which stops
        the run) ends it by raising, so no caller waits past the stop.
        """
        while True:
            if not self._waiting:
                try:
                    async with asyncio.timeout(SOCKET_TIMEOUT):  # a TimeoutError is an OSError
                        answer = await work(self._untimed)
                except (RedisError, OSError) as exc:
                    self._lose(exc)
                else:
                    self.calls += 1
                    self._back()
                    return answer
            await sleep(WAIT_STEP)

    def _lose(self, exc: BaseException) -> None:
        """A call failed: from now on, callers wait for the prober to hear from Redis."""
        if self._waiting:
            return
        self._waiting = True
        if self._lost_since is None:
            self._lost_since = self._clock()
            self._delay = FIRST_PROBE
            self.outages += 1
            self._log.warning(
                "redis_lost",
                redis=self.shown_url,
                reason=reason(exc),
                hint="no request is sent until Redis answers; "
                f"the run stops after {self._limit:g} s",
            )
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe(reason(exc)), name="resumer-redis-probe")

    def _back(self) -> None:
        """A call succeeded: the outage, if there was one, is over."""
        self._waiting = False  # a call that was out when another failed: Redis answers
        if self._lost_since is not None:
            lost_s = round(self._clock() - self._lost_since, 1)
            self._log.warning("redis_back", redis=self.shown_url, lost_s=lost_s)
            self._lost_since = None

    async def _probe(self, why: str) -> None:
        """Probe with backoff until Redis takes a write, or tell `on_lost` past the limit.

        A probe that succeeds lets the callers try again, but only a call that succeeds ends
        the outage: an error that the probe does not meet (a script's keys out of memory, an
        ACL that refuses a command) keeps the clock running to the limit, not reset each time.
        """
        while self._waiting and self._lost_since is not None and not self._closed:
            lost_for = self._clock() - self._lost_since
            if lost_for >= self._limit:
                self.on_lost(
                    RedisLostError(
                        f"Redis at {self.shown_url} did not answer for {self._limit:g} s "
                        f"({why}): once it is back, run the same command again with --resume"
                    )
                )
                return
            await asyncio.sleep(min(self._delay, self._limit - lost_for))
            self._delay = min(self._delay * 2, LAST_PROBE)
            try:
                await self.redis.set(keys.PROBES + self.runner, b"1", px=PROBE_TTL_MS)
            except (RedisError, OSError) as exc:
                why = reason(exc)
                continue
            self._waiting = False

    async def close(self) -> None:
        """Stop probing and close the connections."""
        self._closed = True
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.wait((self._prober,), timeout=GRACE)  # see fleet.repeat: never hang
        await self.redis.aclose()
        if self._untimed is not self.redis:
            await self._untimed.aclose()


__all__ = ["Link", "lua", "reason", "time_us"]  # `reason` is used by the fleet beside Link
