"""What a run knows of each app's shared state on Redis: its generation, and its protocol.

At its start a run writes `resumer:{APP}:gen` = `PROTOCOL RANDOM` if it is not there yet (SET NX),
and keeps what it finds there. Every claim and every booking carries that value to its script,
which compares it with the key in the same call (no round trip of its own) and refreshes the
key's TTL. The key gone or another means the Redis lost what the runs shared (it restarted
without persistence, FLUSHALL, a failover to an empty replica): the leases and ledgers are gone,
and a room another run finished or holds would be claimed and sent again. The run then stops as
on a lost Redis (exit 3, one sentence; `--resume` finishes), before any further claim or booking.

Rebuilding instead (each run publishing again the rooms it finished and the leases it holds)
would have to hold every run's claims until every other live run had published its own, and a
run that ended before the wipe could publish nothing: the rooms it finished would be sent again
all the same. Stopping costs the requests on the wire and a `--resume`; nothing is sent twice
past the moment the wipe is seen. The `--resume` rebuilds the ledgers from the results logs
(fleet.republish), so runs resumed together skip what the others finished.

The protocol (keys.PROTOCOL) is the version of the key layout and the scripts: a run refuses
at its start (exit 2) to share a Redis with a live run of another one, instead of running
different scripts on the same keys. Runs of versions before the protocol existed write no
`protocol` in their heartbeat: they count as protocol 1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence

import structlog

from resumer.errors import RedisLostError, UsageError
from resumer.fleet import keys
from resumer.fleet.link import Link

GENERATION_TTL_MS = (
    86_400_000  # a day after the app's last claim or booking: an idle app's key goes
)
UNVERSIONED = 1  # the protocol of runs whose heartbeat names none


class Generations:
    """The generation this run met per app, and what to do when a script finds another."""

    def __init__(self, link: Link, values: dict[int, str]) -> None:
        self._link = link
        self._values = values
        self._told = False

    def of(self, sdkappid: int) -> str:
        """The value the scripts compare with the app's key ("" for an app not met: unchecked)."""
        return self._values.get(sdkappid, "")

    def wiped(self, sdkappid: int) -> None:
        """A script found the app's generation gone or another: stop the run (once)."""
        if self._told:
            return
        self._told = True
        structlog.get_logger("resumer").error(
            "redis_wiped", sdkappid=sdkappid, redis=self._link.shown_url
        )
        self._link.on_lost(
            RedisLostError(
                f"Redis at {self._link.shown_url} lost the runs' shared state mid-run (restarted "
                "empty, flushed or failed over): stopped so that no room is sent twice; run the "
                "same command again with --resume (and give Redis AOF persistence)"
            )
        )


def refuse_other_protocols(protocols: Iterable[int], shown_url: str) -> None:
    """Exit 2 (UsageError) if a live run speaks another protocol than this one."""
    others = sorted({p for p in protocols if p != keys.PROTOCOL})
    if others:
        theirs = ", ".join(f"v{p}" for p in others)
        raise UsageError(
            f"a run of another resumer version is live on Redis at {shown_url} (key layout and "
            f"scripts {theirs}; this one {f'v{keys.PROTOCOL}'}): run one version at a time on "
            "one Redis, or give this run a Redis of its own"
        )


async def meet(link: Link, sdkappids: Sequence[int]) -> Generations:
    """Write each app's generation if it is not there, and keep what is there."""
    values: dict[int, str] = {}
    for sdkappid in sdkappids:
        key = keys.generation(sdkappid)
        mine = f"{keys.PROTOCOL} {secrets.token_hex(8)}"
        await link.redis.set(key, mine, nx=True, px=GENERATION_TTL_MS)
        found = await link.redis.get(key)
        text = found.decode() if isinstance(found, bytes) else str(found)
        if found is None or text.partition(" ")[0] != str(keys.PROTOCOL):
            # Left by a run of another protocol that is no longer live (checked before): ours now.
            await link.redis.set(key, mine, px=GENERATION_TTL_MS)
            text = mine
        values[sdkappid] = text
    return Generations(link, values)
