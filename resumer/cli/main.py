"""The command line: parse flags, wire the layers, print, and map every outcome to an exit code.

Exit codes: 0 every room ok; 1 some room rejected, invalid or gave up; 2 usage, config or input
error (nothing sent); 3 an app stopped by a fatal error; 4 the results log could not be written
(the run stopped; the outcomes it could not write are on stderr); 5 the input broke after
requests were sent (the log holds what was done: fix the input, rerun with --resume);
130 / 143 / 129 interrupted by SIGINT / SIGTERM / SIGHUP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import os
import signal
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import structlog

from resumer import __version__, inputs
from resumer.api.usersig import decode_usersig, make_usersig
from resumer.config.load import build_config, environ, read_toml
from resumer.config.model import REGIONS, SECRET_KEY_ENV, USERSIG_ENV, Flags, RunConfig
from resumer.config.sharing import REDIS_URL_ENV
from resumer.engine.routing import Entry, Route, Router
from resumer.errors import (
    InputBrokeError,
    RedisLostError,
    ResultsLogError,
    UsageError,
    UserSigError,
)
from resumer.observe import logs
from resumer.pace.pacer import MARGIN
from resumer.records import Status
from resumer.results.files import FileId, check_path, regular_file_id
from resumer.results.resume import FinalRooms, read_final
from resumer.results.writer import ResultsWriter
from resumer.streams import discard

if TYPE_CHECKING:
    from resumer.engine.summary import Summary

EXIT_OK, EXIT_FAILED_ROOMS, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3
EXIT_RESULTS_LOG, EXIT_INPUT_BROKE = 4, 5
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
Skip = Callable[[int | None, str], bool]
PACE = 1 - MARGIN  # the share of the budget the pacer runs at


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `resumer` command; returns the exit code."""
    _open_stderr()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        _say(exc)
        return EXIT_USAGE
    except ResultsLogError as exc:
        _say(exc)
        return EXIT_RESULTS_LOG
    except InputBrokeError as exc:
        _say(exc)
        return EXIT_INPUT_BROKE
    except RedisLostError as exc:
        _say(exc)
        return EXIT_FATAL
    except KeyboardInterrupt:
        return EXIT_SIGNAL[signal.SIGINT]
    return code


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is two lines (what is wrong, where to read more), not a page."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\nsee '{self.prog} --help' for the rest\n")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v / -q: every event in the log, or only warnings and errors."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_const",
        dest="verbosity",
        const=logs.VERBOSE,
        default=logs.NORMAL,
        help="log every event, every retry included",
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_const",
        dest="verbosity",
        const=logs.QUIET,
        help="log only warnings and errors",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    run.add_argument(
        "--metrics", metavar="HOST:PORT", help="serve Prometheus metrics at /metrics meanwhile"
    )
    run.add_argument(
        "--metrics-push", metavar="URL", help="push the metrics to this Prometheus Pushgateway"
    )
    shared = run.add_argument_group("several runs, one budget (needs resumer[redis])")
    shared.add_argument(
        "--redis",
        metavar="URL",
        help=f"share each app's budget and rooms in flight on this Redis (or {REDIS_URL_ENV})",
    )
    shared.add_argument(
        "--redis-timeout", metavar="DURATION", help="stop (exit 3) if Redis is gone this long: 60s"
    )
    shared.add_argument(
        "--ledger", metavar="NAME", help="record final outcomes under NAME; skip rooms final there"
    )
    shared.add_argument("--ledger-ttl", metavar="DURATION", help="keep ledger entries: 7d")
    add_verbosity(run)

    sig = commands.add_parser("usersig", help="print a UserSig made from RESUMER_SECRET_KEY")
    sig.set_defaults(handler=_usersig)
    sig.add_argument("--sdkappid", type=int, required=True)
    sig.add_argument("--identifier", required=True)
    sig.add_argument("--expire", type=int, default=86400, metavar="SECONDS")

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: Any) -> None:
    """`sim`, `demo` and `report` live in their own modules; the CLI only wires them in."""
    from resumer.cli import demo  # noqa: PLC0415  (heavy ones load when used)
    from resumer.cli import report as report_cmd  # noqa: PLC0415
    from resumer.cli import sim as sim_cli  # noqa: PLC0415
    from resumer.cli import status as status_cmd  # noqa: PLC0415

    sim = commands.add_parser("sim", help="run the local simulator of the API")
    sim_cli.add_arguments(sim)
    sim.set_defaults(handler=sim_cli.run)

    demo_parser = commands.add_parser(
        "demo", help="start the simulator in-process and resume a few hundred sample rooms"
    )
    demo.add_arguments(demo_parser)
    add_verbosity(demo_parser)
    demo_parser.set_defaults(handler=_demo)

    report = commands.add_parser(
        "report", help="merge results logs: totals, what is left (--todo), a chart (--chart)"
    )
    report_cmd.add_arguments(report)
    report.set_defaults(handler=report_cmd.run)

    status = commands.add_parser(
        "status", help="the runs sharing a Redis (--redis), and each app's shared state"
    )
    status_cmd.add_arguments(status)
    status.set_defaults(handler=status_cmd.run)


