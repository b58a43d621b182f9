"""Named simulator profiles, the demo apps, and the loader of a TOML profile into a SimConfig.

A profile is TOML whose keys are SimConfig's fields (see resumer.sim.config), every one
optional; unknown keys are refused:

    description = "..."            shown nowhere; says what the profile is for
    rate = 20                      accepted requests per window per SDKAppID
    window = 1.0                   seconds
    room_interval = 0.0            seconds between two operations on a room (100427); 0: off
    neighbour_rate = 0             requests/s another client spends of each app's budget
    seed = 7                       repeatable random draws
    missing_rooms = ["a"]          RoomIds answering 100004; missing_pattern = "-gone$" (regex)
    not_live_rooms = ["b"]         RoomIds answering 100006; not_live_pattern = "-vod$"
    outages = [[4.0, 7.0]]         (start, end) seconds after the start: every request fails
    outage_kind = "http503"        what an outage answers (a kind; "100001" also makes sense)
    [latency]                      min_ms, max_ms (uniform), slow_ms (a "slow" reply)
    [jitter]                       delay on the way in, before the window counts a request:
                                   min_ms, max_ms (uniform); tail (share delayed instead by
                                   tail_min_ms..tail_max_ms, default 50..100)
    [faults]                       kind = probability, e.g. "100001" = 0.02, http502 = 0.01
    [scripts]                      RoomId = [kinds for its successive requests], e.g.
                                   "room-1" = ["100001", "hang", "ok"]
    [[apps]]                       sdkappid, secret_key, admins = ["administrator"];
                                   without any, the two demo apps
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from resumer.sim.config import AppSecret, Jitter, Latency, SimConfig

DEMO_SDKAPPID = 1400000001
DEMO_SDKAPPID_2 = 1400000002
DEMO_IDENTIFIER = "administrator"
DEMO_SECRET_KEY = "resumer-demo-secret-key"  # noqa: S105 - the public demo key, not a secret
DEMO_SECRET_KEY_2 = "resumer-demo-secret-key-2"  # noqa: S105 - public too
DEMO_APPS: Mapping[int, AppSecret] = MappingProxyType(
    {
        DEMO_SDKAPPID: AppSecret(secret_key=DEMO_SECRET_KEY, admins=frozenset({DEMO_IDENTIFIER})),
        DEMO_SDKAPPID_2: AppSecret(
            secret_key=DEMO_SECRET_KEY_2, admins=frozenset({DEMO_IDENTIFIER})
        ),
    }
)
PROFILE_NAMES = ("clean", "flaky", "incident", "contended", "jittery")

_TOP_KEYS = frozenset({f.name for f in fields(SimConfig)} | {"description"})
_LATENCY_KEYS = frozenset(f.name for f in fields(Latency))
_JITTER_KEYS = frozenset(f.name for f in fields(Jitter))
_APP_KEYS = frozenset({"sdkappid", "secret_key", "admins"})


class _Bad(ValueError):
    """A problem in a profile, before the name of the profile is put in front."""


def load_profile(name_or_path: str) -> SimConfig:
    """The SimConfig of a named profile or of a TOML file; ValueError with a plain message."""
    if name_or_path in PROFILE_NAMES:
        resource = resources.files("resumer.sim").joinpath(f"profiles/{name_or_path}.toml")
        return parse_profile(resource.read_text(encoding="utf-8"), source=name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(PROFILE_NAMES)
        raise ValueError(f"no profile {name_or_path!r}: use one of {names}, or a TOML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the profile {path}: {exc}") from exc
    return parse_profile(text, source=str(path))


def parse_profile(text: str, *, source: str = "the profile") -> SimConfig:
    """The SimConfig of a profile's TOML text; `source` names it in error messages."""
    try:
        return profile_config(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"profile {source} is not valid TOML: {exc}") from exc
    except ValueError as exc:  # _Bad, and SimConfig's own checks
        raise ValueError(f"profile {source}: {exc}") from exc


