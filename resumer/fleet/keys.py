"""The names of resumer's keys on Redis.

Every key of an app carries the app's SDKAppID as a hash tag (`{1400000001}`), so a script that
touches several keys of one app works on a Redis Cluster: they all live in one slot. The keys
of the runs themselves (heartbeats, the apps set) belong to no app and share the tag `{fleet}`.
"""

from __future__ import annotations

PREFIX = "resumer"
# The key layout and the scripts' protocol: runs of another one refuse to share a Redis with
# this one (see fleet.generation). Raise it with any change to a key's meaning or a script's
# KEYS, ARGV or reply.
PROTOCOL = 3
# The runs' own keys share the hash tag `{fleet}`: on a Cluster they live in one slot, so one
# SCAN (which the Cluster client sends to every primary) finds every heartbeat and one MGET
# reads them all, and a heartbeat and the apps set go out in one pipeline to one node.
FLEET = f"{PREFIX}:{{fleet}}"
RUNNERS = f"{FLEET}:runner:"  # + runner id: a heartbeat, expiring unless renewed
APPS = f"{FLEET}:apps"  # a set of the SDKAppIDs any run has paced on this Redis
# Where runs of protocol 1 kept their heartbeats: read only to refuse sharing with them.
RUNNERS_V1 = f"{PREFIX}:runner:"
PROBES = f"{PREFIX}:probe:"  # + runner id: what a run writes to learn that Redis takes writes


def app_key(sdkappid: int, name: str) -> str:
    """A key of one app: `resumer:{SDKAPPID}:NAME`."""
    return f"{PREFIX}:{{{sdkappid}}}:{name}"


def tat(sdkappid: int) -> str:
    """The GCRA's theoretical arrival time: the earliest moment the app's next send may leave."""
    return app_key(sdkappid, "tat")


def sends(sdkappid: int) -> str:
    """A sorted set of the app's recent send slots (µs), to count its share of a window."""
    return app_key(sdkappid, "sends")


def rate(sdkappid: int) -> str:
    """A hash of the app's shared CUBIC state: the rate at the last cut and when it happened."""
    return app_key(sdkappid, "rate")


def asked(sdkappid: int) -> str:
    """A sorted set of the rates the app's runners asked for (`RATE RUNNER`), by when they
    last asked: the app's shared line is the lowest of them."""
    return app_key(sdkappid, "asked")


def generation(sdkappid: int) -> str:
    """`PROTOCOL RANDOM`, written by the app's first run: a Redis that lost it lost the rest."""
    return app_key(sdkappid, "gen")


def budget(sdkappid: int) -> list[str]:
    """The keys of reserve.lua, in its order."""
    return [tat(sdkappid), sends(sdkappid), rate(sdkappid), asked(sdkappid), generation(sdkappid)]


def fence(sdkappid: int) -> str:
    """The counter that numbers the app's leases: each lease's fencing token."""
    return app_key(sdkappid, "fence")


def lease(sdkappid: int, room_id: str) -> str:
    """The lease of one room in flight: `TOKEN RUNNER`, expiring unless renewed."""
    return app_key(sdkappid, f"lease:{room_id}")


def ledger(sdkappid: int, name: str) -> str:
    """A hash of room -> final outcome (`STATUS TIME_US`) under one ledger name."""
    return app_key(sdkappid, f"ledger:{name}")


def ledger_counts(sdkappid: int, name: str) -> str:
    """A hash of status -> rooms with that final outcome in one ledger, for `resumer status`."""
    return app_key(sdkappid, f"ledger-counts:{name}")
