"""`resumer run`: its flags, the checks made before anything is sent, and the hand-off to launch."""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from resumer import inputs
from resumer.cli import exits
from resumer.cli.dry_run import dry_run
from resumer.cli.options import add_verbosity
from resumer.cli.output import check_output, check_output_for_dry_run
from resumer.cli.ready_usersigs import check_ready_usersigs, estimate_seconds
from resumer.config.load import build_config, environ, read_toml
from resumer.config.model import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    REGIONS,
    SECRET_KEY_ENV,
    Flags,
    RunConfig,
)
from resumer.config.sharing import REDIS_URL_ENV
from resumer.errors import UsageError
from resumer.observe import logs
from resumer.results.writer import ResultsWriter

if TYPE_CHECKING:
    from resumer.engine.summary import Summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `resumer run`, and the exit codes at the end of its help."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = exits.RUN_EXITS_HELP
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="files of room IDs; '-' or none: stdin"
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="TOML config; flags override it")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="results log (JSON Lines), appended to"
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip rooms already final in --output"
    )
    parser.add_argument("--sdkappid", type=int, help=f"one app; its key from {SECRET_KEY_ENV}")
    parser.add_argument("--identifier", metavar="NAME", help="the app's admin account")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", choices=list(REGIONS), help="the app's data centre")
    where.add_argument("--endpoint", metavar="URL", help="any base URL (the simulator, a proxy)")
    parser.add_argument(
        "--rate", type=float, help="requests/s per SDKAppID, at most 20 (default: 20)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help=f"requests in flight per SDKAppID (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        help=f"attempts per room for retryable errors (default: {DEFAULT_MAX_ATTEMPTS})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"one request's timeout (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--dry-run", action="store_true", help="check everything, send nothing")
    parser.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        default="auto",
        help="the log on stderr; auto: console at a terminal, else JSON (default: auto)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve Prometheus metrics at /metrics meanwhile"
    )
    parser.add_argument(
        "--metrics-push", metavar="URL", help="push the metrics to this Prometheus Pushgateway"
    )
    shared = parser.add_argument_group("several runs, one budget (needs resumer[redis])")
    shared.add_argument(
        "--redis",
        metavar="URL",
        help=f"share each app's budget and rooms in flight on this Redis (or {REDIS_URL_ENV})",
    )
    shared.add_argument(
        "--redis-timeout",
        metavar="DURATION",
        help="stop (exit 3) if Redis is gone this long (default: 60s)",
    )
    shared.add_argument(
        "--ledger", metavar="NAME", help="record final outcomes under NAME; skip rooms final there"
    )
    shared.add_argument(
        "--ledger-ttl", metavar="DURATION", help="keep ledger entries this long (default: 7d)"
    )
    add_verbosity(parser)


def run(args: argparse.Namespace) -> int:
    """Check the config, the input and the log; then resume every room, or plan it (--dry-run)."""
    logs.configure(args.log_format, verbosity=args.verbosity)
    config = _load_config(args)
    inputs.check_sources(args.inputs)
    if args.resume and not args.output:
        raise UsageError("--resume needs -o FILE: the results log of the run to finish")
    check_ready_usersigs(config, estimate_seconds(config, args.inputs))
    if args.dry_run:
        skip = check_output_for_dry_run(args)
        return dry_run(config, inputs.iter_entries(args.inputs, stdin=_stdin(args.inputs)), skip)
    # aiohttp and rich load only now: a dry run over a million rooms never needs them
    from resumer.cli import launch  # noqa: PLC0415

    # The log is opened and locked before it is read for --resume: nothing changes in between.
    with ResultsWriter.open(args.output) as writer:
        skip = check_output(writer, args)
        # With --redis, read again (streamed) for the ledgers before the first claim.
        finished = writer.final_records(skip) if args.resume else None
        entries = inputs.iter_entries(args.inputs, stdin=_stdin(args.inputs))
        _tune_gc()
        summary, stopped_by = asyncio.run(
            launch.resume_all(
                config,
                entries,
                writer,
                skip=skip,
                log_format=args.log_format,
                progress=not args.no_progress,
                verbosity=args.verbosity,
                finished=finished,
            )
        )
    return finish(summary, stopped_by)


def finish(summary: Summary, stopped_by: signal.Signals | None) -> int:
    """Say why any app stopped; the exit code of a finished run."""
    for sentence in summary.stopped.values():
        print(f"resumer: {sentence}", file=sys.stderr)
    return exits.for_run(summary, stopped_by)


def _tune_gc() -> None:
    """Keep the garbage collector off the hot path of a long run.

    The objects alive at start (modules, config) are frozen out of every collection, and the
    young generation is collected every 50,000 allocations instead of 700: at 2,000 requests/s
    the default thresholds ran full collections that stalled every app's pacing (bench/).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _load_config(args: argparse.Namespace) -> RunConfig:
    file = read_toml(args.config) if args.config else {}
    flags = Flags(
        sdkappid=args.sdkappid,
        identifier=args.identifier,
        region=args.region,
        endpoint=args.endpoint,
        rate=args.rate,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        metrics=args.metrics,
        metrics_push=args.metrics_push,
        redis=args.redis,
        redis_timeout=args.redis_timeout,
        ledger=args.ledger,
        ledger_ttl=args.ledger_ttl,
    )
    if args.region is not None:
        file = {k: v for k, v in file.items() if k != "endpoint"}  # a flag beats the file
    if args.endpoint is not None:
        file = {k: v for k, v in file.items() if k != "region"}
    base = Path(args.config).parent if args.config else Path()
    return build_config(file, flags, environ(), base=base)


def _stdin(sources: Sequence[str]) -> BinaryIO:
    """Standard input, if the input needs it: refused in one sentence if it is closed."""
    if sources and inputs.STDIN not in sources:
        return io.BytesIO()  # never read
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise UsageError(
            "standard input is closed: give the input file as an argument, or pipe the rooms in"
        )
    # A reader of its own, not sys.stdin.buffer: a stop may leave the input thread blocked in
    # a read, holding its reader's lock, and Python aborts at exit if that is sys.stdin's.
    return open(sys.stdin.fileno(), "rb", closefd=False)
