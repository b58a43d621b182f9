"""The command line: parse flags, wire the layers, print, and map every outcome to an exit code.

Exit codes: 0 every room ok; 1 some room rejected, invalid or gave up; 2 usage, config or input
error (nothing sent); 3 an app stopped by a fatal error; 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resumer import __version__, inputs, logs
from resumer.config import (
    REGIONS,
    SECRET_KEY_ENV,
    USERSIG_ENV,
    RunConfig,
    build_config,
    environ,
    read_toml,
)
from resumer.errors import UsageError, UserSigError
from resumer.pacer import MARGIN
from resumer.records import Status
from resumer.results import ResultsWriter, has_records, read_final
from resumer.routing import Entry, Route, Router
from resumer.usersig import decode_usersig, make_usersig

if TYPE_CHECKING:
    from resumer.summary import Summary

EXIT_OK, EXIT_FAILED_ROOMS, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
Skip = Callable[[int | None, str], bool]
PACE = 1 - MARGIN  # the share of the budget the pacer runs at


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `resumer` command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"resumer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_SIGNAL[signal.SIGINT]
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resumer",
        description="Resume the mixed-stream (MCU) task of every listed TUILiveKit room, "
        "at the API's budget of 20 requests/s per SDKAppID.",
    )
    parser.add_argument("--version", action="version", version=f"resumer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="resume every room listed in the input")
    run.set_defaults(handler=_run)
    run.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="files of room IDs; '-' or none: stdin"
    )
    run.add_argument("-c", "--config", metavar="FILE", help="TOML config; flags override it")
    run.add_argument("-o", "--output", metavar="FILE", help="results log (JSON Lines), appended to")
    run.add_argument("--resume", action="store_true", help="skip rooms already final in --output")
    run.add_argument("--sdkappid", type=int, help=f"one app; its key from {SECRET_KEY_ENV}")
    run.add_argument("--identifier", metavar="NAME", help="the app's admin account")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--region", choices=list(REGIONS), help="the app's data centre")
    where.add_argument("--endpoint", metavar="URL", help="any base URL (the simulator, a proxy)")
    run.add_argument("--rate", type=float, help="requests/s per SDKAppID, at most 20 (default)")
    run.add_argument("--concurrency", type=int, help="requests in flight per SDKAppID")
    run.add_argument("--max-attempts", type=int, help="attempts per room for retryable errors")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="one request's timeout")
    run.add_argument("--dry-run", action="store_true", help="check everything, send nothing")
    run.add_argument("--log-format", choices=("auto", "console", "json"), default="auto")
    run.add_argument("--no-progress", action="store_true", help="no progress display")

    sig = commands.add_parser("usersig", help="print a UserSig made from RESUMER_SECRET_KEY")
    sig.set_defaults(handler=_usersig)
    sig.add_argument("--sdkappid", type=int, required=True)
    sig.add_argument("--identifier", required=True)
    sig.add_argument("--expire", type=int, default=86400, metavar="SECONDS")

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: Any) -> None:
    """`sim` and `demo` live in their own modules; the CLI only wires them in."""
    from resumer import demo  # noqa: PLC0415  (see _run: heavy modules load when used)
    from resumer.sim import cli as sim_cli  # noqa: PLC0415

    sim = commands.add_parser("sim", help="run the local simulator of the API")
    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=sim_cli.run)

    demo_parser = commands.add_parser(
        "demo", help="start the simulator in-process and resume a few hundred sample rooms"
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from resumer import demo  # noqa: PLC0415

    logs.configure(args.log_format)
    return demo.run(args)


def _usersig(args: argparse.Namespace) -> int:
    secret = environ().get(SECRET_KEY_ENV)
    if not secret:
        raise UsageError(f"set {SECRET_KEY_ENV} to the app's secret key first")
    if args.expire <= 0:
        raise UsageError("--expire must be a positive number of seconds")
    print(
        make_usersig(
            sdkappid=args.sdkappid,
            identifier=args.identifier,
            secret_key=secret,
            now=int(time.time()),
            expire=args.expire,
        )
    )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    logs.configure(args.log_format)
    config = _load_config(args)
    inputs.check_sources(args.inputs)
    if args.output and has_records(args.output) and not args.resume and not args.dry_run:
        raise UsageError(
            f"results log '{args.output}' already holds records: add --resume to finish that "
            "run, or give another -o"
        )
    _check_ready_usersigs(config, _estimate_seconds(config, args.inputs))
    final = read_final(args.output) if args.resume and args.output else None
    if args.resume and not args.output:
        raise UsageError("--resume needs -o FILE: the results log of the run to finish")
    skip = final.contains if final else (lambda _s, _r: False)
    entries = inputs.iter_entries(args.inputs, stdin=sys.stdin.buffer)
    if args.dry_run:
        return _dry_run(config, entries, skip)
    # aiohttp and rich load only now: a dry run over a million rooms never needs them
    from resumer import launch  # noqa: PLC0415

    _tune_gc()

    with ResultsWriter.open(args.output) as writer:
        summary, stopped_by = asyncio.run(
            launch.execute(
                config,
                entries,
                writer,
                skip=skip,
                log_format=args.log_format,
                progress=not args.no_progress,
            )
        )
    return finish(summary, stopped_by)


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
    flags = {
        "sdkappid": args.sdkappid,
        "identifier": args.identifier,
        "region": args.region,
        "endpoint": args.endpoint,
        "rate": args.rate,
        "concurrency": args.concurrency,
        "max_attempts": args.max_attempts,
        "timeout": args.timeout,
    }
    if args.region is not None:
        file = {k: v for k, v in file.items() if k != "endpoint"}  # a flag beats the file
    if args.endpoint is not None:
        file = {k: v for k, v in file.items() if k != "region"}
    base = Path(args.config).parent if args.config else Path()
    return build_config(file, flags, environ(), base=base)


def _estimate_seconds(config: RunConfig, sources: Sequence[str]) -> float:
    """How long the run may take, for a ready UserSig's check: input lines at the paced rate.

    Counted only when a ready UserSig is used and the input is files (stdin cannot be read
    twice); every line counts for every app, so the estimate errs long, on the safe side.
    """
    if not any(a.usersig for a in config.apps) or not sources or inputs.STDIN in sources:
        return 0.0
    lines = 0
    for source in sources:
        with open(source, "rb") as file:
            lines += sum(1 for line in file if line.strip() and not line.startswith(b"#"))
    return lines / (config.rate * PACE)


def _check_ready_usersigs(config: RunConfig, run_seconds: float) -> None:
    """A ready UserSig must be one, for this app, and valid until the run's estimated end."""
    now = time.time()
    for app in config.apps:
        if app.usersig is None:
            continue
        info = decode_usersig(app.usersig)
        if info.sdkappid != app.sdkappid or info.identifier != app.identifier:
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} was made for app {info.sdkappid}, "
                f"identifier {info.identifier!r}: make one for this app and identifier"
            )
        if info.expires_at <= now:
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} expired {_duration(now - info.expires_at)} "
                f"ago: make a new one, or set the secret key instead of {USERSIG_ENV}"
            )
        if info.expires_at < now + run_seconds:
            short = now + run_seconds - info.expires_at
            raise UserSigError(
                f"the UserSig for app {app.sdkappid} expires in {_duration(info.expires_at - now)}"
                f" but the run needs about {_duration(run_seconds)}: make one valid for "
                f"{_duration(short)} longer, or set the secret key so resumer renews it"
            )


