"""`resumer run --help`: every option's default, and the exit codes at its end."""

from __future__ import annotations

import argparse
import re

from resumer.cli import exits
from resumer.cli import run as run_cmd


def run_help() -> str:
    parser = argparse.ArgumentParser(prog="resumer run")
    run_cmd.add_arguments(parser)
    return parser.format_help()


def test_every_option_that_takes_a_value_names_its_default() -> None:
    parser = argparse.ArgumentParser(prog="resumer run")
    run_cmd.add_arguments(parser)
    tuned = {"--rate", "--concurrency", "--max-attempts", "--timeout", "--log-format"}
    tuned |= {"--redis-timeout", "--ledger-ttl"}
    for action in parser._actions:
        if set(action.option_strings) & tuned:
            assert action.help is not None
            assert re.search(r"\(default: [^)]+\)", action.help), action.option_strings


def test_the_help_ends_with_every_exit_code() -> None:
    text = run_help()
    assert text.rstrip().endswith(exits.RUN_EXITS_HELP.rstrip())
    codes = {exits.EXIT_OK, exits.EXIT_FAILED_ROOMS, exits.EXIT_USAGE, exits.EXIT_FATAL}
    codes |= {exits.EXIT_RESULTS_LOG, exits.EXIT_INPUT_BROKE, *exits.EXIT_SIGNAL.values()}
    listed = set(map(int, re.findall(r"\b(\d+)\b", exits.RUN_EXITS_HELP.split("\n", 1)[1])))
    assert codes <= listed
