"""`resumer sim`: serve the simulator on loopback until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
from typing import Any

from resumer.cli.exits import EXIT_USAGE
from resumer.sim.config import SimConfig
from resumer.sim.profiles import PROFILE_NAMES, load_profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of `resumer sim` to its subparser."""
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument(
        "--profile",
        default="clean",
        metavar="NAME_OR_PATH",
        help=f"{', '.join(PROFILE_NAMES)} (default clean), or a TOML profile file",
    )
    parser.add_argument("--seed", type=int, help="seed of the random draws, for repeatable runs")
    parser.add_argument("--latency-ms", metavar="MIN:MAX", help="reply latency range in ms")
    parser.add_argument(
        "--jitter-ms",
        metavar="MIN:MAX",
        help="delay on the way in, before the window counts a request, uniform in ms",
    )
    parser.add_argument(
        "--jitter-tail",
        type=float,
        metavar="P",
        help="share of requests delayed 50-100 ms on the way in instead (heavy tail)",
    )
    parser.add_argument(
        "--neighbour-rate",
        type=float,
        metavar="N",
        help="requests/s another client spends of each app's budget",
    )
    parser.add_argument("--rate", type=int, metavar="N", help="accepted requests/s per SDKAppID")
    parser.add_argument(
        "--outage",
        action="append",
        metavar="START:END",
        help="seconds after start when every request fails (repeatable; replaces the profile's)",
    )


def run(args: argparse.Namespace) -> int:
    """Run `resumer sim`: 0 after a signal, 2 for a bad profile, flag or port."""
    try:
        config = _config(args)
    except ValueError as exc:
        print(f"resumer sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_serve(config, args))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"resumer sim: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _config(args: argparse.Namespace) -> SimConfig:
    """The profile with the flags applied; ValueError with a plain message."""
    config = load_profile(args.profile)
    changes: dict[str, Any] = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.rate is not None:
        changes["rate"] = args.rate
    if args.neighbour_rate is not None:
        changes["neighbour_rate"] = args.neighbour_rate
    if args.latency_ms is not None:
        low, high = _pair(args.latency_ms, "--latency-ms")
        changes["latency"] = dataclasses.replace(config.latency, min_ms=low, max_ms=high)
    jitter = config.jitter
    if args.jitter_ms is not None:
        low, high = _pair(args.jitter_ms, "--jitter-ms")
        jitter = dataclasses.replace(jitter, min_ms=low, max_ms=high)
    if args.jitter_tail is not None:
        jitter = dataclasses.replace(jitter, tail=args.jitter_tail)
    changes["jitter"] = jitter
    if args.outage:
        changes["outages"] = tuple(_pair(text, "--outage") for text in args.outage)
    # replace() runs SimConfig's checks again, so a bad flag value raises ValueError here
    return dataclasses.replace(config, **changes)


def _list_apps(sdkappids: list[int], shown: int = 4) -> str:
    """The SDKAppIDs for the listening line, cut short when a profile has many apps."""
    text = ", ".join(str(sdkappid) for sdkappid in sdkappids[:shown])
    if len(sdkappids) > shown:
        text += f" and {len(sdkappids) - shown} more"
    return text


def _pair(text: str, flag: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise ValueError(f"{flag} takes two numbers as A:B, not {text!r}") from None


async def _serve(config: SimConfig, args: argparse.Namespace) -> None:
    from resumer.sim.server import start_sim  # noqa: PLC0415  (aiohttp.web loads when served)

    sim = await start_sim(config, host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(sig, stop.set)
    apps = _list_apps(list(config.apps))
    print(f"resumer sim listening on {sim.url} (profile {args.profile}; apps {apps})", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        await sim.close()
