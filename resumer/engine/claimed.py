"""An app's rooms, taken from its queue and claimed in batches: one claim call for many rooms.

A worker asks for the next room it may send. When none is ready, it takes what waits in the
app's queue, up to BATCH rooms, and claims them all in one call (`sharing.Sharing.claim`); the
rooms another run holds or finished are settled at once (put aside, skipped), the rest are
ready, each with its claim, for the app's workers. On Redis a claim is a round trip, and with
runs that overlap most rooms are met BUSY or FINAL before one is sent: one call per room would
cost several round trips for each request sent.

A batch holds leases on rooms before a worker is free for them: BATCH is small beside what the
workers hold already (each holds a room while it waits for a send slot), and the leases are
renewed while they wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from resumer.engine.sharing import Claim
from resumer.records import Room

BATCH = 32  # rooms claimed in one call, at most

Claimer = Callable[[list[Room]], Awaitable[list[Claim] | None]]
Settler = Callable[[Room, Claim], bool]


class ClaimedRooms:
    """The rooms of one app's queue that this run holds, in their order.

    `claim(rooms)` claims a batch (None: the run stopped while it waited; the rooms are left,
    unrecorded, for --resume); `settle(room, claim)` is True if the room is not this run's to
    send (put aside or skipped). Each room taken from the queue is marked done there (`task_done`)
    once settled, or by the worker that sent it.
    """

    def __init__(
        self,
        queue: asyncio.Queue[Room | None],
        *,
        claim: Claimer,
        settle: Settler,
        batch: int = BATCH,
    ) -> None:
        self._queue = queue
        self._claim = claim
        self._settle = settle
        self._batch = batch
        self._ready: deque[tuple[Room, Claim]] = deque()
        self._turn = asyncio.Lock()  # one batch at a time: the others wait for its rooms
        self._ended = False  # the queue's end (None) was taken

    async def next(self) -> tuple[Room, Claim] | None:
        """The next room this run holds, with its claim; None at the end of the queue."""
        async with self._turn:
            while not self._ready and not self._ended:
                await self._fill()
            return self._ready.popleft() if self._ready else None

    async def _fill(self) -> None:
        queue = self._queue
        first = await queue.get()
        rooms: list[Room] = []
        while first is not None:
            rooms.append(first)
            if len(rooms) >= self._batch or queue.empty():
                break
            first = queue.get_nowait()
        if first is None:
            self._ended = True
            queue.task_done()
        if not rooms:
            return
        claims = await self._claim(rooms)
        for n, room in enumerate(rooms):
            if claims is None or self._settle(room, claims[n]):
                queue.task_done()
            else:
                self._ready.append((room, claims[n]))
