"""`resumer demo`: the simulator in-process, a few hundred sample rooms, the real run pipeline."""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
from pathlib import Path

from resumer.cli import exits
from resumer.cli.options import add_verbosity
from resumer.config.model import AppConfig, RunConfig
from resumer.engine.summary import Summary
from resumer.errors import UsageError
from resumer.observe import logs
from resumer.records import Room
from resumer.results.writer import ResultsWriter
from resumer.sim.config import SimConfig
from resumer.sim.profiles import (
    DEMO_IDENTIFIER,
    DEMO_SDKAPPID,
    DEMO_SECRET_KEY,
    PROFILE_NAMES,
    load_profile,
)

GONE_EVERY = 41  # one room in 41 was dissolved meanwhile (the incident profile answers 100004)
VOD_EVERY = 67  # one in 67 is not a Live room (100006)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `resumer demo`."""
    parser.add_argument("--rooms", type=int, default=300, help="sample rooms (default 300)")
    parser.add_argument(
        "--profile",
        default="incident",
        help=f"the simulator's profile: {', '.join(PROFILE_NAMES)}, or a TOML file",
    )
    parser.add_argument("--log-format", choices=("auto", "console", "json"), default="auto")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    add_verbosity(parser)


def sample_rooms(count: int) -> list[Room]:
    """Room IDs as an operator's list would have them, a few of them gone or not Live."""
    rooms = []
    for n in range(1, count + 1):
        suffix = "-gone" if n % GONE_EVERY == 0 else "-vod" if n % VOD_EVERY == 0 else ""
        rooms.append(Room(room_id=f"live-{n:05d}{suffix}"))
    return rooms


def run(args: argparse.Namespace) -> int:
    """Start the simulator, resume the sample rooms through it, print where the log is.

    Its exit code says why the run stopped, as `resumer run`'s does; the sample's rejected and
    invalid rooms are what the demo shows, not a failure.
    """
    logs.configure(args.log_format, verbosity=args.verbosity)
    if not 1 <= args.rooms <= 1_000_000:
        raise UsageError("--rooms must be between 1 and 1000000")
    try:
        sim_config = load_profile(args.profile)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    results = Path(tempfile.mkdtemp(prefix="resumer-demo-")) / "results.jsonl"
    summary, stopped_by = asyncio.run(_resume_samples(args, sim_config, results))
    print(f"results log: {results}")
    print(f"try: jq -c 'select(.status != \"ok\")' {results}")
    print(f"     resumer report {results} --chart incident.png")
    stop = exits.for_stop(summary, stopped_by)
    return exits.EXIT_OK if stop is None else stop


async def _resume_samples(
    args: argparse.Namespace, sim_config: SimConfig, results: Path
) -> tuple[Summary, signal.Signals | None]:
    from resumer.cli import launch  # noqa: PLC0415  (aiohttp and rich load when used)
    from resumer.sim.server import start_sim  # noqa: PLC0415

    async with await start_sim(sim_config) as sim:
        config = RunConfig(
            apps=(
                AppConfig(
                    sdkappid=DEMO_SDKAPPID, identifier=DEMO_IDENTIFIER, secret_key=DEMO_SECRET_KEY
                ),
            ),
            endpoint=sim.url,
        )
        print(f"resumer demo: simulator at {sim.url} (profile {args.profile}), {args.rooms} rooms")
        with ResultsWriter.open(str(results)) as writer:
            return await launch.resume_all(
                config,
                iter(sample_rooms(args.rooms)),
                writer,
                skip=lambda _s, _r: False,
                log_format=args.log_format,
                progress=not args.no_progress,
                verbosity=args.verbosity,
            )
