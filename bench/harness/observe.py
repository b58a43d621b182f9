"""One resumer run against a fresh simulator, and what both sides saw of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.arrivals import ACCEPTED
from bench.harness.plan import SDKAPPID
from bench.harness.sim import Sim
from bench.harness.tomltext import toml_text
from bench.harness.tools import ToolRun, run_baseline, run_resumer


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """A tool's run, the simulator's stats of the app, and its arrivals (times, kinds)."""

    run: ToolRun
    app: dict[str, Any]  # the app's entry of GET /stats
    times: list[float]
    kinds: list[str]
    sim_cpu_s: float

    @property
    def throttled(self) -> int:
        """100422 answers the tool received."""
        return int(self.app["by_code"].get("100422", 0))

    def common(self) -> dict[str, Any]:
        """The figures every scenario reports for a tool."""
        child = self.run.child
        requests = int(self.app["requests"])
        return {
            "wall_s": round(child.wall_s, 2),
            "exit_code": child.exit_code,
            "stopped_at_deadline": child.killed,
            "requests": requests,
            "code_100422": self.throttled,
            "max_arrivals_1s": self.app["max_arrivals_1s"],
            "during_outage": self.app["during_outage"],
            "rooms_ok": self.run.rooms_ok,
            "rooms_not_ok": self.run.rooms_not_ok,
            "client_cpu_s": round(child.cpu_s, 3),
            "client_cpu_ms_per_request": round(1000 * child.cpu_s / max(requests, 1), 3),
            "client_max_rss_mb": round(child.max_rss_mb, 1),
            "per_second": self.per_second(),
        }

    def per_second(self) -> dict[str, list[int]]:
        """Arrivals and `ok` answers in each second since the first arrival (for diagnosis)."""
        if not self.times:
            return {"arrivals": [], "ok": []}
        first = self.times[0]
        seconds = int(self.times[-1] - first) + 1
        arrivals, ok = [0] * seconds, [0] * seconds
        for t, kind in zip(self.times, self.kinds, strict=True):
            arrivals[int(t - first)] += 1
            ok[int(t - first)] += kind == ACCEPTED
        return {"arrivals": arrivals, "ok": ok}


def write_profile(folder: Path, table: Mapping[str, Any]) -> Path:
    """The simulator profile of a scenario, as TOML in its folder."""
    path = folder / "sim.toml"
    path.write_text(toml_text(table))
    return path


def observe(
    folder: Path,
    profile: Mapping[str, Any],
    rooms: Sequence[str],
    *,
    tool: str = "resumer",
    deadline: float = 600.0,
    launcher: Sequence[str] = ("-m", "resumer"),
) -> Observed:
    """Run `tool` ("resumer" or a baseline script) over `rooms` of the demo app.

    `launcher` is what follows `python` to start resumer (see `run_resumer`).
    """
    with Sim(write_profile(folder, profile), log=folder / "sim.log") as sim:
        if tool == "resumer":
            run = run_resumer(
                folder,
                url=sim.url,
                rooms=[(SDKAPPID, r) for r in rooms],
                deadline=deadline,
                launcher=launcher,
            )
        else:
            run = run_baseline(folder, tool, url=sim.url, rooms=rooms, deadline=deadline)
        app = sim.stats()["apps"][str(SDKAPPID)]
        times, kinds = sim.arrivals(SDKAPPID)
    return Observed(run=run, app=app, times=times, kinds=kinds, sim_cpu_s=sim.cpu_s)