def _demo(args: argparse.Namespace) -> int:
    from resumer.cli import demo  # noqa: PLC0415

    logs.configure(args.log_format, verbosity=args.verbosity)
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
    logs.configure(args.log_format, verbosity=args.verbosity)
    config = _load_config(args)
    inputs.check_sources(args.inputs)
    if args.resume and not args.output:
        raise UsageError("--resume needs -o FILE: the results log of the run to finish")
    _check_ready_usersigs(config, _estimate_seconds(config, args.inputs))
    if args.dry_run:
        skip = _check_output_for_dry_run(args)
        return _dry_run(config, inputs.iter_entries(args.inputs, stdin=_stdin(args.inputs)), skip)
    # aiohttp and rich load only now: a dry run over a million rooms never needs them
    from resumer.cli import launch  # noqa: PLC0415

    # The log is opened and locked before it is read for --resume: nothing changes in between.
    with ResultsWriter.open(args.output) as writer:
        skip = _check_output(writer, args)
        entries = inputs.iter_entries(args.inputs, stdin=_stdin(args.inputs))
        _tune_gc()
        summary, stopped_by = asyncio.run(
            launch.execute(
                config,
                entries,
                writer,
                skip=skip,
                log_format=args.log_format,
                progress=not args.no_progress,
                verbosity=args.verbosity,
            )
        )
    return finish(summary, stopped_by)


def _check_output(writer: ResultsWriter, args: argparse.Namespace) -> Skip:
    """Refuse a log that is an input or holds records without --resume; what --resume skips."""
    _check_not_an_input(writer.identity, args.output, args.inputs)
    if args.output and not args.resume and writer.has_records():
        raise _holds_records(args.output)
    if not args.resume:
        return lambda _s, _r: False
    return _warn_skipped(writer.final_rooms(), args.output).contains


def _check_output_for_dry_run(args: argparse.Namespace) -> Skip:
    """The same checks by path: a dry run neither creates nor locks the log."""
    if not args.output:
        return lambda _s, _r: False
    check_path(args.output)
    _check_not_an_input(regular_file_id(args.output), args.output, args.inputs)
    if not args.resume:
        return lambda _s, _r: False
    return _warn_skipped(read_final(args.output), args.output).contains


def _holds_records(path: str) -> UsageError:
    return UsageError(
        f"results log '{path}' already holds records: add --resume to finish that run, "
        "or give another -o"
    )


def _check_not_an_input(output: FileId | None, path: str | None, sources: Sequence[str]) -> None:
    """Refuse results written into one of the inputs: the run would read its own records back."""
    if output is None:
        return
    for source in sources or [inputs.STDIN]:
        if source == inputs.STDIN:
            same = sys.stdin is not None and regular_file_id(0) == output
        else:
            same = regular_file_id(source) == output
        if same:
            where = f"the results log {path!r}" if path else "standard output"
            what = "standard input" if source == inputs.STDIN else f"the input {source!r}"
            raise UsageError(
                f"{where} is the same file as {what}: the run would read its own records "
                "back; write the results to another file"
            )


def _warn_skipped(final: FinalRooms, path: str) -> FinalRooms:
    """Say how many lines of the log --resume could not read (torn by a crash, or foreign)."""
    if final.skipped_lines:
        structlog.get_logger("resumer").warning(
            "results_log_lines_skipped",
            file=path,
            lines=final.skipped_lines,
            hint="lines that are not whole records are ignored: one torn by a crash is "
            "expected after kill -9; more mean something else wrote to this file",
        )
    return final


def _open_stderr() -> None:
    """Point a closed stderr (fd 2: a cron line's `2>&-`, a supervisor) at /dev/null.

    The log then goes nowhere, as asked, instead of failing on a None stderr, of falling back to
    stdout (where the results may go), or of a file opened later being given fd 2.
    """
    if sys.stderr is not None:
        return
    try:
        os.fstat(2)
    except OSError:
        discard(2)
    with contextlib.suppress(OSError):
        sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115


def _say(exc: Exception) -> None:
    """The one sentence, on stderr; if stderr is gone too there is nowhere left to say it."""
    if sys.stderr is not None:  # print(file=None) would write to stdout, the results
        with contextlib.suppress(OSError, ValueError):
            print(f"resumer: {exc}", file=sys.stderr)


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


def _estimate_seconds(config: RunConfig, sources: Sequence[str]) -> float:
    """How long the run may take, for a ready UserSig's check: input lines at the paced rate.

    Counted only when a ready UserSig is used, and only in regular files: stdin, a pipe such as
    <(jq ...) or a FIFO can be read only once, and the run must get every line of it. Every
    line counts for every app, so the estimate errs long; with other inputs it errs short, and
    a UserSig that expires mid-run stops its app with a sentence saying so.
    """
    if not any(a.usersig for a in config.apps):
        return 0.0
    lines = 0
    for source in sources:
        if source == inputs.STDIN or not _is_regular_file(source):
            continue
        with open(source, "rb") as file:
            lines += sum(1 for line in file if line.strip() and not line.startswith(b"#"))
    return lines / (config.rate * PACE)


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # the run's own read says what is wrong with it


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
    """Say why any app stopped; the exit code of a finished run.

    A run cut short by its results log or its input raises that error here, after the summary
    was shown, so `main` says it last and maps it to its exit code.
    """
    for sentence in summary.stopped.values():
        print(f"resumer: {sentence}", file=sys.stderr)
    if summary.failure is not None:
        raise summary.failure
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
