"""The results log a run is given (-o): refused where it would go wrong; what --resume skips."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import structlog

from resumer import inputs
from resumer.errors import UsageError
from resumer.results.files import FileId, check_path, regular_file_id
from resumer.results.resume import FinalRooms, read_final
from resumer.results.writer import ResultsWriter

Skip = Callable[[int | None, str], bool]


def check_output(writer: ResultsWriter, args: argparse.Namespace) -> Skip:
    """Refuse a log that is an input or holds records without --resume; what --resume skips."""
    _check_not_an_input(writer.identity, args.output, args.inputs)
    if args.output and not args.resume and writer.has_records():
        raise _holds_records(args.output)
    if not args.resume:
        return lambda _s, _r: False
    return _warn_skipped(writer.final_rooms(), args.output).contains


def check_output_for_dry_run(args: argparse.Namespace) -> Skip:
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
