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
pacer far past the moment a slot was due: the client here gives up on a call within
SOCKET_TIMEOUT, and retries once at once only (a pooled connection that a Redis restart broke).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from importlib import resources
from string import Template
from typing import TypeVar, cast

import redis.asyncio as aioredis
import structlog
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    AuthenticationError,
    NoPermissionError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

from resumer.errors import RedisLostError, UsageError
from resumer.fleet import keys
from resumer.fleet.repeat import GRACE
from resumer.timing import Sleep

T = TypeVar("T")

SOCKET_TIMEOUT = 1.0  # seconds a call may take: a script answers in well under a millisecond
WAIT_STEP = 0.05  # seconds a caller waits between looks at whether Redis is back
FIRST_PROBE = 0.1  # seconds before the prober's first probe; it doubles up to LAST_PROBE
LAST_PROBE = 2.0
PROBE_TTL_MS = 1000  # the probe's key is gone a second after it is written


def lua(name: str, **constants: object) -> str:
    """The source of the fleet's Lua script `name`, its `$NAME`s filled in from `constants`."""
    text = resources.files("resumer.fleet").joinpath(name).read_text(encoding="utf-8")
    # Only a script with constants is a template: the others' Lua patterns use `$` as it is.
    return Template(text).substitute(constants) if constants else text


async def time_us(client: aioredis.Redis) -> int:
    """Redis's clock (`TIME`), in µs since the Unix epoch."""
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


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
    ) -> None:
        self.redis = client
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
        try:
            await client.ping()
            client = await fitting_client(client, url, shown_url=shown_url)
            await check_commands(client, shown_url)
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
        return cls(client, shown_url=shown_url, limit=limit, on_lost=on_lost)

    @property
    def lost(self) -> bool:
        """Redis gave no answer to the last call, and has not answered since."""
        return self._lost_since is not None

    def script(self, source: str) -> Callable[..., Awaitable[object]]:
        """A Lua script, run by its SHA and loaded again on NOSCRIPT (a restart, SCRIPT FLUSH)."""
        return self.redis.register_script(source)

    async def call(self, work: Callable[[aioredis.Redis], Awaitable[T]], sleep: Sleep) -> T:
        """`work(client)`'s answer; while Redis is lost, wait (with `sleep`) until it is back.

        `sleep` is the caller's nap: the run's stop (or Redis lost past the limit, which stops
        the run) ends it by raising, so no caller waits past the stop.
        """
        while True:
            if not self._waiting:
                try:
                    answer = await work(self.redis)
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


def connect_client(url: str, *, shown_url: str) -> aioredis.Redis:
    """A client of `url` with short timeouts, retrying a failed call once, at once.

    A URL option redis-py refuses (`?db=x`, `?socket_timeout=abc`, an option the scheme does
    not take, such as `ssl_cert_reqs` on redis://) is one sentence here: redis-py raises some
    in `from_url` and the others only at the first connection, so one connection is built
    (not opened) to meet them now.
    """
    try:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
            decode_responses=False,
        )
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"--redis '{shown_url}' has an option redis-py refuses ({_option_error(exc)}): "
            "fix or drop it"
        ) from None
    return client


async def fitting_client(client: aioredis.Redis, url: str, *, shown_url: str) -> aioredis.Redis:
    """`client`, or in its place a Cluster client of `url` if `url` names a Redis Cluster node.

    Found by asking (`INFO cluster` says cluster_enabled:1), not by a flag: the same URL works
    whether the operator knows the Redis behind it is a Cluster or not. The Cluster client
    (redis-py's RedisCluster) learns the slots from that node, sends each call to its key's
    slot and follows MOVED and ASK; it answers every command the run calls as the plain client
    does, hence the cast. A user that may not run INFO meets MOVED in `check_commands`.
    """
    try:
        info = await client.info("cluster")
    except NoPermissionError:
        return client
    if int(info.get("cluster_enabled", 0)) != 1:
        return client
    await client.aclose()
    try:
        cluster = RedisCluster.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
            decode_responses=False,
        )
        await cluster.initialize()
    except (ValueError, TypeError, RedisClusterException) as exc:
        raise UsageError(
            f"--redis '{shown_url}' names a Redis Cluster node, and the Cluster client refuses "
            f"it ({_option_error(exc)}): fix the URL"
        ) from None
    return cast("aioredis.Redis", cluster)


