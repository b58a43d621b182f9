"""Scenario 6: what Prometheus metrics cost the client, and whether they cost it pacing precision.

One scale step (scenario 5's: many apps at once, one resumer process, one simulator process) is
run three ways in the same bench run: without metrics; with `--metrics`, its /metrics fetched
once a second by the bench with a real HTTP GET, as Prometheus scrapes; and with
`--metrics-push` to a real Pushgateway (Debian's `prometheus-pushgateway`), which resumer pushes
to every PUSH_EVERY seconds and once at the end. Each variant runs `metrics_rounds` times, the
rounds in alternating order so a drift of the shared machine weighs on every variant alike; a
variant's CPU per request is pooled over its rounds (all its CPU over all its requests) and set
against the run without metrics. Its pacing figures (share of the ideal aggregate rate, 100422s,
most requests in 1 s) show whether the metrics cost pacing precision; the share also follows
the machine's load once the client or the simulator is short of CPU, so each run's is kept.
The metrics are checked to be really there: the last scrape, and the Pushgateway after the run,
count exactly the requests the simulator received.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.harness.plan import BUDGET, IDENTIFIER, PACE, Plan, Workspace
from bench.harness.scenario import Scenario
from bench.harness.scraper import SCRAPE_EVERY, Scraper, get, requests_total
from bench.harness.servers import free_port, pushgateway
from bench.harness.step import step
from bench.harness.tools import BenchApp, bench_apps
from bench.markdown import cell, table
from resumer.config.model import AppConfig
from resumer.engine.app import App
from resumer.observe.exposition import exposition, snapshot
from resumer.observe.metrics import PUSH_EVERY
from resumer.records import Status

VARIANTS = ("none", "scrape", "push")
# Metrics may cost at most this much CPU per request, 1 being none. One scrape costs about 1 %
# (`scrape_cpu_ms`), well below the run-to-run spread of ±5 % on a shared two-core machine.
CPU_RATIO_TARGET = 1.1
COLLECTIONS = 20  # /metrics bodies made to time one (`scrape_cpu_ms`)


def scrape_cpu_ms(apps: int) -> float:
    """CPU ms to make one /metrics body of `apps` apps with a run's counters, timed in-process.

    The scraped run shows the cost amid the machine's noise; this is the cost alone.
    """
    return asyncio.run(_scrape_cpu_ms(apps))


async def _scrape_cpu_ms(count: int) -> float:  # App needs a running loop
    apps = {a.sdkappid: _counted(a) for a in bench_apps(count)}
    began = time.process_time()
    for _ in range(COLLECTIONS):
        exposition(snapshot(apps))
    return 1000 * (time.process_time() - began) / COLLECTIONS


def _counted(bench_app: BenchApp) -> App:
    """An app whose counters are as a run leaves them: replies ok and retried, rooms ok."""
    config = AppConfig(
        sdkappid=bench_app.sdkappid, identifier=IDENTIFIER, secret_key=bench_app.secret_key
    )
    app = App(config, rate=BUDGET, wallclock=time.time)
    for action, code in (("ok", 0), ("retry", 100001), ("throttle", 100422)):
        app.stats.answered_request(action, code, 0.06)
    app.stats.statuses[Status.OK] += 1
    return app


def _step(ws: Workspace, plan: Plan, name: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return step(ws, plan.metrics_apps, plan.metrics_rooms_per_app, name=name, extra=extra)


def _scraped(ws: Workspace, plan: Plan, name: str) -> dict[str, Any]:
    """The step with `--metrics`, scraped meanwhile."""
    listen = f"127.0.0.1:{free_port()}"
    with Scraper(f"http://{listen}/metrics") as scraper:
        figures = _step(ws, plan, name, ("--metrics", listen))
    return figures | scraper.figures()


def _pushed(ws: Workspace, plan: Plan, name: str) -> dict[str, Any]:
    """The step with `--metrics-push` to a Pushgateway, and what the Pushgateway holds after."""
    with pushgateway() as url:
        figures = _step(ws, plan, name, ("--metrics-push", url))
        pushed = requests_total(get(f"{url}/metrics"))
    return figures | {"requests_in_pushgateway": pushed}


def _run(ws: Workspace, plan: Plan, variant: str, round_: int) -> dict[str, Any]:
    name = f"metrics-{variant}-round{round_}"
    if variant == "scrape":
        return _scraped(ws, plan, name)
    if variant == "push":
        return _pushed(ws, plan, name)
    return _step(ws, plan, name)


def _pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A variant's figures over its rounds: CPU per request pooled, share of ideal averaged,
    throttles summed, and the worst 1 s window."""
    requests = sum(r["requests"] for r in runs)
    each = [r["client_cpu_ms_per_request"] for r in runs]
    cpu_ms = sum(ms * r["requests"] for ms, r in zip(each, runs, strict=True))
    return {
        "requests": requests,
        "client_cpu_s": round(cpu_ms / 1000, 2),
        "client_cpu_ms_per_request": round(cpu_ms / max(requests, 1), 4),
        "client_cpu_ms_per_request_range": [min(each), max(each)],
        "share_of_ideal": round(sum(r["share_of_ideal"] for r in runs) / len(runs), 4),
        "code_100422": sum(r["code_100422"] for r in runs),
        "max_arrivals_1s": max(r["max_arrivals_1s"] for r in runs),
        "rooms_not_ok": sum(r["rooms_not_ok"] for r in runs),
        "client_max_rss_mb": max(r["client_max_rss_mb"] for r in runs),
        "sim_max_loop_lag_ms": max(r["sim_max_loop_lag_ms"] for r in runs),
        "runs": runs,
    }


