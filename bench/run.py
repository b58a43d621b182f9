"""Run the benchmarks: `python -m bench.run [--smoke] [--out DIR] [--only NAME ...]`.

The full run takes about 55 minutes on two cores (`make bench`; the sum of its scenarios' own
lengths, most of them paced by the 20/s budget: the jitter sweep's fifteen runs about 14 minutes,
the dry runs of scenario 10 about 10 to 15, the soak 5 to 8, the nemesis 4 to 5). It writes
`report.json` to `--out` (default `bench/out/`) and `bench/RESULTS.md`. `--smoke` runs every
scenario at tiny sizes in about a minute, with no thresholds, so CI keeps the suite working;
its RESULTS.md goes to `--out`, as does a run limited with `--only`, unless `--update` asks to
put its sections into bench/RESULTS.md (each replacing the section of its number; the others,
and the head, are kept).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import document, machine
from bench.harness.plan import FULL, SMOKE, Workspace
from bench.scenarios import BY_NAME, SCENARIOS

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios asked for; 0 when every one produced its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds; for CI")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="folder of the outputs")
    parser.add_argument("--only", nargs="+", choices=list(BY_NAME), help="just these")
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: put these sections into bench/RESULTS.md, keeping the others",
    )
    args = parser.parse_args(argv)
    if args.update and (args.smoke or not args.only):
        parser.error("--update goes with --only, on a full run")
    plan = SMOKE if args.smoke else FULL
    if not plan.smoke and shutil.which("curl") is None:
        print("bench: the full run needs curl for the xargs baseline: apt-get install curl")
        return 2
    names = args.only or list(BY_NAME)
    if "metrics_cost" in names and shutil.which("prometheus-pushgateway") is None:
        print("bench: metrics_cost needs a Pushgateway: apt-get install prometheus-pushgateway")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    # SIGTERM unwinds like Ctrl-C, so the simulator and the tool under test are stopped too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    results: dict[str, Any] = {}
    for name in names:
        began = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        results[name] = BY_NAME[name].measure(Workspace(args.out), plan)
        print(f"bench: {name} done in {time.monotonic() - began:.1f} s", flush=True)
    command = "python -m bench.run" + (" --smoke" if plan.smoke else "")
    report = {
        "command": command + (f" --only {' '.join(args.only)}" if args.only else ""),
        "smoke": plan.smoke,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine.describe(),
        "scenarios": results,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    official = not plan.smoke and not args.only
    target = HERE / "RESULTS.md" if official or args.update else args.out / "RESULTS.md"
    if args.update:  # the other scenarios' sections stay as their own run left them
        text = document.splice(target.read_text(encoding="utf-8"), report, SCENARIOS)
    else:
        text = document.render(report, SCENARIOS)
    target.write_text(text, encoding="utf-8")
    print(f"bench: {report['duration_s']} s; wrote {args.out / 'report.json'} and {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