def _option_error(exc: BaseException) -> str:
    """redis-py's complaint about a URL option, in a few words, with no password in it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace("AbstractConnection.__init__() got an ", "")
    return text.removesuffix(".")[:120]


# The commands a run calls, in its own calls and inside its scripts (Redis checks a script's
# commands against the user's ACL too). Each is called once at the start, on keys of the probe's
# own that expire at once: a user the ACL refuses one of them is told then, in one sentence, and
# not read as an outage mid-run. docs/fleet.md gives the ACL SETUSER line these make.
NEEDED_COMMANDS = (
    "+ping +info +time +get +set +del +mget +incr +pexpire +hset +hget +hmget +hgetall "
    "+hincrby +hdel +zadd +zcount +zrange +zrangebyscore +zrem +zremrangebyscore +sadd "
    "+smembers +scan +evalsha +script|load"
)
SPREAD_KEYS = 32  # keys read at the start in as many slots: a 3-node Cluster misses 3**-32
_CHECK_SCRIPT = """
local s, h, z = KEYS[1], KEYS[2], KEYS[3]
redis.call('SET', s, '1', 'PX', 1000)
redis.call('GET', s)
redis.call('INCR', s)
redis.call('PEXPIRE', s, 1000)
redis.call('HSET', h, 'f', 1)
redis.call('HINCRBY', h, 'f', 1)
redis.call('HGET', h, 'f')
redis.call('HMGET', h, 'f')
redis.call('HDEL', h, 'f')
redis.call('ZADD', z, 1, 'm')
redis.call('ZCOUNT', z, 0, 2)
redis.call('ZRANGE', z, 0, -1)
redis.call('ZREMRANGEBYSCORE', z, 0, 0)
redis.call('ZREM', z, 'm')
redis.call('TIME')
redis.call('DEL', s, h, z)
return 1
"""


async def check_commands(client: aioredis.Redis, shown_url: str) -> None:
    """Refuse, in one sentence, a Redis the run cannot use: an ACL user lacking a command
    the run needs, a read-only user, or a Redis Cluster node it could not tell for one."""
    probe = keys.PROBES + "{check:" + secrets.token_hex(4) + "}"
    try:
        await client.time()
        sha = await client.script_load(_CHECK_SCRIPT)
        await client.evalsha(sha, 3, probe + ":s", probe + ":h", probe + ":z")
        await client.set(probe, b"1", px=PROBE_TTL_MS)
        await client.mget([probe])
        await client.hgetall(probe + ":h")
        await client.smembers(probe + ":z")
        await client.zrangebyscore(probe + ":z", 0, 1)
        await client.zrem(probe + ":z", b"m")
        await client.sadd(probe + ":t", b"m")
        await client.scan(cursor=0, match=keys.RUNNERS + "*", count=1)
        await client.delete(probe, probe + ":t")
        # Keys whose slots spread over the key space, and the runs' own: a Cluster node a
        # plain client was left with (its user may not run INFO) answers MOVED for some.
        async with client.pipeline(transaction=False) as pipe:
            pipe.get(keys.APPS)
            for tag in range(SPREAD_KEYS):
                pipe.get(f"{keys.PROBES}{{{tag}}}")
            await pipe.execute()
    except ResponseError as exc:
        refusal = _refusal(exc, shown_url)
        if refusal is not None:
            raise UsageError(refusal) from None
        # Anything else (OOM under noeviction, LOADING) passes: the run's calls meet it as an
        # outage, wait, and go on once it clears.


def _refusal(exc: ResponseError, shown_url: str) -> str | None:
    """The sentence for a Redis that refuses the start's calls, if it is a refusal."""
    text = str(exc)
    denied = ("NOPERM", "no permissions", "can't run this command")  # the last: in a script
    if isinstance(exc, NoPermissionError) or any(words in text for words in denied):
        return (
            f"Redis at {shown_url} refuses a command the run needs ({reason(exc)}): give the "
            f"user the commands of docs/fleet.md's ACL SETUSER line ({NEEDED_COMMANDS})"
        )
    if isinstance(exc, AskError) or text.startswith(("MOVED", "ASK")):  # MovedError is an ASK
        return (
            f"Redis at {shown_url} answers MOVED, as a Redis Cluster node does, and the user "
            "may not run INFO, which tells resumer it is one: grant the user +info"
        )
    if isinstance(exc, ReadOnlyError) or text.startswith("READONLY"):
        return f"Redis at {shown_url} is a read-only replica: name its primary"
    return None


def reason(exc: BaseException) -> str:
    """A Redis failure in a few words, for a log line or a sentence."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
