"""One attempt for a room: budget grant, send, classify, and the throttle and outage books."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

import structlog

from resumer.api.classify import Action, Verdict, classify, fatal_cause
from resumer.api.client import MAX_RANDOM, Transport, build_request
from resumer.config.model import RunConfig
from resumer.engine.app import App, Halted
from resumer.engine.room import RoomInFlight
from resumer.engine.sharing import Alone, Dropped, Hold, Sharing
from resumer.errors import TransportError
from resumer.pace.retrying import Transient

OUTAGE_LIMIT = 300.0  # seconds of nothing but transient errors before an app is stopped
FIRST_CONTACT_LIMIT = 30.0  # the same, for an app with no JSON envelope yet (a wrong endpoint?)
# Seconds a claim made again before a request may take for the request to keep its slot: with
# the shared pacer's LATE (10 ms) it stays within the fleet margin's cover (15 ms) of jitter.
CONFIRMED_IN_TIME = 0.005
MARGIN_LOOK = 20  # grants between looks at the app's margin: once a second at the full pace


class Attempts:
    """Makes attempts for rooms: each sends until the reply is final or retryable."""

    def __init__(
        self,
        config: RunConfig,
        *,
        transport: Transport,
        rng: random.Random,
        clock: Callable[[], float],
        sharing: Sharing | None = None,
    ) -> None:
        self._config = config
        self._sharing = sharing or Alone()
        self._transport = transport
        self._rng = rng
        self._clock = clock
        self._log = structlog.get_logger("resumer")

    async def once(self, flight: RoomInFlight) -> Verdict:
        """One attempt: the final verdict (OK or REJECT); raise Transient to retry, or Halted.

        Throttles, UserSig renewals and failures during an outage cost the room no attempt.
        """
        app = flight.app
        renewed = False
        while True:
            async with app.outage.admission() as probing:
                grant = await app.pacer.acquire()
                try:
                    if app.halt.is_set():
                        raise Halted
                    # An outage began while this one waited for its slot, or the room's hold
                    # had to be claimed again and that took too long: a new slot for it.
                    if not app.outage.may_send(probing) or not (
                        self._sharing.fresh(app.sdkappid, flight.room.room_id, self._config.timeout)
                        or await self._claim_again(flight)
                    ):
                        continue
                    sent_at = self._clock()
                    flight.sending()
                    verdict = await self._send(flight, grant)
                finally:
                    app.pacer.done(grant)
                app.stats.answered_request(verdict.action, verdict.code, self._clock() - sent_at)
            self._margin_look(app, grant)
            # Any envelope, transient or not, proves the endpoint is the API: from then on the
            # app gets the long outage limit; one with none yet (connection refused, an HTML
            # page) the short one.
            if verdict.envelope or verdict.action is not Action.RETRY:
                app.reached_api = True
            if verdict.action is Action.RETRY:
                self._transient(app, verdict, probing)
                if app.outage.state.active:
                    continue  # the API is down, not this room: wait for the probe's news
                raise Transient(verdict)
            if (outage := app.outage.answered(sent_at)) is not None:
                self._log.warning(
                    "outage_ended", sdkappid=app.sdkappid, duration_s=round(outage, 1)
                )
            match verdict.action:
                case Action.OK | Action.REJECT:
                    return verdict
                case Action.THROTTLE:
                    await self._throttled(flight, verdict, grant)
                case Action.RENEW if app.usersigs.can_renew and not renewed:
                    renewed = True
                    app.usersigs.renew()
                    self._log.info("usersig_renewed", sdkappid=app.sdkappid, code=verdict.code)
                case _:  # FATAL, or a UserSig that expired again or cannot be renewed
                    expired = verdict.action is Action.RENEW
                    cause = _expired_cause(app) if expired else fatal_cause(verdict)
                    # The sentence names the reply as the operator reads it ("error 70009",
                    # "HTTP 404 (...)", "no reply (...)"), never a bare "error 0".
                    app.abort(verdict, f"{verdict.headline}: {cause}")
                    raise Halted

    async def _claim_again(self, flight: RoomInFlight) -> bool:
        """This run's hold on the room may lapse before a request sent now is over (or is to be
        looked at again, see sharing.Sharing.fresh): claim the room again. True if that took a
        round trip only and the hold is fresh now; False: the slot is given up. Dropped if
        another run took it over or finished it while this one stood still, or holds it final.

        Only then: `Sharing.fresh`, checked first, spares nearly every request a coroutine."""
        app, room_id = flight.app, flight.room.room_id
        asked = self._clock()
        hold = await self._sharing.confirm(app.sdkappid, room_id, app.nap)
        if hold is not Hold.LEASED:
            raise Dropped(hold)
        # Claimed again within a round trip, and fresh now: sent in this slot after all.
        return self._clock() - asked <= CONFIRMED_IN_TIME and self._sharing.fresh(
            app.sdkappid, room_id, self._config.timeout
        )

    def _margin_look(self, app: App, grant: int) -> None:
        """Say what the pacer learned: the margin, whenever it moved by a tenth of a percent."""
        if grant % MARGIN_LOOK:
            return
        margin = round(app.pacer.margin, 3)
        if margin != app.margin_said:
            self._log.info(
                "margin_changed",
                sdkappid=app.sdkappid,
                margin=margin,
                was=app.margin_said,
                rate=round(app.pacer.rate, 2),
            )
            app.margin_said = margin

    async def _throttled(self, flight: RoomInFlight, verdict: Verdict, grant: int) -> None:
        """Slow the app down; then wait as long as the reply asked (a 429's Retry-After)."""
        app = flight.app
        app.stats.throttles += 1
        margin = app.pacer.margin
        if app.pacer.throttled(grant):
            # Arrival jitter widens the margin and keeps the rate; a neighbour cuts the rate.
            widened = app.pacer.margin > margin
            self._log.info(
                "margin_widened" if widened else "throttled",
                sdkappid=app.sdkappid,
                room_id=flight.room.room_id,
                code=verdict.code,
                rate=round(app.pacer.rate, 2),
                margin=round(app.pacer.margin, 4),
            )
        if verdict.wait:
            await app.nap(verdict.wait)

    async def _send(self, flight: RoomInFlight, grant: int) -> Verdict:
        """One request, with this attempt's own `random` and current UserSig, classified; the
        pacer hears when it reaches the wire."""
        app = flight.app
        request = build_request(
            base_url=self._config.endpoint,
            sdkappid=app.sdkappid,
            identifier=app.config.identifier,
            usersig=app.usersigs.current(),
            random=self._rng.randint(0, MAX_RANDOM),
            room_id=flight.room.room_id,
            on_wire=partial(app.pacer.left, grant),
        )
        app.stats.sent += 1
        try:
            return classify(await self._transport(request), self._config.codes)
        except TransportError as exc:
            return Verdict(action=Action.RETRY, code=0, info=str(exc))

    def _transient(self, app: App, verdict: Verdict, probing: bool) -> None:
        """Count a transient failure toward an outage; stop the app if one lasts too long."""
        if app.outage.failed(probe=probing):
            self._log.warning(
                "outage_started",
                sdkappid=app.sdkappid,
                code=verdict.code,
                info=verdict.info,
                hint="every reply is transient: probing with single requests until it answers",
            )
        state = app.outage.state
        limit = OUTAGE_LIMIT if app.reached_api else FIRST_CONTACT_LIMIT
        if state.active and self._clock() - state.started > limit:
            what = "nothing but transient errors" if app.reached_api else "no answer from the API"
            app.abort(
                verdict,
                f"{what} for {limit:g} s (last: {verdict.headline}): check --endpoint / --region "
                "and the API's status, then run again with --resume",
            )
            raise Halted


def _expired_cause(app: App) -> str:
    """Why an app whose UserSig the API calls expired is stopped, and the fix."""
    if not app.usersigs.can_renew:
        return (
            "its ready UserSig expired mid-run: make one valid for the rest of the run, or set "
            "the secret key so resumer renews it, then run again with --resume"
        )
    return "a UserSig made just now was refused as expired: check this machine's clock"
