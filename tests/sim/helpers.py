"""Helpers of the simulator's tests: configs and signed queries for the demo apps."""

from __future__ import annotations

import json
from typing import Any

from resumer.api.usersig import make_usersig
from resumer.sim.config import SimConfig
from resumer.sim.model import SimModel
from resumer.sim.profiles import DEMO_APPS, DEMO_IDENTIFIER, DEMO_SDKAPPID, DEMO_SECRET_KEY
from resumer.sim.replies import Answer

NOW_UNIX = 1_764_000_000  # the wall clock the tests pretend it is


def config(**changes: Any) -> SimConfig:
    """A config for the demo apps, no latency, with `changes`."""
    return SimConfig(apps=DEMO_APPS, **changes)


def signed_query(
    *,
    sdkappid: int = DEMO_SDKAPPID,
    identifier: str = DEMO_IDENTIFIER,
    secret_key: str = DEMO_SECRET_KEY,
    signed_at: int = NOW_UNIX,
    expire: int = 86400,
    **overrides: str,
) -> dict[str, str]:
    """A correct query for one request, with `overrides` of its parameters."""
    usersig = make_usersig(
        sdkappid=sdkappid,
        identifier=identifier,
        secret_key=secret_key,
        now=signed_at,
        expire=expire,
    )
    query = {
        "sdkappid": str(sdkappid),
        "identifier": identifier,
        "usersig": usersig,
        "random": "12345",
        "contenttype": "json",
    }
    query.update(overrides)
    return query


def body(room: str) -> bytes:
    """The JSON body of a request for `room`."""
    return json.dumps({"RoomId": room}).encode()


def send(
    model: SimModel,
    room: str = "room-1",
    *,
    now: float = 0.0,
    query: dict[str, str] | None = None,
) -> Answer:
    """One request for `room` at `now`: the demo app's correct query unless `query` is given."""
    return model.handle(query or signed_query(), body(room), now=now, now_unix=NOW_UNIX)


def code_of(answer: Answer) -> int:
    """The ErrorCode in an envelope answer."""
    value = json.loads(answer.body)["ErrorCode"]
    assert isinstance(value, int)
    return value
