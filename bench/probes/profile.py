"""Profile resumer at scale: `python -m bench.probes.profile [--apps N] [--tool T] ...`.

Runs one scale step (scenario 5) with resumer's process under a profiler, prints the step's
figures and the profile's head, and leaves the full profile in `--out`:

    gc            time in the cyclic garbage collector per generation, longest pause (default)
    pyinstrument  a sampling profile as text (needs `pip install pyinstrument`)
    cprofile      the standard library's deterministic profile, by own time and by total time

For a flame graph, run the command printed at the top under py-spy instead:
`py-spy record -o profile.svg -- python -m resumer run ...`.
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import sys
from pathlib import Path

from bench.harness.plan import Workspace
from bench.harness.step import step

HERE = Path(__file__).resolve().parent.parent  # bench/


def launcher(tool: str, out: Path) -> tuple[str, ...]:
    """What follows `python` to run resumer under `tool`, writing to `out`."""
    if tool == "gc":
        return ("-m", "bench.probes.gcstats", str(out))
    if tool == "pyinstrument":
        return ("-m", "pyinstrument", "-r", "text", "-o", str(out), "-m", "resumer")
    return ("-m", "cProfile", "-o", str(out), "-m", "resumer")


def summary(tool: str, out: Path, lines: int = 40) -> str:
    """The head of the profile."""
    if tool == "cprofile":
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.sort_stats("tottime").print_stats(lines)
        stats.sort_stats("cumulative").print_stats("resumer|tenacity|aiolimiter", lines)
        return text.getvalue()
    return "\n".join(out.read_text().splitlines()[: lines * 3])


def main() -> int:
    """Run the step under the profiler and print what it found."""
    parser = argparse.ArgumentParser(prog="python -m bench.probes.profile", description=__doc__)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--rooms-per-app", type=int, default=200)
    parser.add_argument("--tool", choices=("gc", "pyinstrument", "cprofile"), default="gc")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "profile")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = {"gc": "gc.json", "pyinstrument": "pyinstrument.txt", "cprofile": "cprofile.out"}
    out = args.out / suffix[args.tool]
    figures = step(
        Workspace(args.out),
        args.apps,
        args.rooms_per_app,
        launcher=launcher(args.tool, out),
        name=f"profile-{args.tool}",
    )
    print(json.dumps(figures, indent=2))
    print(summary(args.tool, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