def _line(variant: str, v: dict[str, Any]) -> str:
    """One variant's figures, printed as the bench goes."""
    low, high = v["client_cpu_ms_per_request_range"]
    return (
        f"bench:   {variant:>6}: {v['client_cpu_ms_per_request']} ms CPU/request "
        f"(runs {low}–{high}; × {v['cpu_ratio']}), share of ideal {v['share_of_ideal']}, "
        f"100422 × {v['code_100422']}, max in 1 s {v['max_arrivals_1s']}"
    )


def _counted_right(variants: dict[str, Any]) -> bool:
    """Every scrape's last read and every Pushgateway held the simulator's request count."""
    scraped = [r["requests_in_last_scrape"] == r["requests"] for r in variants["scrape"]["runs"]]
    pushed = [r["requests_in_pushgateway"] == r["requests"] for r in variants["push"]["runs"]]
    return all(scraped + pushed)


def _meets(variants: dict[str, Any]) -> dict[str, bool]:
    exported = [variants["scrape"], variants["push"]]
    return {
        f"cpu_ratio<={CPU_RATIO_TARGET}": all(v["cpu_ratio"] <= CPU_RATIO_TARGET for v in exported),
        "code_100422==0": all(v["code_100422"] == 0 for v in variants.values()),
        "max_arrivals_1s<=20": all(v["max_arrivals_1s"] <= BUDGET for v in variants.values()),
        "metrics_count_every_request": _counted_right(variants),
    }


