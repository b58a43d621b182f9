"""Rooms in flight, leased on Redis, and the ledger of final outcomes that runs share.

Claim (one script, `claim.lua`, for a batch of an app's rooms: one round trip for up to
engine.claimed.BATCH of them): a room final in the ledger is FINAL (skip it); else a room whose
lease key exists is BUSY (another live run is on it); else the app's fence counter is INCRed and
the lease `resumer:{APP}:lease:ROOM` is SET to `TOKEN RUNNER` with a PX of `lease_ttl`: LEASED,
with that token. A lease that is this run's own already is LEASED again, with its token: the
call is made again when its reply was lost (a timeout, a broken connection), and the run never
claims one room twice otherwise (it drops duplicate rooms).

Release, fenced by the lease's value `TOKEN RUNNER`, goes back with the app's next booking (see
fleet.giveback: no round trip of its own while the app sends):
- the lease is still this claim's: record the outcome in the ledger if it is final, DEL the lease;
- no lease any more (it expired and nobody took the room): still record a final outcome;
- another run holds it (ours expired and that run claimed the room): record nothing, delete
  nothing, log `lease_lost`. The room's outcome is the other run's to record.
A release that cannot reach Redis (the run stopped, or Redis was lost past its timeout) does
not raise into the worker: the record is in the local results log already; it is counted and
the lease expires on its own.

Renewal (fleet.leases) renews every lease this run holds, one call per app every `renew_every`
s. LEASE_TTL = 10 s with RENEW_EVERY = TTL/4 lets a lease survive three renewals in a row that
were late or failed (a call gives up after link.SOCKET_TIMEOUT, 1 s; a loaded event loop may be
late) and frees a dead runner's rooms 10 s after its last renewal.

Never a send on a lapsed lease: before each request the run asks `fresh`, from its own clock,
whether the lease was set or renewed (the call that did it *left*) less than `lease_ttl` − the
request timeout − FRESH_MARGIN ago; a request sent then ends before the lease can lapse, even if
no renewal gets through meanwhile. A lease older than that (the process was paused, a SIGSTOP,
a frozen VM, past the TTL; renewals failed) is `confirm`ed first: claimed again, one round trip.
LEASED: send. BUSY or FINAL: another run took the room over (or finished it) while this one
stood still; the room is dropped from this run, never sent.

The ledger: a hash per app and ledger name, room -> `STATUS TIME_US` (Redis `TIME`, integer
µs), holding final outcomes only (ok, rejected, invalid: what `--resume` skips; gave_up and
aborted are done again). Its twin `ledger-counts:NAME` holds status -> rooms, moved when a
room's status changes (a rejected room done again by a later run, now ok). Both get a PEXPIRE
of `ledger_ttl` on every write: Redis 7.0 cannot expire one field of a hash, so a ledger's
entries expire together, `ledger_ttl` after the ledger's *last* write.

Which entries a run honours:
- `--ledger NAME`: every entry of NAME. Runs that name it skip what any of them finished, as
  `--resume` does with a results log, until the ledger expires.
- the overlap ledger "-", which every run writes too (with or without a name): only entries
  written at or after `since_us`, the start (Redis time) of the oldest run alive when this one
  started (see fleet.sharing). Runs that overlap never send a room that another finished while
  they ran, whatever their ledger names; a run started after every other ended does every room
  again, as an operator rerunning after a new incident must not have rooms skipped by an older
  run. "-" is kept OVERLAP_TTL (a day) after its last write.

A run with `--resume` records its results log's final rooms again in the ledgers it writes
before its first claim (fleet.republish). Another run resumed beside it may do the same a little
later, after this one leased some of those rooms: the rooms this run leases within RECHECK of
its republish are not `fresh` until `confirm`ed once, right before their first request.

Every call goes through `link.call`, so it fails closed: while Redis is lost, a claim waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog

from resumer.engine.sharing import Claim, Hold
from resumer.fleet import keys
from resumer.fleet.generation import GENERATION_TTL_MS, Generations
from resumer.fleet.giveback import CARRY_WAIT, EXPIRED, RELEASED, GiveBack, GiveBacks
from resumer.fleet.leases import Held, HeldLeases, ints
from resumer.fleet.link import Link, lua, time_us
from resumer.fleet.repeat import Repeat
from resumer.fleet.republish import republish
from resumer.records import Result, Status
from resumer.timing import Clock, Sleep

LEASE_TTL = 10.0  # seconds a lease lives unless renewed: how long a dead runner's rooms stay BUSY
FRESH_SHARE = 0.3  # of a lease's TTL, the least time it stays fresh after a renewal
FRESH_MARGIN = 1.0  # seconds a lease must outlive a request sent now, beyond its timeout
RENEW_SHARE = 4  # renewals per lease TTL: a lease outlives three late or failed renewals
UNNAMED = "-"  # the overlap ledger: every run writes it, and honours it since its start
OVERLAP_TTL = 86400.0  # seconds "-" keeps its entries: they matter only while runs overlap


def lease_ttl_for(timeout: float) -> float:
    """The TTL of a run's leases: LEASE_TTL, or longer for a long request `timeout`, so a lease
    renewed just now stays `fresh` for FRESH_SHARE of it (more than a renewal period) past the
    request's timeout and FRESH_MARGIN: with a TTL that the timeout used up, no room could ever
    be sent."""
    return max(LEASE_TTL, (timeout + FRESH_MARGIN) / (1 - FRESH_SHARE))


_HOLDS = (Hold.LEASED, Hold.BUSY, Hold.FINAL)  # claim.lua's answers, in its numbering
_WIPED = 3  # claim.lua: the app's generation is gone or another (see fleet.generation)
WIPED_WAIT = 1.0  # seconds between claims while the run stops after a wipe
# Seconds after a resumed run republished its log (fleet.republish) during which the rooms it
# leases are claimed again right before their first request: another run resumed beside it, up
# to this much later, may republish a room this one leased before (see `confirm`).
RECHECK = LEASE_TTL


@dataclass(slots=True)
class ClaimStats:
    """What the claims did, for the summary and for `resumer status`."""

    leased: int = 0
    busy: int = 0
    final: int = 0
    released: int = 0  # releases that found the lease still this run's
    expired: int = 0  # releases that found no lease any more (outcome recorded all the same)
    lost: int = 0  # leases found held by another run (at renewal or at release)
    confirmed: int = 0  # leases too old to send on, claimed again before a request
    rechecked: int = 0  # leases taken soon after a republish, claimed again before a request
    dropped: int = 0  # rooms another run took over or finished while this one's lease lapsed
    release_failures: int = 0  # releases that could not reach Redis: the lease expires alone
    renewals: int = 0  # renewal calls (one per app with leases, per tick)
    claim_calls: int = 0  # claim calls (one per batch of an app's rooms)
    give_back_calls: int = 0  # releases that went alone, no booking to carry them


class RoomClaims:
    """One run's leases on rooms and its view of the ledger (see the module docstring)."""

    def __init__(
        self,
        link: Link,
        *,
        ledger: str | None,
        ledger_ttl: float,
        since_us: int | None = None,
        lease_ttl: float = LEASE_TTL,
        renew_every: float | None = None,
        clock: Clock | None = None,
        generations: Generations | None = None,
        carry_wait: float = CARRY_WAIT,
    ) -> None:
        self._link = link
        self._generations = generations
        self._clock = clock or asyncio.get_running_loop().time
        self._lease_ttl = lease_ttl
        self._ledger = ledger if ledger is not None else UNNAMED
        # A named ledger is honoured whole; the unnamed one from the run's start on (None: the
        # first claim asks Redis for its time).
        self._named = ledger is not None
        self._since_us = since_us
        self._recheck_until: float | None = None  # loop clock; set by `republish`
        self._ledger_ttl_ms = str(max(1, round(ledger_ttl * 1000)))
        self._overlap_ttl_ms = (
            str(round(OVERLAP_TTL * 1000)) if self._named else self._ledger_ttl_ms
        )
        self._lease_ttl_ms = str(max(1, round(lease_ttl * 1000)))
        self._renew_every = renew_every if renew_every is not None else lease_ttl / RENEW_SHARE
        self._claim = link.script(lua("claim.lua"))
        self.givebacks = GiveBacks(
            link,
            ledger=self._ledger,
            unnamed=UNNAMED,
            ledger_ttl_ms=self._ledger_ttl_ms,
            overlap_ttl_ms=self._overlap_ttl_ms,
            answered=self._given_back,
            failed=self._give_back_failed,
            wait=carry_wait,
        )
        self._runner = link.runner.encode()
        self._leases = HeldLeases(
            link,
            ledger=self._ledger,
            unnamed=UNNAMED,
            named=self._named,
            lease_ttl_ms=self._lease_ttl_ms,
            since=self._since,
            lost=lambda sdkappid, room_id: self._lost(sdkappid, room_id, "renewal"),
            clock=self._clock,
        )
        self._renewer = Repeat(
            self._renew_round,
            every=self._renew_every,
            first=self._renew_every,
            name="resumer-lease-renewal",
        )
        self._log = structlog.get_logger("resumer")
        self.stats = ClaimStats()

    async def claim(self, sdkappid: int, room_ids: list[str], sleep: Sleep) -> list[Claim]:
        """Claim rooms of one app before they are sent, in one call: each LEASED (with its
        token), BUSY or FINAL."""
        recheck = self._recheck_until is not None and self._clock() < self._recheck_until
        claims = await self._claim_once(sdkappid, room_ids, sleep, recheck=recheck)
        for claim in claims:
            if claim.hold is Hold.BUSY:
                self.stats.busy += 1
            elif claim.hold is Hold.FINAL:
                self.stats.final += 1
            else:
                self.stats.leased += 1
        return claims

    def fresh(self, sdkappid: int, room_id: str, timeout: float) -> bool:
        """The room's lease will outlive a request sent now and its `timeout`, for sure."""
        held = self._leases.get(sdkappid, room_id)
        if held is None or held.lost or held.recheck:
            return False
        return self._clock() - held.renewed < self._lease_ttl - timeout - FRESH_MARGIN

    async def confirm(self, sdkappid: int, room_id: str, sleep: Sleep) -> Hold:
        """Claim a room that is not `fresh` again; BUSY or FINAL: dropped.

        Not fresh: held too long without renewal, or leased within RECHECK of this run's
        republish, when a run resumed beside it may have republished the room since (a claim
        finds a ledger's FINAL before its own lease).
        """
        held = self._leases.get(sdkappid, room_id)
        rechecked = held is not None and held.recheck
        if rechecked:
            self.stats.rechecked += 1
        else:
            self.stats.confirmed += 1
        (claim,) = await self._claim_once(sdkappid, [room_id], sleep)
        if claim.hold is not Hold.LEASED:
            self._leases.forget(sdkappid, room_id)
            self.stats.dropped += 1
            # Rechecked: as it should be, the other run's log holds the room final.
            log = self._log.info if rechecked else self._log.warning
            log(
                "room_dropped",
                sdkappid=sdkappid,
                room_id=room_id,
                hold=claim.hold.value,
                hint="a run resumed beside this one holds it final in its results log"
                if rechecked
                else "this run stood still past its lease; another run took the room over",
            )
        return claim.hold

    async def _claim_once(
        self, sdkappid: int, room_ids: list[str], sleep: Sleep, *, recheck: bool = False
    ) -> list[Claim]:
        since = await self._since(sleep)
        keys_ = [
            keys.ledger(sdkappid, self._ledger),
            keys.ledger(sdkappid, UNNAMED),
            keys.fence(sdkappid),
            keys.generation(sdkappid),
            *(keys.lease(sdkappid, room_id) for room_id in room_ids),
        ]
        generation = "" if self._generations is None else self._generations.of(sdkappid)
        args = [
            since,
            self._lease_ttl_ms,
            self._runner,
            "1" if self._named else "0",
            generation,
            str(GENERATION_TTL_MS),
            *room_ids,
        ]
        left = self._clock()

        async def call(client: aioredis.Redis) -> object:
            nonlocal left
            left = self._clock()  # of the attempt that answers, not of an outage
            self.stats.claim_calls += 1
            return await self._claim(keys=keys_, args=args, client=client)

        while (answer := ints(await self._link.call(call, sleep)))[0] == _WIPED:
            if self._generations is not None:
                self._generations.wiped(sdkappid)
            await sleep(WIPED_WAIT)  # the run stops: the app's nap raises
        if len(answer) != 2 * len(room_ids):
            raise TypeError(f"claim.lua answered {answer!r} for {len(room_ids)} rooms")
        claims: list[Claim] = []
        for room_id, code, token in zip(room_ids, answer[::2], answer[1::2], strict=True):
            hold = _HOLDS[code]
            if hold is Hold.LEASED:
                value = b"%d %s" % (token, self._runner)
                self._leases.put(sdkappid, room_id, Held(value, sleep, left, recheck=recheck))
                claims.append(Claim(hold, token))
            else:
                claims.append(Claim(hold))
        return claims

    def release(self, sdkappid: int, room_id: str, claim: Claim, result: Result | None) -> None:
        """The room's record is written: give the lease back (with the app's next booking),
        recording a final outcome."""
        if claim.hold is not Hold.LEASED:
            return
        held = self._leases.forget(sdkappid, room_id)
        if held is None:
            return  # released before, or not claimed by this RoomClaims
        status = result.status.value if result is not None and result.status.is_final else ""
        self.givebacks.add(sdkappid, GiveBack(room_id, held.value, status, held.lost), held.sleep)

    def _given_back(self, sdkappid: int, item: GiveBack, answer: int) -> None:
        if answer == RELEASED:
            self.stats.released += 1
        elif answer == EXPIRED:
            self.stats.expired += 1
        elif not item.lost:
            self._lost(sdkappid, item.room_id, "release")

    def _give_back_failed(self, leases: int) -> None:
        # The records are in the local results log; the leases expire after their TTL.
        self.stats.release_failures += leases

    async def republish(
        self, finished: Iterable[tuple[int, str, Status]], sdkappids: Sequence[int]
    ) -> int:
        """Record a results log's final rooms again in this run's ledgers (see fleet.republish);
        the rooms leased in the next RECHECK seconds are claimed again before their request."""
        rooms = await republish(
            self._link,
            finished,
            sdkappids=sdkappids,
            ledger=self._ledger,
            overlap=UNNAMED,
            ledger_ttl_ms=self._ledger_ttl_ms,
            overlap_ttl_ms=self._overlap_ttl_ms,
        )
        self._recheck_until = self._clock() + RECHECK
        return rooms

    def start(self) -> None:
        """Start renewing this run's leases (call once, inside the run's event loop)."""
        self._renewer.start()

    async def close(self) -> None:
        """Stop renewing, give back what waits (one try); leases still held expire on their own
        after their TTL."""
        await self._renewer.stop()
        await self.givebacks.close()
        self.stats.give_back_calls = self.givebacks.alone

    @property
    def ledger(self) -> str:
        """The ledger this run records final outcomes in (UNNAMED: the overlap ledger only)."""
        return self._ledger

    @property
    def held(self) -> int:
        """Rooms this run holds a lease on now (as far as it knows: lost ones are not counted)."""
        return self._leases.count

    async def _since(self, sleep: Sleep) -> str:
        if self._since_us is None:
            # the run's start as the ledger's entries are stamped
            self._since_us = await self._link.call(time_us, sleep)
        return str(self._since_us)

    async def _renew_round(self) -> None:
        try:
            await self.renew()
        except Exception as exc:  # a task that died quietly would let every lease lapse
            self._log.error("lease_renewal_failed", reason=f"{type(exc).__name__}: {exc}")

    async def renew(self) -> None:
        """Renew every lease held now, one call per app (the renewal task's tick)."""
        self.stats.renewals += await self._leases.renew()

    def _lost(self, sdkappid: int, room_id: str, seen_at: str) -> None:
        self.stats.lost += 1
        self._log.warning(
            "lease_lost",
            sdkappid=sdkappid,
            room_id=room_id,
            seen_at=seen_at,
            hint="the lease expired before it was renewed: another run may send this room too",
        )
