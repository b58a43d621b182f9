"""`resumer sim`: flags, the listening line, a clean stop on a signal, plain errors."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys

import pytest

from resumer.cli import sim as cli

# The lead wires `resumer sim` into the main CLI; this runs the subcommand on its own.
RUN_SIM = (
    "import argparse, sys\n"
    "from resumer.cli import sim as cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_the_flags_override_the_profile() -> None:
    config = cli._config(
        parse(
            "--profile",
            "incident",
            "--seed",
            "3",
            "--latency-ms",
            "5:10",
            "--neighbour-rate",
            "4",
            "--rate",
            "10",
            "--outage",
            "1:2",
            "--outage",
            "8:9.5",
            "--jitter-ms",
            "0:40",
            "--jitter-tail",
            "0.02",
        )
    )
    assert (config.jitter.min_ms, config.jitter.max_ms, config.jitter.tail) == (0, 40, 0.02)
    assert config.seed == 3
    assert (config.latency.min_ms, config.latency.max_ms) == (5, 10)
    assert config.latency.slow_ms == 2500  # kept from the profile
    assert config.neighbour_rate == 4
    assert config.rate == 10
    assert config.outages == ((1.0, 2.0), (8.0, 9.5))
    assert config.missing_pattern == "-gone$"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile", "noisy"], "no profile 'noisy'"),
        (["--latency-ms", "5"], "--latency-ms takes two numbers as A:B, not '5'"),
        (["--latency-ms", "9:1"], "latency needs"),
        (["--outage", "a:b"], "--outage takes two numbers"),
        (["--outage", "5:1"], "each outage"),
        (["--rate", "0"], "rate must be at least 1"),
        (["--neighbour-rate", "-1"], "neighbour_rate"),
        (["--jitter-ms", "30:10"], "jitter needs"),
        (["--jitter-tail", "2"], "jitter needs"),
    ],
)
def test_a_bad_flag_is_one_sentence_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(parse(*argv)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_a_busy_port_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.run(parse("--port", str(port))) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_it_serves_until_a_signal_then_exits_0(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_SIM, "--port", "0", "--profile", "contended"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert re.fullmatch(
            r"resumer sim listening on http://127\.0\.0\.1:\d+ "
            r"\(profile contended; apps 1400000001, 1400000002\)\n",
            line,
        )
        process.send_signal(sig)
        _, err = process.communicate(timeout=10)
        assert process.returncode == 0
        assert err == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_listening_line_cuts_a_long_list_of_apps() -> None:
    assert cli._list_apps([1, 2]) == "1, 2"
    assert cli._list_apps(list(range(1, 11))) == "1, 2, 3, 4 and 6 more"