def profile_config(data: Mapping[str, object]) -> SimConfig:
    """The SimConfig of a parsed profile; ValueError on unknown keys or wrong types."""
    _known(data, _TOP_KEYS, "")
    latency = _table(data.get("latency", {}), "latency")
    _known(latency, _LATENCY_KEYS, "latency.")
    jitter = _table(data.get("jitter", {}), "jitter")
    _known(jitter, _JITTER_KEYS, "jitter.")
    apps = data.get("apps")
    missing = data.get("missing_pattern")
    not_live = data.get("not_live_pattern")
    seed = data.get("seed")
    return SimConfig(
        apps=DEMO_APPS if apps is None else _apps(apps),
        rate=_int(data.get("rate", 20), "rate"),
        window=_num(data.get("window", 1.0), "window"),
        room_interval=_num(data.get("room_interval", 0.0), "room_interval"),
        neighbour_rate=_num(data.get("neighbour_rate", 0.0), "neighbour_rate"),
        seed=None if seed is None else _int(seed, "seed"),
        missing_rooms=frozenset(_strs(data.get("missing_rooms", []), "missing_rooms")),
        missing_pattern=None if missing is None else _str(missing, "missing_pattern"),
        not_live_rooms=frozenset(_strs(data.get("not_live_rooms", []), "not_live_rooms")),
        not_live_pattern=None if not_live is None else _str(not_live, "not_live_pattern"),
        outages=_outages(data.get("outages", [])),
        outage_kind=_step(data.get("outage_kind", "http503"), "outage_kind"),
        faults={
            str(kind): _num(p, f"faults.{kind}")
            for kind, p in _table(data.get("faults", {}), "faults").items()
        },
        scripts={
            room: tuple(_step(s, f"scripts.{room}") for s in _list(steps, f"scripts.{room}"))
            for room, steps in _table(data.get("scripts", {}), "scripts").items()
        },
        latency=Latency(**{key: _num(value, f"latency.{key}") for key, value in latency.items()}),
        jitter=Jitter(**{key: _num(value, f"jitter.{key}") for key, value in jitter.items()}),
    )


def _apps(value: object) -> Mapping[int, AppSecret]:
    apps: dict[int, AppSecret] = {}
    for i, item in enumerate(_list(value, "apps")):
        app = _table(item, f"apps[{i}]")
        _known(app, _APP_KEYS, f"apps[{i}].")
        if "sdkappid" not in app or "secret_key" not in app:
            raise _Bad(f"apps[{i}] needs sdkappid and secret_key")
        admins = _strs(app.get("admins", ["administrator"]), f"apps[{i}].admins")
        apps[_int(app["sdkappid"], f"apps[{i}].sdkappid")] = AppSecret(
            secret_key=_str(app["secret_key"], f"apps[{i}].secret_key"), admins=frozenset(admins)
        )
    return apps


def _outages(value: object) -> tuple[tuple[float, float], ...]:
    outages = []
    for item in _list(value, "outages"):
        pair = _list(item, "outages")
        if len(pair) != 2:
            raise _Bad("each outage must be a pair [start, end] of seconds")
        outages.append((_num(pair[0], "outages"), _num(pair[1], "outages")))
    return tuple(outages)


def _known(table: Mapping[str, object], known: frozenset[str], prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise _Bad(
            f"unknown key {prefix}{unknown[0]}; the known keys are {', '.join(sorted(known))}"
        )


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{key} must be an integer, not {value!r}")
    return value


def _num(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{key} must be a number, not {value!r}")
    return float(value)


def _str(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{key} must be a string, not {value!r}")
    return value


def _step(value: object, key: str) -> str:
    """A kind, written as a string or, for an ErrorCode, as an integer."""
    return str(_int(value, key)) if isinstance(value, int) else _str(value, key)


def _list(value: object, key: str) -> list[object]:
    if not isinstance(value, list):
        raise _Bad(f"{key} must be an array, not {value!r}")
    return value


def _strs(value: object, key: str) -> list[str]:
    return [_str(item, key) for item in _list(value, key)]


def _table(value: object, key: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _Bad(f"{key} must be a table, not {value!r}")
    return value