def measure(ws: Workspace, plan: Plan) -> dict[str, Any]:
    """The step without metrics, scraped and pushed, rounds in alternating order."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for round_ in range(1, plan.metrics_rounds + 1):
        for variant in VARIANTS if round_ % 2 else VARIANTS[::-1]:
            runs[variant].append(_run(ws, plan, variant, round_))
    variants = {v: _pooled(r) for v, r in runs.items()}
    base = max(variants["none"]["client_cpu_ms_per_request"], 1e-9)
    for variant, figures in variants.items():
        figures["cpu_ratio"] = round(figures["client_cpu_ms_per_request"] / base, 3)
        print(_line(variant, figures), flush=True)
    scrape_ms = scrape_cpu_ms(plan.metrics_apps)
    client_ms_per_s = base * plan.metrics_apps * PACE  # the client's CPU ms per second, at pace
    print(f"bench:   one scrape: {scrape_ms:.1f} ms CPU, in-process", flush=True)
    return {
        "apps": plan.metrics_apps,
        "rooms": plan.metrics_apps * plan.metrics_rooms_per_app,
        "scrape_cpu_ms": round(scrape_ms, 2),
        "scrape_ratio_expected": round(1 + scrape_ms / SCRAPE_EVERY / client_ms_per_s, 4),
        "rounds": plan.metrics_rounds,
        "scrape_every_s": SCRAPE_EVERY,
        "push_every_s": PUSH_EVERY,
        "variants": variants,
        "meets": _meets(variants),
    }


HEADER = (
    *("run", "client CPU ms/request (each run)", "× no metrics", "share of ideal (each run)"),
    *("100422", "max in 1 s (worst app)", "sim loop lag max ms", "client peak RSS MB"),
    "what was counted",
)


def render(m: dict[str, Any]) -> str:
    """Section 6 of RESULTS.md, from these figures."""
    variants = m["variants"]
    names = {
        "none": "no metrics",
        "scrape": f"`--metrics`, scraped every {m['scrape_every_s']:g} s",
        "push": f"`--metrics-push` (every {m['push_every_s']:g} s and at the end)",
    }
    rows = [[names[key], *_row(v), _what_counted(key, v)] for key, v in variants.items()]
    meets = m["meets"]
    return "\n".join(
        [
            f"## 6. Metrics cost: {m['apps']} apps, {m['rooms']} rooms, without metrics, "
            "scraped, and pushed",
            "",
            f"Scenario 5's step, run three ways, each {_times(m['rounds'])}, the rounds in "
            "alternating order; CPU per request is pooled over a variant's runs and the share of "
            "the ideal aggregate rate averaged (each run's in brackets: the share follows the "
            "machine's load once the client or the simulator is short of CPU). Scraped: the "
            "bench GETs `/metrics` as Prometheus would (a GET's time, taken at the bench, "
            "includes its wait for resumer's busy event loop). Pushed: to a real Pushgateway "
            "(`prometheus-pushgateway`), read back after the run.",
            "",
            table(HEADER, rows),
            "",
            f"One scrape of {m['apps']} apps costs {m['scrape_cpu_ms']} ms of CPU, timed alone in "
            "the bench's process (`s06_metrics_cost.scrape_cpu_ms`): once a second, × "
            f"{m['scrape_ratio_expected']} the CPU per request without metrics, the cost the "
            "scraped runs measure amid the machine's noise.",
            "",
            "With metrics, CPU per request at most 1.1 × that without: "
            f"{cell(meets['cpu_ratio<=1.1'])}; no 100422 and at most 20 in any 1 s, "
            f"every run: {cell(meets['code_100422==0'] and meets['max_arrivals_1s<=20'])}; "
            "the last scrape and the Pushgateway counted every request the simulator received: "
            f"{cell(meets['metrics_count_every_request'])}.",
        ]
    )


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _row(v: dict[str, Any]) -> list[object]:
    return [
        _each(v, "client_cpu_ms_per_request"), v["cpu_ratio"], _each(v, "share_of_ideal"),
        v["code_100422"], v["max_arrivals_1s"], v["sim_max_loop_lag_ms"], v["client_max_rss_mb"],
    ]  # fmt: skip


def _each(v: dict[str, Any], key: str) -> str:
    """A variant's figure, then each run's in brackets."""
    return f"{v[key]} ({', '.join(str(r[key]) for r in v['runs'])})"


def _what_counted(key: str, v: dict[str, Any]) -> str:
    """What the variant's metrics (or, without them, the simulator) counted."""
    runs = v["runs"]
    if key == "scrape":
        counts = ", ".join(str(r["requests_in_last_scrape"]) for r in runs)
        return (
            f"{sum(r['scrapes'] for r in runs)} scrapes of {runs[-1]['scrape_kb']} KB, "
            f"p50 ≤ {max(r['scrape_p50_ms'] for r in runs)} ms, "
            f"max {max(r['scrape_max_ms'] for r in runs)} ms; the last read {counts} requests"
        )
    if key == "push":
        counts = ", ".join(str(r["requests_in_pushgateway"]) for r in runs)
        return f"the Pushgateway held {counts} requests"
    return f"the simulator received {', '.join(str(r['requests']) for r in runs)}"


SCENARIO = Scenario(name="metrics_cost", measure=measure, render=render)
