"""`resumer report LOG...`: read results logs, merge them, print totals, the rooms left, a chart."""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import os
import stat
import sys
from collections.abc import Sequence
from typing import BinaryIO

from resumer.cli.exits import EXIT_PIPE_CLOSED
from resumer.errors import UsageError
from resumer.inputs import STDIN
from resumer.report.merge import Merger, Report
from resumer.results.files import cannot_read
from resumer.streams import discard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `resumer report`."""
    parser.add_argument(
        "logs", nargs="+", metavar="LOG", help="results logs, oldest first ('-': stdin)"
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="tables, or one JSON object"
    )
    parser.add_argument(
        "--todo",
        action="store_true",
        help="print only the rooms not final, as input lines for `resumer run -`",
    )
    parser.add_argument(
        "--chart", metavar="FILE.png", help="draw rooms finished per second per app to a PNG"
    )


def run(args: argparse.Namespace) -> int:
    """Merge the logs, print the report (or only the rooms left, with --todo); exit code 0."""
    _check_logs(args.logs)
    if args.chart:
        from resumer.report import chart  # noqa: PLC0415  (matplotlib only when asked for)

        chart.require_matplotlib()
        folder = os.path.dirname(os.path.abspath(args.chart))
        if not os.path.isdir(folder):  # said now, not after reading a million lines
            raise UsageError(
                f"cannot write the chart {args.chart!r}: directory {folder!r} does not exist: "
                "create it or fix the path"
            )
    merger = Merger()
    # Reading makes no reference cycle, and a collection would walk the whole room table
    gc.disable()
    try:
        for path in args.logs:
            _read(path, merger)
    finally:
        gc.enable()
    report = merger.report()
    if args.chart:
        chart.draw(chart.chart_data(report), args.chart)
        print(f"resumer: chart written to {args.chart}", file=sys.stderr)
    try:
        _print(args, report, merger)
    except BrokenPipeError:  # `| head`, or a `resumer run -` that stopped reading: end quietly
        _silence_stdout()
        return EXIT_PIPE_CLOSED
    return 0


def _print(args: argparse.Namespace, report: Report, merger: Merger) -> None:
    from resumer.report import view as report_view  # noqa: PLC0415  (rich loads when used)

    if args.todo:
        out = sys.stdout
        for line in report_view.todo_lines(merger.todo()):
            out.write(line + "\n")
        if report.unreadable:
            print(
                f"resumer: skipped {report.unreadable:,} unreadable lines "
                f"({report.torn:,} torn, {report.foreign:,} foreign)",
                file=sys.stderr,
            )
    elif args.format == "json":
        print(json.dumps(report_view.as_dict(report, args.logs), ensure_ascii=False))
    else:
        from rich.console import Console  # noqa: PLC0415

        class _Console(Console):
            def on_broken_pipe(self) -> None:  # rich's own exits 1; end as the other formats do
                self.quiet = True
                raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

        console = _Console()
        if not console.is_terminal:
            console.width = 120  # a file or a pipe: room for every column (rich assumes 80)
        console.print(report_view.tables(report, args.logs))
    sys.stdout.flush()  # a closed pipe is found here, not by Python at exit


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):  # a stdout without a descriptor: nothing to do
        discard(sys.stdout.fileno())


def _read(path: str, merger: Merger) -> None:
    if path == STDIN:
        _feed(sys.stdin.buffer, merger)
        return
    try:
        with open(path, "rb") as stream:
            _feed(stream, merger)
    except OSError as exc:  # checked before: the file changed since, or the disk failed
        raise UsageError(cannot_read(path, exc)) from exc


def _feed(stream: BinaryIO, merger: Merger) -> None:
    add = merger.add_line
    for line in stream:
        add(line)


def _check_logs(paths: Sequence[str]) -> None:
    """Every log must be there and readable before a line is read: one sentence per one not."""
    problems = []
    for path in paths:
        if path == STDIN:
            continue
        try:
            if stat.S_ISDIR(os.stat(path).st_mode):
                raise IsADirectoryError
            with open(path, "rb"):
                pass
        except OSError as exc:
            problems.append(cannot_read(path, exc))
    if problems:
        raise UsageError("\n".join(problems))