def _dry_run(config: RunConfig, entries: Iterator[Entry], skip: Skip) -> int:
    """Route the rooms as the run would, send nothing, print the plan per app."""
    router = Router((a.sdkappid for a in config.apps), skip=skip)
    counts: dict[int | None, Counter[Route]] = {a.sdkappid: Counter() for a in config.apps}
    unrouted = 0
    for entry in entries:
        decision = router.route(entry)
        if decision.sdkappid in counts:
            counts[decision.sdkappid][decision.route] += 1
        elif decision.route is Route.INVALID:
            unrouted += 1
    pace = config.rate * PACE
    for sdkappid, count in counts.items():
        print(
            f"app {sdkappid}: {count[Route.SEND]} rooms to resume, "
            f"{count[Route.SKIPPED]} already final, {count[Route.DUPLICATE]} duplicates, "
            f"{count[Route.INVALID]} invalid; about {_duration(count[Route.SEND] / pace)} "
            f"at {pace:g}/s"
        )
    if unrouted:
        print(f"{unrouted} lines name no configured app and would be recorded invalid")
    print("dry run: nothing was sent")
    return EXIT_OK


def finish(summary: Summary, stopped_by: signal.Signals | None) -> int:
    """Say why any app stopped; the exit code of a finished run."""
    for sentence in summary.stopped.values():
        print(f"resumer: {sentence}", file=sys.stderr)
    if summary.stopped:
        return EXIT_FATAL
    if stopped_by is not None:
        return EXIT_SIGNAL[stopped_by]
    failed = (Status.REJECTED, Status.INVALID, Status.GAVE_UP, Status.ABORTED)
    return EXIT_FAILED_ROOMS if any(summary.count(s) for s in failed) else EXIT_OK


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
