"""The benchmark suite's smoke run: every scenario at tiny sizes, so `bench/` never rots.

No thresholds on times or rates (a shared CI machine drifts); only that every scenario reports
its figures, that resumer never had more than 20 requests arrive in any 1 s window, and that
its metrics (scraped and pushed) counted every request the simulator received.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository
BUDGET = 20

TOOL_FIELDS = {
    "wall_s",
    "exit_code",
    "requests",
    "code_100422",
    "max_arrivals_1s",
    "during_outage",
    "rooms_ok",
    "rooms_not_ok",
    "client_cpu_s",
    "client_cpu_ms_per_request",
    "client_max_rss_mb",
}
SCENARIO_FIELDS = {
    "pacing": TOOL_FIELDS
    | {"achieved_rate", "share_of_cap", "lag_vs_plan_ms", "jitter_vs_achieved_ms", "meets"}
    | {"first_contact_s", "share_of_cap_whole_run"},
    "side_by_side": {"rooms", "profile", "budget_floor_s", "deadline_s", "tools", "meets"},
    "contention": TOOL_FIELDS
    | {"settled_rate", "settled_share_of_left", "throttled_fraction", "max_accepted_1s", "meets"},
    "outage": TOOL_FIELDS
    | {"first_ok_after_outage_s", "full_rate_after_outage_s", "tail_after_outage_s", "meets"},
    "scale": {"steps", "saturates_at_apps", "dry_run", "aiohttp_floor", "cpu_over_floor", "meets"},
    "metrics_cost": {"apps", "rooms", "rounds", "variants", "scrape_cpu_ms", "meets"},
    "jitter": {"rooms", "short_rooms", "latency_ms", "paths", "load_average", "runs", "meets"},
    "fleet": {"runs", "rooms", "parts", "cpu_ratio", "load_average", "meets"},
    "soak": {"throttled_fraction", "share_of_ideal_middle_60", "code_100422_first_2s", "meets"}
    | {"client_loop_lag_ms", "load_average", "rooms_not_ok", "max_arrivals_1s"},
    "seen": {"sizes", "memory", "timing", "meets"},
    "nemesis": {"seed", "faults", "busy_seconds", "rooms_not_ok", "accepted_twice", "bound"}
    | {"unrecorded", "tracebacks", "holds", "load_average"},
}
FLEET_PART_FIELDS = {
    "runs",
    "distinct_rooms",
    "requests",
    "requests_per_room",
    "code_100422",
    "max_arrivals_1s",
    "rooms_sent_by_two_runs",
    "rooms_received_twice",
    "rooms_not_ok",
    "ok_rate",
    "wall_s",
    "client_cpu_ms_per_request",
    "redis",
}
JITTER_FIELDS = {
    "share_of_cap",
    "throttled_fraction",
    "code_100422",
    "max_arrivals_1s",
    "max_accepted_1s",
    "rooms_not_ok",
    "rates_after_throttles",
}
STEP_FIELDS = {
    "apps",
    "aggregate_rate",
    "ideal_rate",
    "client_cpu_ms_per_request",
    "client_max_rss_mb",
    "sim_cpu_share_of_one_core",
    "code_100422",
    "max_arrivals_1s",
    "rooms_not_ok",
    "client_loop_lag_ms",
}
METRICS_VARIANT_FIELDS = {
    "client_cpu_ms_per_request",
    "cpu_ratio",
    "share_of_ideal",
    "code_100422",
    "max_arrivals_1s",
    "runs",
}


def test_the_smoke_run_reports_every_scenario_and_resumer_keeps_to_the_budget(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads((tmp_path / "report.json").read_text())
    assert report["smoke"] is True
    assert (tmp_path / "RESULTS.md").read_text(encoding="utf-8").startswith("# resumer bench")
    scenarios = report["scenarios"]
    for name, fields in SCENARIO_FIELDS.items():
        missing = fields - set(scenarios[name])
        assert not missing, f"{name} lacks {missing}"

    tools = scenarios["side_by_side"]["tools"]
    assert set(tools["resumer"]) >= TOOL_FIELDS
    assert set(tools["aiohttp_limiter"]) >= TOOL_FIELDS
    assert "skipped" in tools["xargs_curl"] or set(tools["xargs_curl"]) >= TOOL_FIELDS
    steps = scenarios["scale"]["steps"]
    assert steps
    assert all(set(step) >= STEP_FIELDS for step in steps)
    assert set(scenarios["scale"]["dry_run"]) >= {"runs", "bytes_per_room"}

    variants = scenarios["metrics_cost"]["variants"]
    assert set(variants) == {"none", "scrape", "push"}
    assert all(set(v) >= METRICS_VARIANT_FIELDS for v in variants.values())
    assert scenarios["metrics_cost"]["meets"]["metrics_count_every_request"], variants

    resumer_runs = {
        "pacing": scenarios["pacing"],
        "side_by_side": tools["resumer"],
        "contention": scenarios["contention"],
        "outage": scenarios["outage"],
        **{f"scale {step['apps']} apps": step for step in steps},
        **{f"metrics {name}": v for name, v in variants.items()},
        "soak": scenarios["soak"],
    }
    peaks = {name: run["max_arrivals_1s"] for name, run in resumer_runs.items()}
    assert max(peaks.values()) <= BUDGET, peaks
    not_ok = {name: run["rooms_not_ok"] for name, run in resumer_runs.items()}
    assert not any(not_ok.values()), not_ok
    # Jitter can put 21 arrivals in a second (one is refused): only the fields, and every room
    jitter_runs = [run for runs in scenarios["jitter"]["runs"].values() for run in runs.values()]
    assert len(jitter_runs) == 3 * len(scenarios["jitter"]["paths"]) >= 6
    assert all(set(run) >= JITTER_FIELDS and run["rooms_not_ok"] == 0 for run in jitter_runs)
    assert all(run["max_accepted_1s"] <= BUDGET for run in jitter_runs)
    # Several runs, one budget: every part reports; shared, no room goes out twice or is lost
    parts = scenarios["fleet"]["parts"]
    assert set(parts) == {
        *("alone", "shared", "killed", "apps", "plain", "tls", "cost_alone", "cost_shared")
    }
    assert all(set(part) >= FLEET_PART_FIELDS for part in parts.values())
    shared = [part for part in parts.values() if part["redis"] is not None]
    assert all(part["redis"]["round_trips_per_request"] > 0 for part in shared)
    assert all(part["rooms_not_ok"] == 0 for part in parts.values()), parts
    assert parts["shared"]["rooms_sent_by_two_runs"] == 0
    assert parts["apps"]["rooms_sent_by_two_runs"] == 0
    assert max(part["max_arrivals_1s"] for part in shared) <= BUDGET + 1  # a loaded machine
    # the client's loop lag was measured (bench/looplag.py ran inside resumer)
    lags = [step["client_loop_lag_ms"] for step in [*steps, scenarios["soak"]]]
    ordered = [lag["p99"] is not None and lag["p50"] <= lag["p99"] <= lag["max"] for lag in lags]
    assert all(ordered), lags
    dry_runs = [run for row in scenarios["seen"]["memory"].values() for run in row.values()]
    assert all(run["exit_codes"] == [0, 0] for run in dry_runs), dry_runs
    floor = scenarios["scale"]["aiohttp_floor"]
    assert floor["ok"] == floor["requests"], floor  # the floor client really got its replies
