"""The command line: the parser of every command, and the dispatch to the one asked for."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from typing import Any, NoReturn

from resumer import __version__
from resumer.cli import exits
from resumer.cli import run as run_cmd
from resumer.cli import usersig as usersig_cmd
from resumer.cli.stderr import open_stderr, say


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `resumer` command; returns the exit code (`resumer.cli.exits`)."""
    open_stderr()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except exits.SAID as exc:
        say(exc)
        return exits.for_error(exc)
    except KeyboardInterrupt:
        return exits.EXIT_SIGNAL[signal.SIGINT]
    return code


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is two lines (what is wrong, where to read more), not a page."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            exits.EXIT_USAGE, f"{self.prog}: {message}\nsee '{self.prog} --help' for the rest\n"
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
    run_cmd.add_arguments(run)
    run.set_defaults(handler=run_cmd.run)

    sig = commands.add_parser("usersig", help="print a UserSig made from RESUMER_SECRET_KEY")
    usersig_cmd.add_arguments(sig)
    sig.set_defaults(handler=usersig_cmd.run)

    _add_optional_commands(commands)
    return parser


def _add_optional_commands(commands: Any) -> None:
    """`sim`, `demo`, `report` and `status`: their modules load here, their heavy imports later."""
    from resumer.cli import demo as demo_cmd  # noqa: PLC0415
    from resumer.cli import report as report_cmd  # noqa: PLC0415
    from resumer.cli import sim as sim_cmd  # noqa: PLC0415
    from resumer.cli import status as status_cmd  # noqa: PLC0415

    sim = commands.add_parser("sim", help="run the local simulator of the API")
    sim_cmd.add_arguments(sim)
    sim.set_defaults(handler=sim_cmd.run)

    demo = commands.add_parser(
        "demo", help="start the simulator in-process and resume a few hundred sample rooms"
    )
    demo_cmd.add_arguments(demo)
    demo.set_defaults(handler=demo_cmd.run)

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
