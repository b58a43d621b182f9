"""A whole run against the simulator's model, in-process on virtual time.

The run loop, the pacer and `SimModel` together, with no sockets: the transport calls the
model directly with the loop's virtual clock, after a trip whose length the test chooses. The
tests of shared budgets and of jitter tune the pacer on it; the bench measures the same over
real sockets.
"""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from resumer.api.client import Request
from resumer.config.model import AppConfig, RunConfig
from resumer.engine.run import Run
from resumer.records import Reply, Room
from resumer.results.writer import ResultsWriter
from resumer.sim.config import SimConfig
from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from tests.support.sources import Entries
from tests.support.vtime import run_virtual

Trip = Callable[[SimModel], float]  # seconds a request takes to reach the model's window


def arrivals_in_sim(
    config: SimConfig,
    *,
    rooms: int,
    seed: int,
    trip: Trip,
    events: list[MutableMapping[str, Any]] | None = None,
) -> list[tuple[float, str]]:
    """(arrival time, kind of answer) of every request a run of `rooms` rooms sent.

    The run's log events are added to `events`, if given.
    """
    seen: list[tuple[float, str]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        model = SimModel(config, start=loop.time() - 2)  # a neighbour was there first

        async def transport(request: Request) -> Reply:
            await asyncio.sleep(trip(model))
            answer = model.handle(
                dict(request.query), request.body, now=loop.time(), now_unix=time.time()
            )
            seen.append((loop.time(), answer.kind))
            await asyncio.sleep(answer.delay)
            return Reply(http_status=answer.status, body=answer.body)

        app = AppConfig(
            sdkappid=DEMO_SDKAPPID, identifier=DEMO_IDENTIFIER, secret_key=DEMO_SECRET_KEY
        )
        run = Run(
            RunConfig(apps=(app,), endpoint="http://127.0.0.1:1"),
            transport=transport,
            writer=ResultsWriter(io.BytesIO(), name="test", owned=False),
            rng=random.Random(seed),
            wallclock=time.time,
        )
        await run.resume(Entries([Room(room_id=f"room{i}", sdkappid=None) for i in range(rooms)]))

    with structlog.testing.capture_logs() as logged:  # kept out of the test's output
        run_virtual(scenario())
    if events is not None:
        events.extend(logged)
    return seen
