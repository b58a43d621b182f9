"""`resumer run --dry-run`: route the rooms as the run would, send nothing, print the plan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from resumer.cli.dry_redis import check_metrics_address, fleet_view
from resumer.cli.estimates import duration, paced
from resumer.cli.exits import EXIT_OK
from resumer.cli.output import Skip
from resumer.config.model import RunConfig
from resumer.engine.routing import Entry, Route, Router


def dry_run(config: RunConfig, entries: Iterator[Entry], skip: Skip) -> int:
    """Route the rooms as the run would, send nothing, print the plan per app; with --redis,
    what the shared state holds for them (see resumer.cli.dry_redis)."""
    check_metrics_address(config)
    sharing = config.sharing
    to_send: dict[int, list[str]] = {a.sdkappid: [] for a in config.apps}
    router = Router((a.sdkappid for a in config.apps), skip=skip)
    counts: dict[int | None, Counter[Route]] = {a.sdkappid: Counter() for a in config.apps}
    unrouted = 0
    for entry in entries:
        decision = router.route(entry)
        sdkappid = decision.sdkappid
        if sdkappid is not None and sdkappid in counts:
            counts[sdkappid][decision.route] += 1
            if sharing is not None and decision.route is Route.SEND:
                to_send[sdkappid].append(entry.room_id)
        elif decision.route is Route.INVALID:
            unrouted += 1
    pace = paced(config.rate)
    for sdkappid, count in counts.items():
        print(
            f"app {sdkappid}: {count[Route.SEND]} rooms to resume, "
            f"{count[Route.SKIPPED]} already final, {count[Route.DUPLICATE]} duplicates, "
            f"{count[Route.INVALID]} invalid; about {duration(count[Route.SEND] / pace)} "
            f"at {pace:g}/s"
        )
    if sharing is not None:
        named = f"ledger {sharing.ledger}" if sharing.ledger is not None else "no --ledger"
        for sdkappid, (final, live) in fleet_view(sharing, to_send).items():
            print(
                f"app {sdkappid} on Redis {sharing.shown_redis}: {final} of the rooms to resume "
                f"final in {named} (would be skipped); {live} run{'s' if live != 1 else ''} "
                "live on this app"
            )
    if unrouted:
        print(f"{unrouted} lines name no configured app and would be recorded invalid")
    print("dry run: nothing was sent")
    return EXIT_OK
