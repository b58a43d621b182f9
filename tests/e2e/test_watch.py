"""Watching a run end to end: /metrics scraped during a real run, a real Pushgateway, [codes]."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from resumer.sim.config import Latency
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from resumer.sim.thread import SimThread
from tests.support.e2e import app_flags, app_stats, resumer, room_lines, sim_config
from tests.support.servers import free_port, pushgateway

APP = str(DEMO_SDKAPPID)
DEADLINE = 60.0  # seconds the scraped run of 120 rooms may take (about 6 s on a quiet machine)


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
    """Every sample at `url`, or None if nothing listens there (any more)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (loopback)
            text = response.read().decode()
    except OSError:
        return None
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def test_metrics_grow_during_a_run_and_end_equal_to_the_results_log(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "results.jsonl"
    sim_settings = sim_config(latency=Latency(min_ms=20, max_ms=80), faults={"100001": 0.05})
    with SimThread(sim_settings) as sim:
        command = [
            sys.executable, "-m", "resumer", "run", *app_flags(sim.url), "--log-format", "json",
            "-o", str(log), "--metrics", f"127.0.0.1:{port}",
        ]  # fmt: skip
        env = {**os.environ, "RESUMER_SECRET_KEY": DEMO_SECRET_KEY}
        rooms, errors = tmp_path / "rooms.txt", tmp_path / "stderr.txt"
        rooms.write_text(room_lines(120))
        with rooms.open() as stdin, errors.open("w") as stderr:
            run = subprocess.Popen(command, stdin=stdin, stderr=stderr, env=env)
        scrapes: list[dict[tuple[str, frozenset[tuple[str, str]]], float]] = []
        deadline = time.monotonic() + DEADLINE
        try:
            # Until /metrics stops answering, once it has answered at least once.
            while (samples := scrape(url)) is not None or not scrapes:
                if samples is None:  # not serving yet: the run must still be starting
                    assert run.poll() is None, f"exit {run.returncode}: {errors.read_text()}"
                else:
                    scrapes.append(samples)
                    in_flight = app_stats(sim.stats(rooms=False))["requests"]
                    counted = total(samples, "resumer_requests_total")
                    assert 0 <= in_flight - counted <= 64  # at most the requests in flight
                assert time.monotonic() < deadline, f"still scraping: {errors.read_text()}"
                time.sleep(0.25)  # a scrape interval, in real time: the run is a real process
            run.wait(timeout=DEADLINE)
        finally:
            if run.poll() is None:  # a failed assertion above: never leave the run behind
                run.kill()
                run.wait()
    assert run.returncode == 0, errors.read_text()
    assert len(scrapes) >= 4
    for before, after in itertools.pairwise(scrapes):
        for key, value in before.items():
            if key[0].endswith(("_total", "_count", "_bucket", "_sum")):
                assert after[key] >= value, key  # counters only grow
    final = scrapes[-1]  # the server lingers until the final state is scraped once
    records = [json.loads(line) for line in log.read_text().splitlines()]
    statuses = Counter(r["status"] for r in records)
    for status, count in statuses.items():
        labels = frozenset({("sdkappid", APP), ("status", status)})
        assert final["resumer_rooms_total", labels] == count
    assert total(final, "resumer_rooms_total") == len(records) == 120
    assert total(final, "resumer_requests_total") == sum(r["attempts"] for r in records)
    assert final["resumer_rooms_pending", frozenset({("sdkappid", APP)})] == 0
    assert total(final, "resumer_request_duration_seconds_count") == sum(
        r["attempts"] for r in records
    )


def test_metrics_are_pushed_to_a_pushgateway(tmp_path: Path) -> None:
    with pushgateway() as gateway, SimThread(sim_config()) as sim:
        run = resumer(
            *app_flags(sim.url), "--metrics-push", gateway, tmp=tmp_path, stdin=room_lines(30)
        )
        pushed = scrape(f"{gateway}/metrics")
    assert run.code == 0, run.stderr
    assert pushed is not None
    labels = {("job", "resumer"), ("sdkappid", APP), ("status", "ok")}
    (value,) = [
        v
        for (name, found), v in pushed.items()
        if name == "resumer_rooms_total" and labels <= found
    ]
    assert value == 30
    assert "metrics_push_failed" not in run.stderr


def test_a_pushgateway_that_is_down_never_stops_the_run(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with SimThread(sim_config()) as sim:
        run = resumer(*app_flags(sim.url), "--metrics-push", down, tmp=tmp_path, stdin="r1\n")
    assert run.code == 0, run.stderr
    assert run.statuses() == {"r1": "ok"}
    warning = next(json.loads(line) for line in run.stderr.splitlines() if "push_failed" in line)
    assert warning["failures"] == 1
    assert "Pushgateway" in warning["hint"]


def test_a_codes_override_turns_a_rejected_code_into_a_retried_one(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'endpoint = "{{url}}"\nmax_attempts = 3\n[codes]\nretry = [100004]\n'
        f"[[apps]]\nsdkappid = {DEMO_SDKAPPID}\nidentifier = '{DEMO_IDENTIFIER}'\n"
        'secret_key_env = "RESUMER_SECRET_KEY"\n'
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with SimThread(sim_config(missing_rooms=frozenset({"gone"}))) as sim:
        config.write_text(config.read_text().replace("{url}", sim.url))
        plain = resumer("--sdkappid", APP, "--identifier", DEMO_IDENTIFIER, "--endpoint",
                        sim.url, tmp=tmp_path / "a", stdin="gone\n")  # fmt: skip
        moved = resumer("-c", str(config), tmp=tmp_path / "b", stdin="gone\n")
        requests = app_stats(sim.stats())["rooms"].get("gone")
    assert plain.code == 1, plain.stderr
    assert moved.code == 1, moved.stderr
    assert plain.by_room()["gone"]["status"] == "rejected"
    assert moved.by_room()["gone"]["status"] == "gave_up"  # retried, as [codes] says
    assert moved.by_room()["gone"]["attempts"] == 3
    assert requests == 1 + 3
    started = next(json.loads(line) for line in moved.stderr.splitlines() if "run_started" in line)
    assert started["codes"] == {"100004": "retry"}
