"""Loading the configuration: the TOML file, the flags over it, secrets from the environment."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from resumer.config.addresses import check_endpoint, parse_listen
from resumer.config.codes import code_overrides
from resumer.config.model import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    MAX_RATE,
    REGIONS,
    SECRET_KEY_ENV,
    USERSIG_ENV,
    AppConfig,
    Flags,
    RunConfig,
)
from resumer.config.secrets import read_secret_file, utf8_text
from resumer.config.sharing import TYPES as _SHARING_TYPES
from resumer.config.sharing import sharing_config
from resumer.config.small import NotRegularError, read_small
from resumer.errors import UsageError

MAX_CONFIG_BYTES = 1024 * 1024  # a config is a few lines: a wrong path is refused, not read

# Every key the file may hold, with the type its value must have and how to say it.
_TEXT = (str, "a string")
_RUN_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "region": (str, f"a string, one of {', '.join(REGIONS)}"),
    "endpoint": (str, 'a string, a URL such as "https://host"'),
    "rate": ((int, float), "a number"),
    "concurrency": (int, "a whole number"),
    "max_attempts": (int, "a whole number"),
    "timeout": ((int, float), "a number of seconds"),
    "apps": (list, "an array of tables: write [[apps]] sections"),
    "metrics": (str, 'a string, HOST:PORT such as "127.0.0.1:9464"'),
    "metrics_push": (str, 'a string, the Pushgateway\'s URL such as "http://pushgateway:9091"'),
    "codes": (dict, "a table: [codes] with retry = [...], throttle, reject or fatal"),
    **_SHARING_TYPES,
}
_APP_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "sdkappid": ((int, str), "a whole number"),  # a string of digits is tolerated
    "identifier": _TEXT,
    "secret_key_env": (str, "a string, the name of an environment variable"),
    "secret_key_file": (str, "a string, the path of a file"),
    "usersig_env": (str, "a string, the name of an environment variable"),
}
_RUN_KEYS = set(_RUN_TYPES)
_APP_KEYS = set(_APP_TYPES)
_SECRET_KEYS = {"secret_key", "usersig", "key"}  # never accepted in the file itself
_TOML_TYPES = {bool: "a boolean", int: "a whole number", float: "a decimal number", str: "a string"}


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file's table; UsageError with a plain sentence if it cannot be read."""
    try:
        data = read_small(path, MAX_CONFIG_BYTES).data
    except FileNotFoundError:
        raise UsageError(f"config file '{path}' does not exist: check the -c path") from None
    except NotRegularError as exc:
        if stat.S_ISDIR(exc.mode):  # as open() says it
            raise UsageError(f"cannot read config file '{path}': Is a directory") from None
        raise UsageError(
            f"config file '{path}' is not a regular file (a FIFO, a device or a directory): "
            "give the path of the TOML file with -c"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read config file '{path}': {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(
            f"config file '{path}' is over {MAX_CONFIG_BYTES // 1024 // 1024} MiB, "
            "far more than a config: check the -c path"
        )
    try:
        return tomllib.loads(utf8_text(data, f"config file '{path}'"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file '{path}' is not valid TOML: {exc}") from None


def build_config(
    file: Mapping[str, Any],
    flags: Flags,
    env: Mapping[str, str],
    *,
    base: Path = Path(),
) -> RunConfig:
    """Merge the config file's table with the flags given (None = not given) and check it all.

    A relative `secret_key_file` is read from `base`, the config file's folder.
    """
    unknown = set(file) - _RUN_KEYS
    if unknown:
        raise UsageError(f"unknown config key {_names(unknown)}: allowed are {_names(_RUN_KEYS)}")
    _check_types(file, _RUN_TYPES, "")
    given = {k: v for k, v in dataclasses.asdict(flags).items() if v is not None and k != "redis"}
    merged = {**file, **given}
    # The run's own settings first: a typo there is worth hearing before any missing secret.
    endpoint = _endpoint(merged)
    rate = _number(merged, "rate", MAX_RATE, low=0.1, high=MAX_RATE)
    concurrency = _integer(merged, "concurrency", DEFAULT_CONCURRENCY, low=1, high=10_000)
    max_attempts = _integer(merged, "max_attempts", DEFAULT_MAX_ATTEMPTS, low=1, high=100)
    timeout = _number(merged, "timeout", DEFAULT_TIMEOUT, low=0.1, high=600)
    metrics, push = merged.get("metrics"), merged.get("metrics_push")
    return RunConfig(
        codes=MappingProxyType(code_overrides(file.get("codes", {}))),
        metrics=None if metrics is None else parse_listen(metrics),
        metrics_push=None if push is None else check_endpoint(push, "--metrics-push"),
        sharing=sharing_config(merged, env, redis_flag=flags.redis),
        apps=_apps(file, flags, env, base),
        endpoint=endpoint,
        rate=rate,
        concurrency=concurrency,
        max_attempts=max_attempts,
        timeout=timeout,
    )


def _apps(
    file: Mapping[str, Any], flags: Flags, env: Mapping[str, str], base: Path
) -> tuple[AppConfig, ...]:
    """The flags' one app, or the config file's [[apps]]."""
    if flags.sdkappid is not None or flags.identifier is not None:
        return (_flag_app(flags, env),)
    raw_apps = file.get("apps")
    if not raw_apps:
        raise UsageError(
            "no app to resume rooms of: give --sdkappid and --identifier, "
            "or a config file with [[apps]] (see config.example.toml)"
        )
    if not isinstance(raw_apps, list):
        raise UsageError("'apps' must be an array of tables: write [[apps]] sections")
    apps = tuple(_file_app(raw, env, base) for raw in raw_apps)
    ids = [a.sdkappid for a in apps]
    if len(set(ids)) != len(ids):
        raise UsageError("the same sdkappid is listed twice in [[apps]]: list each app once")
    return apps


def _check_types(
    table: Mapping[str, Any], types: Mapping[str, tuple[type | tuple[type, ...], str]], where: str
) -> None:
    """Refuse, in one sentence, the first value of `table` whose type is not its key's."""
    for key, value in table.items():
        expected, described = types[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise UsageError(
                f"config key '{key}'{where} must be {described}, not {_toml_type(value)}"
            )


def _toml_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    kind = _TOML_TYPES.get(type(value))
    return f"{kind} ({value!r})" if kind else "a date or time"


def _endpoint(merged: Mapping[str, Any]) -> str:
    region, endpoint = merged.get("region"), merged.get("endpoint")
    if endpoint is not None:
        return check_endpoint(endpoint)
    if region is None:
        raise UsageError(f"no region given: use --region {' | '.join(REGIONS)}, or --endpoint URL")
    if region not in REGIONS:
        raise UsageError(f"unknown region {region!r}: use one of {', '.join(REGIONS)}")
    return str(REGIONS[region])


def _number(
    merged: Mapping[str, Any], key: str, default: float, *, low: float, high: float
) -> float:
    value = merged.get(key, default)
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{flag} must be a number, not {value!r}")
    if not low <= value <= high:  # also refuses nan, which TOML allows
        why = " (the API's budget per SDKAppID)" if key == "rate" else ""
        raise UsageError(f"{flag} must be between {low:g} and {high:g}{why}, not {value:g}")
    return float(value)


def _integer(merged: Mapping[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    value = merged.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):  # 2.7 is refused, not truncated
        flag = "--" + key.replace("_", "-")
        raise UsageError(f"{flag} must be a whole number, not {value!r}")
    return int(_number(merged, key, default, low=low, high=high))


def _flag_app(flags: Flags, env: Mapping[str, str]) -> AppConfig:
    sdkappid, identifier = flags.sdkappid, flags.identifier
    if sdkappid is None or identifier is None:
        raise UsageError("--sdkappid and --identifier go together: give both")
    secret, usersig = env.get(SECRET_KEY_ENV), env.get(USERSIG_ENV)
    if not secret and not usersig:
        raise UsageError(
            f"no credential for app {sdkappid}: set {SECRET_KEY_ENV} to the app's secret key "
            f"(or {USERSIG_ENV} to a ready UserSig)"
        )
    return _app(sdkappid, identifier, secret or None, None if secret else usersig)


def _file_app(raw: Any, env: Mapping[str, str], base: Path) -> AppConfig:
    if not isinstance(raw, dict):
        raise UsageError("each [[apps]] entry must be a table")
    secrets = set(raw) & _SECRET_KEYS
    if secrets:
        raise UsageError(
            f"{_names(secrets)} must not be written in the config file: name an environment "
            "variable with secret_key_env (or a file with secret_key_file, or usersig_env)"
        )
    unknown = set(raw) - _APP_KEYS
    if unknown:
        raise UsageError(
            f"unknown key {_names(unknown)} in [[apps]]: allowed are {_names(_APP_KEYS)}"
        )
    sdkappid, identifier = raw.get("sdkappid"), raw.get("identifier")
    _check_types(raw, _APP_TYPES, f" of app {sdkappid}" if "sdkappid" in raw else " in [[apps]]")
    sources = [k for k in ("secret_key_env", "secret_key_file", "usersig_env") if k in raw]
    where = f"app {sdkappid}"
    if len(sources) != 1:
        raise UsageError(
            f"{where}: give exactly one of secret_key_env, secret_key_file, usersig_env"
        )
    source, name = sources[0], raw[sources[0]]
    if source == "secret_key_file":
        return _app(sdkappid, identifier, read_secret_file(base / name, where), None)
    value = env.get(name)
    if not value:
        raise UsageError(f"{where}: environment variable {name} is not set: export it first")
    if source == "usersig_env":
        return _app(sdkappid, identifier, None, value)
    return _app(sdkappid, identifier, value, None)


def _app(sdkappid: Any, identifier: Any, secret: str | None, usersig: str | None) -> AppConfig:
    if isinstance(sdkappid, str) and sdkappid.isdigit():
        sdkappid = int(sdkappid)
    if isinstance(sdkappid, bool) or not isinstance(sdkappid, int) or sdkappid <= 0:
        raise UsageError(f"sdkappid must be a positive integer, not {sdkappid!r}")
    if not isinstance(identifier, str) or not identifier:
        raise UsageError(f"app {sdkappid}: identifier must be the admin account's name")
    return AppConfig(sdkappid=sdkappid, identifier=identifier, secret_key=secret, usersig=usersig)


def _names(keys: set[str]) -> str:
    return ", ".join(sorted(keys))


def environ() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ
