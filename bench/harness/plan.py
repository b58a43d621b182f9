"""How big each scenario is: the full run, and the smoke run CI uses so the bench never rots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from resumer.pace.pacer import MARGIN
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY

BUDGET = 20  # the API's requests/s per SDKAppID
PACE = round(BUDGET * (1 - MARGIN), 6)  # resumer's planned pace (docs/design.md, "Pacing")
SDKAPPID = DEMO_SDKAPPID
IDENTIFIER = DEMO_IDENTIFIER
SECRET_KEY = DEMO_SECRET_KEY


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Sizes and timings of every scenario."""

    smoke: bool
    pacing_rooms: int
    side_rooms: int
    side_outage: tuple[float, float] | None  # seconds after the simulator started
    contention_rooms: int
    outage_rooms: int
    outage: tuple[float, float]
    scale_apps: tuple[int, ...]
    scale_rooms_per_app: int
    dry_run_sizes: tuple[int, ...]
    floor_requests: int  # requests of the bare aiohttp client (scenario 5's CPU floor)
    metrics_apps: int  # scenario 6: a scale step run without metrics, scraped, and pushed
    metrics_rooms_per_app: int
    metrics_rounds: int  # each variant this many times, interleaved
    jitter_rooms: int  # rooms of each run of the jitter sweep (scenario 7)
    jitter_short_rooms: int  # rooms of its shorter runs, learned margin only: how fast it learns
    fleet_rooms: int  # scenario 8: distinct rooms of three runs' overlapping lists, one app
    fleet_kill_rooms: int  # the same rooms for three runs, one of them killed
    fleet_kill_after: float  # seconds after its start
    fleet_apps: int  # three runners with every app of a config file
    fleet_rooms_per_app: int  # distinct rooms per app, over three overlapping lists
    fleet_cost_pairs: int  # runs over every app without and with Redis, in turn: medians compared
    soak_apps: int  # scenario 9: this many apps at once, each for about soak_seconds
    soak_seconds: float
    seen_sizes: tuple[int, int]  # scenario 10: dry runs over this few and this many rooms


FULL = Plan(
    smoke=False,
    pacing_rooms=1200,  # 61 s at about 19.6/s
    side_rooms=600,
    side_outage=(10.0, 13.0),
    contention_rooms=360,  # about 45 s at the 8/s a neighbour leaves
    outage_rooms=880,  # 45 s of sending plus a 15 s outage: a 60 s run
    outage=(20.0, 35.0),
    scale_apps=(10, 50, 100),
    scale_rooms_per_app=300,  # 15 s per step
    dry_run_sizes=(10_000, 100_000, 1_000_000),
    floor_requests=20_000,
    metrics_apps=50,  # busy (about 1,000 requests/s) but not saturated on a shared machine
    metrics_rooms_per_app=300,  # 15 s per run, as scale's steps
    metrics_rounds=3,
    jitter_rooms=1200,  # about 62 s at 19.5/s: the learning, and a while after it
    jitter_short_rooms=800,  # about 40 s: the learning weighs more
    fleet_rooms=600,  # lists of 400, 400 and 600: 31 s at 19.7/s when shared
    fleet_kill_rooms=500,
    fleet_kill_after=8.0,
    fleet_apps=10,
    fleet_rooms_per_app=300,  # 15 s per app at 19.7/s
    fleet_cost_pairs=3,  # CPU per request varies by a tenth from run to run: medians of three
    soak_apps=100,
    soak_seconds=300,  # 5,910 rooms per app, 591,000 in all
    seen_sizes=(10_000, 3_000_000),
)

SMOKE = Plan(
    smoke=True,
    pacing_rooms=40,  # over 20 requests, so the 1 s peak means something
    side_rooms=20,
    side_outage=None,
    contention_rooms=16,
    outage_rooms=30,
    outage=(1.0, 2.0),
    scale_apps=(3,),
    scale_rooms_per_app=10,
    dry_run_sizes=(1_000, 10_000),
    floor_requests=200,
    metrics_apps=2,
    metrics_rooms_per_app=10,
    metrics_rounds=1,
    jitter_rooms=30,
    jitter_short_rooms=25,
    fleet_rooms=30,  # over 20 requests, so the 1 s peak means something
    fleet_kill_rooms=30,
    fleet_kill_after=1.0,
    fleet_apps=2,
    fleet_rooms_per_app=12,
    fleet_cost_pairs=1,
    soak_apps=3,
    soak_seconds=2,
    seen_sizes=(1_000, 10_000),
)


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where a scenario writes its inputs, profiles and logs: `out/<scenario>/`."""

    root: Path

    def dir(self, name: str) -> Path:
        """The folder of one scenario (or tool run), created."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def room_ids(count: int, prefix: str = "live") -> list[str]:
    """Room IDs as an operator's list would have them: live_00000001, ..."""
    return [f"{prefix}_{n:08d}" for n in range(1, count + 1)]
