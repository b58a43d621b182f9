"""The nemesis: runners, a simulator and a Redis with AOF, and a seeded schedule of faults.

Three `resumer run --redis URL --resume` processes (the real CLI) on two apps, each through a
door (port) of its own of the bench's simulator (outages, jitter), so every arrival names its
runner. A seeded schedule kill -9s runners (restarted at once with `--resume` on the same
results log), SIGSTOPs a runner past its lease, SIGSTOPs Redis, restarts Redis (AOF: its state
comes back), runs `SCRIPT FLUSH` and `CLIENT KILL TYPE normal`. A runner that exits other
than 0 is restarted with `--resume` until it exits 0. The history goes to the checker.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.harness.observe import write_profile
from bench.harness.servers import RedisServer
from bench.harness.sim import Sim
from bench.harness.tomltext import toml_text
from bench.harness.tools import BenchApp, bench_apps, write_rooms
from bench.nemesis_check import (
    Fault,
    History,
    Verdicts,
    check,
    parse_arrival,
    parse_record,
)
from resumer.fleet.giveback import CARRY_WAIT

RUNNERS = 2 + 1
LEASE_TTL = 10.0  # seconds: a runner stopped longer than this has lost its leases
STOP_S = LEASE_TTL + 3.0
REDIS_STOP_S = 3.0
LATENCY_MS = (20, 300)
KINDS = ("kill", "stop", "redis-stop", "redis-restart", "script-flush", "client-kill")


@dataclass(frozen=True, slots=True)
class Plan:
    """How long, how many rooms, and which faults (each kind that many times)."""

    seed: int
    rooms_per_app: int
    span_s: float  # the faults fall within [5 s, span_s]
    each: int  # times each kind of fault is done
    deadline_s: float
    outages: Sequence[tuple[float, float]]


def schedule(plan: Plan) -> list[tuple[float, str, int | None]]:
    """The seeded schedule: (seconds after the start, kind, runner or None), in time order.

    Faults are spread over the span, one at a random moment of each slot."""
    rng = random.Random(plan.seed)
    kinds = [k for k in KINDS for _ in range(plan.each)]
    rng.shuffle(kinds)
    slot = (plan.span_s - 5.0) / max(len(kinds), 1)
    events = []
    for n, kind in enumerate(kinds):
        at = 5.0 + n * slot + rng.uniform(0, slot * 0.8)
        runner = rng.randrange(RUNNERS) if kind in ("kill", "stop") else None
        events.append((round(at, 2), kind, runner))
    return events


class AofRedis(RedisServer):
    """A redis-server with AOF on (`--appendonly yes`): a restart brings its state back."""

    def start(self) -> None:
        """Start it (on the same port and folder each time) and wait until it answers PING."""
        self._process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self._directory), "--save", "", "--appendonly", "yes"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self.command("PING") != "+PONG":
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)  # polling a child's start-up

    def graceful_restart(self) -> None:
        """SIGTERM (AOF flushed), then start again on the same port."""
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=20)
        self.start()


class Runner:
    """One runner's folder and process; `start` (re)launches it with `--resume`."""

    def __init__(self, folder: Path, index: int, url: str, redis: str) -> None:
        self.folder, self.index = folder, index
        self.command = [
            *(sys.executable, "-m", "resumer", "run", "-c", str(folder / "config.toml")),
            *(str(folder / "rooms.txt"), "-o", str(folder / "results.jsonl")),
            *("--redis", redis, "--resume", "--log-format", "json", "--no-progress"),
        ]
        self.env: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[int] = []
        self.done = False

    def start(self) -> None:
        """Launch (again), its stderr to a file per start."""
        with open(self.folder / f"stderr-{self.starts}.txt", "wb") as err:
            self.process = subprocess.Popen(
                self.command,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=os.environ | self.env,
            )
        self.starts += 1

    def poll(self) -> None:
        """Restart it with `--resume` if it exited other than 0; note when it is done."""
        if self.process is None or self.process.poll() is None:
            return
        self.exits.append(self.process.returncode)
        if self.process.returncode == 0:
            self.done, self.process = True, None
        else:
            self.start()

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait()

    def signal(self, signum: signal.Signals) -> None:
        """Send a signal to the running process, if any."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)


def _setup(folder: Path, plan: Plan, apps: list[BenchApp], url: str, n: int) -> None:
    config = {
        "endpoint": url,
        "apps": [
            {"sdkappid": a.sdkappid, "identifier": "administrator",
             "secret_key_env": f"BENCH_KEY_{a.sdkappid}"}
            for a in apps
        ],
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(toml_text(config))
    rooms = [(a.sdkappid, f"nem-{i:05d}") for i in range(plan.rooms_per_app) for a in apps]
    write_rooms(folder / "rooms.txt", rooms, plain=False)
    (folder / "results.jsonl").unlink(missing_ok=True)


def run(folder: Path, plan: Plan) -> tuple[Verdicts, dict[str, object]]:
    """Run the nemesis in `folder`; the verdicts and the history's figures."""
    apps = bench_apps(2)
    profile = {
        "seed": plan.seed,
        "latency": {"min_ms": LATENCY_MS[0], "max_ms": LATENCY_MS[1]},
        "jitter": {"min_ms": 0, "max_ms": 30, "tail": 0.01},
        "outages": [list(o) for o in plan.outages],
        "outage_kind": "http503",
        "apps": [{"sdkappid": a.sdkappid, "secret_key": a.secret_key} for a in apps],
    }
    folder.mkdir(parents=True, exist_ok=True)
    redis_dir = folder / "redis"
    redis_dir.mkdir(exist_ok=True)
    redis = AofRedis(redis_dir)
    events = schedule(plan)
    faults: list[Fault] = []
    log = folder / "arrivals.jsonl"
    redis.start()
    runners: list[Runner] = []
    wall, origin = 0.0, time.time()
    try:
        with Sim(
            write_profile(folder, profile), log=folder / "sim.log", doors=RUNNERS, arrival_log=log
        ) as sim:
            for n in range(RUNNERS):
                _setup(folder / f"runner-{n}", plan, apps, sim.urls[n], n)
                runner = Runner(folder / f"runner-{n}", n, sim.urls[n], redis.url)
                runner.env = {f"BENCH_KEY_{a.sdkappid}": a.secret_key for a in apps}
                runners.append(runner)
            started, origin = time.monotonic(), time.time()
            for runner in runners:
                runner.start()
            pending = list(events)
            while not all(r.done for r in runners):
                now = time.monotonic() - started
                if now > plan.deadline_s:
                    break
                while pending and pending[0][0] <= now:
                    _, kind, target = pending.pop(0)
                    fault, end = _act(kind, target, runners, redis)
                    if fault is not None:
                        faults.append(fault)
                    if end is not None:  # the pause's end, in its turn
                        pending.append((now + end[0], end[1], target))
                        pending.sort(key=lambda e: e[0])
                for runner in runners:
                    runner.poll()
                time.sleep(0.05)  # the schedule's own tick
            wall = time.monotonic() - started
    finally:
        for runner in runners:
            runner.signal(signal.SIGCONT)
            runner.kill()
        if redis._process is not None:
            os.kill(redis._process.pid, signal.SIGCONT)
        redis.stop()
    history = _history(folder, runners, faults, plan)
    verdicts = check(history)
    figures = _figures(plan, history, verdicts, runners, origin) | {"wall_s": round(wall, 1)}
    # the history as kept: every action with its time, what was on the wire, the verdicts
    (folder / "history.json").write_text(json.dumps(figures | {"origin": origin}, indent=1))
    return verdicts, figures


def _figures(
    plan: Plan, history: History, verdicts: Verdicts, runners: list[Runner], origin: float
) -> dict[str, object]:
    """The history's figures and the verdicts, times in seconds after the runners' start."""
    faults = history.faults
    return {
        "seed": plan.seed,
        "arrivals": len(history.arrivals),
        "rooms": len(history.rooms),
        "starts": [r.starts for r in runners],
        "exits": [r.exits for r in runners],
        "unfinished_runners": sum(not r.done for r in runners),
        "faults": [
            {
                "t": round(f.t - origin, 2),
                "kind": f.kind,
                "runner": f.runner,
                "on_wire": {id(g): n for g, n in verdicts.on_wire}.get(id(f)),
            }
            for f in faults
        ],
        "busy_seconds": verdicts.busy_seconds,
        "accepted_busy_seconds": verdicts.accepted_busy_seconds,
        "busy_at": [[app, round(t - origin, 2)] for app, t in verdicts.busy],
        "max_in_1s": {str(k): v for k, v in verdicts.max_in_1s.items()},
        "rooms_not_ok": len(verdicts.rooms_not_ok),
        "accepted_twice": len(verdicts.accepted_twice),
        "bound": verdicts.bound,
        "unrecorded": verdicts.unrecorded,
        "tracebacks": list(verdicts.tracebacks),
        "holds": verdicts.holds,
        "twice_by_door": _twice_by_door(history, origin),
    }


def _act(
    kind: str, target: int | None, runners: list[Runner], redis: AofRedis
) -> tuple[Fault | None, tuple[float, str] | None]:
    """Do one fault (or end a pause); the fault, and the end a pause needs (in s, kind)."""
    at = time.time()
    if kind == "kill" and target is not None:
        runners[target].kill()
        runners[target].poll()  # restarted with --resume at once
        return Fault(at, kind, target), None
    if kind == "stop" and target is not None:
        runners[target].signal(signal.SIGSTOP)
        return Fault(at, kind, target, at + STOP_S), (STOP_S, "cont")
    if kind == "cont" and target is not None:
        runners[target].signal(signal.SIGCONT)
        return None, None
    if kind == "redis-stop":
        redis.pause()
        return Fault(at, kind, None, at + REDIS_STOP_S), (REDIS_STOP_S, "redis-cont")
    if kind == "redis-cont":
        redis.resume()
        return None, None
    if kind == "redis-restart":
        redis.graceful_restart()
    elif kind == "script-flush":
        redis.command("SCRIPT", "FLUSH")
    elif kind == "client-kill":
        redis.command("CLIENT", "KILL", "TYPE", "normal")
    return Fault(at, kind, None, time.time()), None


def _history(folder: Path, runners: list[Runner], faults: list[Fault], plan: Plan) -> History:
    arrivals = [
        a
        for line in (folder / "arrivals.jsonl").read_text(encoding="utf-8").splitlines()
        if (a := parse_arrival(line)) is not None
    ]
    records = [
        rec
        for r in runners
        if (r.folder / "results.jsonl").exists()
        for line in (r.folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
        if (rec := parse_record(r.index, line)) is not None
    ]
    apps = bench_apps(2)
    rooms = frozenset((a.sdkappid, f"nem-{i:05d}") for i in range(plan.rooms_per_app) for a in apps)
    stderr = {
        str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(folder.glob("runner-*/stderr-*.txt"))
    }
    return History(
        rooms=rooms,
        arrivals=arrivals,
        records=records,
        faults=faults,
        stderr=stderr,
        before_s=LATENCY_MS[1] / 1000 + 0.5,
        given_back_s=CARRY_WAIT + 0.05,  # and the booking's round trip
    )


def _twice_by_door(history: History, origin: float) -> list[dict[str, object]]:
    """Each room accepted more than once: its accepted arrivals (s after the start, runner)."""
    accepted: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for a in history.arrivals:
        if a.code == "0" and a.room:
            accepted.setdefault((a.sdkappid or 0, a.room), []).append(
                (round(a.t - origin, 2), a.door)
            )
    return [
        {"app": app, "room": room, "accepted": times}
        for (app, room), times in sorted(accepted.items())
        if len(times) > 1
    ]
