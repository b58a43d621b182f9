"""The --redis settings: where they come from, and one sentence for each bad value."""

from __future__ import annotations

from typing import Any

import pytest

from resumer.config.sharing import (
    DEFAULT_LEDGER_TTL,
    DEFAULT_REDIS_TIMEOUT,
    REDIS_URL_ENV,
    duration,
    sharing_config,
)
from resumer.errors import UsageError

URL = "redis://127.0.0.1:6379/0"


def settings(
    env: dict[str, str] | None = None, /, redis_flag: str | None = None, **merged: Any
) -> Any:
    return sharing_config(merged, env or {}, redis_flag=redis_flag)


def test_no_redis_named_means_a_run_alone() -> None:
    assert settings() is None


def test_a_flag_beats_the_environment_which_beats_the_file() -> None:
    env = {REDIS_URL_ENV: "redis://env:6379/0"}
    assert settings(env, redis_flag=URL, redis="redis://file:1/0").redis == URL
    assert settings(env, redis="redis://file:1/0").redis == "redis://env:6379/0"
    assert settings(redis="redis://file:1/0").redis == "redis://file:1/0"


def test_defaults_and_durations() -> None:
    plain = settings(redis=URL)
    assert (plain.redis_timeout, plain.ledger, plain.ledger_ttl) == (
        DEFAULT_REDIS_TIMEOUT,
        None,
        DEFAULT_LEDGER_TTL,
    )
    tuned = settings(redis=URL, redis_timeout="90s", ledger="inc-7.b_c", ledger_ttl="12h")
    assert (tuned.redis_timeout, tuned.ledger, tuned.ledger_ttl) == (90, "inc-7.b_c", 43200)
    assert duration(30, "--x", low=1) == 30
    assert duration("2d", "--x", low=1) == 172800
    assert duration("15m", "--x", low=1) == 900


@pytest.mark.parametrize("value", ["soon", "-5s", "0", "nan", "400d", True, "", "5x"])
def test_a_bad_duration_is_one_sentence(value: object) -> None:
    with pytest.raises(UsageError, match=r"^--redis-timeout must be a duration from 1 s"):
        settings(redis=URL, redis_timeout=value)


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "ä", "a:b", "{1}"])
def test_a_ledger_name_is_letters_digits_dots_dashes(name: str) -> None:
    with pytest.raises(UsageError, match="is not a ledger name"):
        settings(redis=URL, ledger=name)


@pytest.mark.parametrize("key", ["ledger", "ledger_ttl", "redis_timeout"])
def test_the_ledger_and_timeout_need_a_redis(key: str) -> None:
    with pytest.raises(UsageError, match=f"--{key.replace('_', '-')} needs --redis URL"):
        settings(**{key: "x"})


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://host:6379", "is not a redis://, rediss:// or unix:// URL"),
        ("redis://:6379/0", "needs a host and a port"),
        ("redis://host:99999/0", "is not a URL"),
        ("redis://ho st:6379", "holds a space"),
        ("redis://host:6379/abc", "names no database number"),
        ("redis://host:6379/0/x", "names no database number"),
    ],
)
def test_a_bad_url_is_one_sentence(url: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        settings(redis=url)


@pytest.mark.parametrize("url", ["redis://h:6379", "redis://h:6379/", "rediss://h:1/15"])
def test_a_url_may_leave_the_database_out_or_number_it(url: str) -> None:
    assert settings(redis=url).redis == url


def test_a_password_in_the_url_is_never_shown() -> None:
    shared = settings(redis="redis://user:s3cret@host:6379/0")
    assert "s3cret" not in shared.shown_redis
    assert "s3cret" not in repr(shared)
    with pytest.raises(UsageError) as refused:
        settings(redis="http://user:s3cret@host:6379/0")
    assert "s3cret" not in str(refused.value)
