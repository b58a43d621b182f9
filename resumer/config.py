"""The run's configuration: a TOML file, flags on top, secrets from the environment; validated."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resumer.errors import UsageError

MAX_RATE = 20.0  # the API's documented budget, requests/s per SDKAppID
DEFAULT_TIMEOUT = 6.0  # seconds; the backend gives up after 3 s, so wait longer than that
DEFAULT_CONCURRENCY = 64  # in flight per app: 20/s holds even when replies take 3 s
DEFAULT_MAX_ATTEMPTS = 6
SECRET_KEY_ENV = "RESUMER_SECRET_KEY"  # noqa: S105  (the variable's name, not a secret)
USERSIG_ENV = "RESUMER_USERSIG"
REGIONS = {  # the API's domain for each data centre of the doc
    "china": "https://console.tim.qq.com",
    "singapore": "https://adminapisgp.im.qcloud.com",
    "silicon-valley": "https://adminapiusa.im.qcloud.com",
    "jakarta": "https://adminapiidn.im.qcloud.com",
}

_RUN_KEYS = {"region", "endpoint", "rate", "concurrency", "max_attempts", "timeout", "apps"}
_APP_KEYS = {"sdkappid", "identifier", "secret_key_env", "secret_key_file", "usersig_env"}
_SECRET_KEYS = {"secret_key", "usersig", "key"}  # never accepted in the file itself


@dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """One app: its SDKAppID, admin identifier and exactly one credential (never printed)."""

    sdkappid: int
    identifier: str
    secret_key: str | None = None
    usersig: str | None = None

    def __repr__(self) -> str:  # keep credentials out of any accidental log or traceback
        return f"AppConfig(sdkappid={self.sdkappid}, identifier={self.identifier!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Everything `resumer run` needs, checked."""

    apps: tuple[AppConfig, ...]
    endpoint: str
    rate: float = MAX_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float = DEFAULT_TIMEOUT

    def app(self, sdkappid: int) -> AppConfig | None:
        """The configured app with this SDKAppID, if any."""
        return next((a for a in self.apps if a.sdkappid == sdkappid), None)


def read_toml(path: str) -> dict[str, Any]:
    """The TOML file's table; UsageError with a plain sentence if it cannot be read."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise UsageError(f"config file '{path}' does not exist: check the -c path") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file '{path}': {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file '{path}' is not valid TOML: {exc}") from None


def build_config(
    file: Mapping[str, Any],
    flags: Mapping[str, Any],
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
    merged = {**file, **{k: v for k, v in flags.items() if v is not None}}
    # The run's own settings first: a typo there is worth hearing before any missing secret.
    endpoint = _endpoint(merged)
    rate = _number(merged, "rate", MAX_RATE, low=0.1, high=MAX_RATE)
    concurrency = int(_number(merged, "concurrency", DEFAULT_CONCURRENCY, low=1, high=10_000))
    max_attempts = int(_number(merged, "max_attempts", DEFAULT_MAX_ATTEMPTS, low=1, high=100))
    timeout = _number(merged, "timeout", DEFAULT_TIMEOUT, low=0.1, high=600)
    return RunConfig(
        apps=_apps(file, flags, env, base),
        endpoint=endpoint,
        rate=rate,
        concurrency=concurrency,
        max_attempts=max_attempts,
        timeout=timeout,
    )


def _apps(
    file: Mapping[str, Any], flags: Mapping[str, Any], env: Mapping[str, str], base: Path
) -> tuple[AppConfig, ...]:
    """The flags' one app, or the config file's [[apps]]."""
    if flags.get("sdkappid") is not None or flags.get("identifier") is not None:
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


def _endpoint(merged: Mapping[str, Any]) -> str:
    region, endpoint = merged.get("region"), merged.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise UsageError(f"endpoint {endpoint!r} is not an http:// or https:// URL")
        return endpoint.rstrip("/")
    if region is None:
        raise UsageError(f"no region given: use --region {' | '.join(REGIONS)}, or --endpoint URL")
    if region not in REGIONS:
        raise UsageError(f"unknown region {region!r}: use one of {', '.join(REGIONS)}")
    return REGIONS[region]


def _number(
    merged: Mapping[str, Any], key: str, default: float, *, low: float, high: float
) -> float:
    value = merged.get(key, default)
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{flag} must be a number, not {value!r}")
    if not low <= value <= high:
        why = " (the API's budget per SDKAppID)" if key == "rate" else ""
        raise UsageError(f"{flag} must be between {low:g} and {high:g}{why}, not {value:g}")
    return float(value)


def _flag_app(flags: Mapping[str, Any], env: Mapping[str, str]) -> AppConfig:
    sdkappid, identifier = flags.get("sdkappid"), flags.get("identifier")
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
    sources = [k for k in ("secret_key_env", "secret_key_file", "usersig_env") if k in raw]
    where = f"app {sdkappid}"
    if len(sources) != 1:
        raise UsageError(
            f"{where}: give exactly one of secret_key_env, secret_key_file, usersig_env"
        )
    source, name = sources[0], raw[sources[0]]
    if source == "secret_key_file":
        return _app(sdkappid, identifier, _read_secret_file(base / str(name), where), None)
    value = env.get(str(name))
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


def _read_secret_file(path: Path, where: str) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read secret_key_file '{path}': {exc.strerror}") from None
    if not secret:
        raise UsageError(f"{where}: secret_key_file '{path}' is empty")
    return secret


def _names(keys: set[str]) -> str:
    return ", ".join(sorted(keys))


def environ() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ
