"""`python -m resumer` and the `resumer` command: the CLI, with a quiet Ctrl-C at start-up."""

from __future__ import annotations

EXIT_INTERRUPTED = 130  # as cli.exits.EXIT_SIGNAL[SIGINT]; cli is not imported yet when needed


def main() -> int:
    """Run the CLI. A Ctrl-C before the run installs its own signal handlers exits 130 quietly.

    Nothing has been sent by then (the run sends only once its handlers are in place), so there
    is nothing to record and nothing to show: no traceback, whether the Ctrl-C lands in the
    imports, in reading the config, or in setting up the run.
    """
    try:
        from resumer.cli.main import main as cli_main  # noqa: PLC0415  (a Ctrl-C may land in it)

        return cli_main()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
