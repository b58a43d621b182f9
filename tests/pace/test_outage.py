"""Outage detection: pure bookkeeping with hand-picked times, and the gate on virtual time."""

import asyncio
from itertools import pairwise

from resumer.pace.outage import FIRST_PAUSE, MAX_PAUSE, THRESHOLD, OutageGate, OutageState
from tests.support.vtime import run_virtual


def test_an_outage_starts_after_threshold_failures_in_a_row() -> None:
    state = OutageState()
    assert not any(state.failed(now=1.0) for _ in range(THRESHOLD - 1))
    assert state.failed(now=1.0)
    assert state.active
    assert state.next_probe == 1.0 + FIRST_PAUSE


def test_any_other_reply_resets_the_count() -> None:
    state = OutageState()
    for _ in range(THRESHOLD - 1):
        state.failed(now=0.0)
    assert not state.answered(sent_at=0.0)
    assert not state.failed(now=0.0)
    assert not state.active


def test_probe_pauses_double_up_to_a_cap() -> None:
    state = OutageState()
    for _ in range(THRESHOLD):
        state.failed(now=0.0)
    pauses = []
    for _ in range(6):
        state.failed(now=0.0)  # a reply to a request from before the outage: no news
        state.failed(now=0.0, probe=True)
        pauses.append(state.pause)
    assert pauses == [2.0, 4.0, 8.0, MAX_PAUSE, MAX_PAUSE, MAX_PAUSE]


def test_a_reply_to_a_request_sent_before_the_outage_does_not_end_it() -> None:
    state = OutageState()
    for _ in range(THRESHOLD):
        state.failed(now=5.0)
    assert not state.answered(sent_at=4.9)
    assert state.active
    assert state.answered(sent_at=6.0)
    assert not state.active


def test_during_an_outage_requests_go_one_at_a_time_after_the_pause() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        gate = OutageGate(clock=loop.time, nap=asyncio.sleep)
        for _ in range(THRESHOLD):
            gate.failed()
        sent: list[float] = []

        async def request() -> None:
            async with gate.admission() as probing:
                assert probing
                sent.append(loop.time())
                await asyncio.sleep(0.1)
                gate.failed(probe=True)  # still down

        await asyncio.gather(*(request() for _ in range(4)))
        return sent

    sent = run_virtual(scenario())
    gaps = [round(b - a, 1) for a, b in pairwise(sent)]
    assert round(sent[0], 1) == FIRST_PAUSE
    assert gaps == [2.1, 4.1, 8.1]  # each probe waits for the last one's reply, then its pause


def test_when_a_probe_ends_the_outage_the_queued_requests_go_at_once_and_free() -> None:
    async def scenario() -> list[tuple[float, bool]]:
        loop = asyncio.get_running_loop()
        gate = OutageGate(clock=loop.time, nap=asyncio.sleep)
        for _ in range(THRESHOLD):
            gate.failed()
        admitted: list[tuple[float, bool]] = []

        async def request() -> None:
            async with gate.admission() as probing:
                admitted.append((loop.time(), probing))
                sent_at = loop.time()
                await asyncio.sleep(0.1)
                gate.answered(sent_at)  # the API is back

        await asyncio.gather(*(request() for _ in range(4)))
        return admitted

    admitted = [(round(t, 3), probing) for t, probing in run_virtual(scenario())]
    assert admitted[0] == (FIRST_PAUSE, True)  # the probe
    # the rest were queued behind it: admitted as soon as its reply came, not as probes
    assert admitted[1:] == [(FIRST_PAUSE + 0.1, False)] * 3
