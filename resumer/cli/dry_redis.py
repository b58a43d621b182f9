"""`--dry-run` with `--redis` and `--metrics`: what the real run would meet at its start.

It connects as the run would (the same refusals: unreachable, a refused user, a Cluster node,
one sentence and exit 2), counts the rooms of the input already final in the `--ledger`
(the run would skip them) and the runs live on each app, and binds the `--metrics` address
once. It takes no lease and books no slot.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence

from resumer.config.model import RunConfig
from resumer.config.sharing import SharingConfig
from resumer.errors import UsageError

HMGET_BATCH = 1000  # rooms asked of a ledger per call


def check_metrics_address(config: RunConfig) -> None:
    """Refuse, in one sentence, a `--metrics` address the run could not listen on."""
    if config.metrics is None:
        return
    host, port = config.metrics
    try:
        for family, kind, proto, _name, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on --metrics {host}:{port} ({exc.strerror or exc}): "
            "free the port or pick another"
        ) from None


def fleet_view(
    sharing: SharingConfig, rooms: Mapping[int, Sequence[str]]
) -> dict[int, tuple[int, int]]:
    """Per app: (rooms of `rooms` final in the ledger, runs live on the app)."""
    return asyncio.run(_read(sharing, rooms))


async def _read(
    sharing: SharingConfig, rooms: Mapping[int, Sequence[str]]
) -> dict[int, tuple[int, int]]:
    # redis-py is the optional extra resumer[redis]: loaded only here
    from redis.exceptions import RedisError  # noqa: PLC0415

    from resumer.fleet import keys  # noqa: PLC0415
    from resumer.fleet.link import Link, reason  # noqa: PLC0415
    from resumer.fleet.status import read_status  # noqa: PLC0415

    link = await Link.connect(sharing.redis, shown_url=sharing.shown_redis, limit=1.0)
    try:
        state = await read_status(link.redis, shown_url=sharing.shown_redis)
        view: dict[int, tuple[int, int]] = {}
        for sdkappid, ids in rooms.items():
            final = 0
            if sharing.ledger is not None:
                ledger = keys.ledger(sdkappid, sharing.ledger)
                for start in range(0, len(ids), HMGET_BATCH):
                    found = await link.redis.hmget(ledger, list(ids[start : start + HMGET_BATCH]))
                    final += sum(1 for entry in found if entry is not None)
            live = sum(1 for runner in state.runners if sdkappid in runner.apps)
            view[sdkappid] = (final, live)
        return view
    except (RedisError, OSError) as exc:
        raise UsageError(
            f"cannot read Redis at {sharing.shown_redis} ({reason(exc)}): start it or fix --redis"
        ) from None
    finally:
        await link.close()
