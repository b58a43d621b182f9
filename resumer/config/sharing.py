"""The settings of `--redis`: where the shared state lives, how long a loss of it is borne,
and the ledger; checked, each refusal one sentence."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from resumer.config.redact import mask_endpoint
from resumer.errors import UsageError
from resumer.loading import collector_paused

REDIS_URL_ENV = "RESUMER_REDIS_URL"
DEFAULT_REDIS_TIMEOUT = 60.0  # seconds without an answer from Redis before the run stops
DEFAULT_LEDGER_TTL = 7 * 86400.0  # seconds a ledger keeps its entries after its last write
_SCHEMES = ("redis", "rediss", "unix")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LEDGER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DB_PATH = re.compile(r"/?[0-9]*")  # the URL's path: none, or the database's number

# The keys of the config file this module reads, with the type each must have.
TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "redis": (str, 'a string, a URL such as "redis://host:6379/0"'),
    "redis_timeout": ((int, float, str), 'a number of seconds or a duration such as "90s"'),
    "ledger": (str, "a string, the ledger's name"),
    "ledger_ttl": ((int, float, str), 'a number of seconds or a duration such as "7d"'),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SharingConfig:
    """What a run shares its apps' budgets on, and how (None in RunConfig: alone)."""

    redis: str  # may hold a password: show `shown_redis`
    shown_redis: str
    redis_timeout: float = DEFAULT_REDIS_TIMEOUT
    ledger: str | None = None  # record and honour final outcomes under this name
    ledger_ttl: float = DEFAULT_LEDGER_TTL

    def __repr__(self) -> str:  # keep a password out of any log or traceback
        return f"SharingConfig(redis={self.shown_redis!r}, ledger={self.ledger!r})"


def sharing_config(
    merged: Mapping[str, Any], env: Mapping[str, str], *, redis_flag: str | None
) -> SharingConfig | None:
    """The `--redis` settings from the merged flags and file (a flag first, then the
    environment's RESUMER_REDIS_URL, then the file); None when no Redis is named."""
    url = redis_flag or env.get(REDIS_URL_ENV) or merged.get("redis")
    if not url:
        for key in ("ledger", "ledger_ttl", "redis_timeout"):
            if merged.get(key) is not None:
                flag = "--" + key.replace("_", "-")
                raise UsageError(
                    f"{flag} needs --redis URL (or {REDIS_URL_ENV}): the ledger and the "
                    "shared budget live on Redis"
                )
        return None
    shown = mask_endpoint(url)
    check_redis_url(url, shown)
    require_redis_py()
    return SharingConfig(
        redis=url,
        shown_redis=shown,
        redis_timeout=duration(merged.get("redis_timeout"), "--redis-timeout", low=1.0)
        if merged.get("redis_timeout") is not None
        else DEFAULT_REDIS_TIMEOUT,
        ledger=_ledger_name(merged.get("ledger")),
        ledger_ttl=duration(merged.get("ledger_ttl"), "--ledger-ttl", low=60.0)
        if merged.get("ledger_ttl") is not None
        else DEFAULT_LEDGER_TTL,
    )


def duration(value: object, flag: str, *, low: float) -> float:
    """Seconds from a number or a string such as "90", "90s", "15m", "12h", "7d"."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        unit = _UNITS.get(text[-1:], 0)
        number = text[:-1] if unit else text
        try:
            seconds = float(number) * (unit or 1)
        except ValueError:
            seconds = None
    if seconds is None or not low <= seconds <= 366 * 86400:  # nan is refused here too
        raise UsageError(
            f"{flag} must be a duration from {low:g} s to a year, such as 90s, 15m, 12h or 7d, "
            f"not {value!r}"
        )
    return seconds


def _ledger_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LEDGER_NAME.fullmatch(value):
        raise UsageError(
            f"--ledger {value!r} is not a ledger name: use 1 to 64 letters, digits, '.', '_' or "
            "'-', e.g. --ledger incident-2026-11-29"
        )
    return value


def check_redis_url(url: str, shown: str) -> None:
    """Refuse, in one sentence, a --redis that is not a usable Redis URL."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UsageError(f"--redis '{shown}' holds a space or a control character")
    try:
        parsed = URL(url)
        port = parsed.port
    except ValueError:
        raise UsageError(f"--redis '{shown}' is not a URL: e.g. redis://host:6379/0") from None
    if parsed.scheme not in _SCHEMES:
        raise UsageError(
            f"--redis '{shown}' is not a redis://, rediss:// or unix:// URL: "
            "e.g. redis://host:6379/0"
        )
    if parsed.scheme != "unix" and (not parsed.host or port is None or not 1 <= port <= 65535):
        raise UsageError(f"--redis '{shown}' needs a host and a port from 1 to 65535")
    # redis-py quietly takes DB 0 for a path that is not a number: runs meant to share one DB
    # would not, and runs meant to be apart would share.
    if parsed.scheme != "unix" and not _DB_PATH.fullmatch(parsed.path):
        raise UsageError(
            f"--redis '{shown}' names no database number: end it with /0 to /15, "
            "e.g. redis://host:6379/0"
        )


def require_redis_py() -> None:
    """Refuse, in one sentence, a --redis run or status where redis-py is not installed."""
    try:
        with collector_paused():  # what a run and `status` use of it, loaded at the lowest cost
            import redis.asyncio  # noqa: F401, PLC0415  (the optional extra: only with --redis)
    except ImportError:
        raise UsageError(
            f"--redis (or {REDIS_URL_ENV}) needs redis-py, which is not installed: "
            "pip install 'resumer[redis]'"
        ) from None
