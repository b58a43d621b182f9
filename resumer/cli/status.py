"""`resumer status --redis URL`: the runs sharing that Redis, and each app's shared state."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import TYPE_CHECKING

from resumer.config.load import environ
from resumer.config.redact import mask_endpoint
from resumer.config.sharing import REDIS_URL_ENV, check_redis_url, require_redis_py
from resumer.errors import UsageError

if TYPE_CHECKING:
    from resumer.fleet.status import FleetState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `resumer status`."""
    parser.add_argument(
        "--redis", metavar="URL", help=f"the Redis the runs share (or {REDIS_URL_ENV})"
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="lines, or one JSON object"
    )


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 2 with a sentence if Redis cannot be read."""
    url = args.redis or environ().get(REDIS_URL_ENV)
    if not url:
        raise UsageError(f"which Redis? give --redis URL or set {REDIS_URL_ENV}")
    shown = mask_endpoint(url)
    check_redis_url(url, shown)
    require_redis_py()
    status = asyncio.run(_read(url, shown))
    if args.format == "json":
        print(json.dumps(status.as_dict(), indent=2))
    else:
        print("\n".join(_lines(status, now=time.time())))
    return 0


async def _read(url: str, shown: str) -> FleetState:
    # redis-py is the optional extra resumer[redis]: loaded only here
    from redis.exceptions import RedisError  # noqa: PLC0415

    from resumer.fleet.connect import connect_client, fitting_client  # noqa: PLC0415
    from resumer.fleet.status import read_status  # noqa: PLC0415

    client = connect_client(url, shown_url=shown)
    try:
        client = await fitting_client(client, url, shown_url=shown)
        return await read_status(client, shown_url=shown)
    except (RedisError, OSError) as exc:
        raise UsageError(
            f"cannot read Redis at {shown} ({type(exc).__name__}: {exc}): start it or fix --redis"
        ) from None
    finally:
        await client.aclose()


def _lines(status: FleetState, *, now: float) -> list[str]:
    runs = len(status.runners)
    lines = [f"Redis {status.redis}: {runs} run{'s' if runs != 1 else ''} alive"]
    for r in status.runners:
        apps = ", ".join(map(str, r.apps))
        lines.append(
            f"  {r.runner}  pid {r.pid}  apps {apps}  up {_ago(now - r.started)}  "
            f"heard from {_ago(now - r.seen)} ago"
        )
    if not status.apps:
        lines.append("no app has been paced on this Redis lately")
    for a in status.apps:
        cut = f", margin {a.margin:.1%}"
        if a.line is not None:
            cut = f", line {a.line:g}/s (the lowest --rate of {_runs(len(a.asked))}){cut}"
        if a.cut_rate is not None:
            cut += f", last cut to {a.cut_rate:g}/s {_ago(a.cut_ago)} ago"
        lines.append(
            f"app {a.sdkappid}: {a.sent_last_second} sent in the last second{cut}; "
            f"{a.leases} room{'s' if a.leases != 1 else ''} leased"
        )
        for name, counts in a.ledgers.items():
            shown = ", ".join(f"{status_name} {n}" for status_name, n in counts.items()) or "empty"
            label = "overlap ledger (every run)" if name == "-" else f"ledger {name}"
            lines.append(f"  {label}: {shown}")
    return lines


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
