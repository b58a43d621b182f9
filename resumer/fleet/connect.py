"""Connecting to Redis at the start: the client, a Cluster found out, the commands checked.

Everything a run (or `--dry-run`, or `status`) must know before it relies on Redis is asked
here once, and each refusal is one sentence: an option redis-py refuses, an ACL user lacking a
command, a read-only replica, a Cluster node the user may not ask about.
"""

from __future__ import annotations

import secrets
from typing import cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    NoPermissionError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
)

from resumer.errors import UsageError
from resumer.fleet import keys

SOCKET_TIMEOUT = 1.0  # seconds a call may take: a script answers in well under a millisecond
PROBE_TTL_MS = 1000  # a probe's key is gone a second after it is written


def connect_client(
    url: str, *, shown_url: str, socket_timeout: float | None = SOCKET_TIMEOUT
) -> aioredis.Redis:
    """A client of `url` with short timeouts, retrying a failed call once, at once.

    A URL option redis-py refuses (`?db=x`, `?socket_timeout=abc`, an option the scheme does
    not take, such as `ssl_cert_reqs` on redis://) is one sentence here: redis-py raises some
    in `from_url` and the others only at the first connection, so one connection is built
    (not opened) to meet them now. `socket_timeout` None: calls with no timeout of their own
    (see `untimed_client`).
    """
    try:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
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
    return await _cluster_client(url, shown_url=shown_url, socket_timeout=SOCKET_TIMEOUT)


async def _cluster_client(
    url: str, *, shown_url: str, socket_timeout: float | None
) -> aioredis.Redis:
    try:
        cluster = RedisCluster.from_url(
            url,
            socket_timeout=socket_timeout,
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


async def untimed_client(client: aioredis.Redis, url: str, *, shown_url: str) -> aioredis.Redis:
    """A client of `url` of the same kind as `client` (plain or Cluster), whose calls have no
    socket timeout: the caller bounds each call as a whole (`Link.call`, by SOCKET_TIMEOUT).

    With a socket timeout, redis-py (on Python 3.11) sends every command inside
    `asyncio.wait_for`, a task per call; one `asyncio.timeout` around the call costs less. A
    call cut by it is cut as one that timed out: redis-py disconnects a connection cancelled
    mid-send or mid-read, so no answer is left behind to be read by the next call.
    """
    if isinstance(client, RedisCluster):
        return await _cluster_client(url, shown_url=shown_url, socket_timeout=None)
    return connect_client(url, shown_url=shown_url, socket_timeout=None)


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
