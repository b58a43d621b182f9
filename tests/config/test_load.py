"""Config: the file, the flags on top, secrets from the environment, and one sentence per error."""

import os
from pathlib import Path
from typing import Any

import pytest

from resumer.api.classify import Action
from resumer.config.load import build_config, read_toml
from resumer.config.model import REGIONS, Flags, RunConfig
from resumer.errors import UsageError

APP = {"sdkappid": 1400000001, "identifier": "administrator", "secret_key_env": "KEY_1"}
ENV = {"KEY_1": "secret-one", "RESUMER_SECRET_KEY": "secret-flag"}
NO_FLAGS: dict[str, Any] = {}


def _build(
    file: dict[str, Any], flags: dict[str, Any], env: dict[str, str], *, base: Path = Path()
) -> RunConfig:
    return build_config(file, Flags(**flags), env, base=base)


def test_a_file_with_two_apps_and_a_region() -> None:
    second = {"sdkappid": 1400000002, "identifier": "admin", "usersig_env": "SIG"}
    config = _build(
        {"region": "singapore", "apps": [APP, second]}, NO_FLAGS, {**ENV, "SIG": "ready-sig"}
    )
    assert config.endpoint == REGIONS["singapore"]
    assert [a.sdkappid for a in config.apps] == [1400000001, 1400000002]
    assert config.apps[0].secret_key == "secret-one"
    assert config.apps[1].usersig == "ready-sig"
    assert config.rate == 20


def test_flags_override_the_file() -> None:
    flags = {"endpoint": "http://127.0.0.1:8080/", "rate": 10, "timeout": 9.5}
    config = _build({"region": "china", "apps": [APP], "rate": 15}, flags, ENV)
    assert (config.endpoint, config.rate, config.timeout) == ("http://127.0.0.1:8080", 10, 9.5)


def test_one_app_from_flags_takes_its_key_from_the_environment() -> None:
    flags = {"sdkappid": 7, "identifier": "admin", "region": "jakarta"}
    (app,) = _build({}, flags, ENV).apps
    assert (app.sdkappid, app.secret_key, app.usersig) == (7, "secret-flag", None)
    (app,) = _build({}, flags, {"RESUMER_USERSIG": "sig"}).apps
    assert (app.secret_key, app.usersig) == (None, "sig")


def test_a_relative_secret_key_file_is_read_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("from-file\n")
    app = {"sdkappid": 9, "identifier": "a", "secret_key_file": "key.txt"}
    config = _build({"region": "china", "apps": [app]}, NO_FLAGS, {}, base=tmp_path)
    assert config.apps[0].secret_key == "from-file"


def test_credentials_never_show_in_repr() -> None:
    config = _build({"region": "china", "apps": [APP]}, NO_FLAGS, ENV)
    assert "secret-one" not in repr(config)


@pytest.mark.parametrize(
    ("file", "flags", "env", "message"),
    [
        ({"region": "china", "colour": 1, "apps": [APP]}, NO_FLAGS, ENV, "unknown config key"),
        ({"region": "mars", "apps": [APP]}, NO_FLAGS, ENV, "unknown region 'mars'"),
        ({"apps": [APP]}, NO_FLAGS, ENV, "no region given"),
        ({"endpoint": "ftp://x", "apps": [APP]}, NO_FLAGS, ENV, "not an http"),
        ({"region": "china", "apps": [APP]}, {"rate": 20.5}, ENV, "between 0.1 and 20"),
        ({"region": "china", "apps": [APP]}, {"rate": "fast"}, ENV, "must be a number"),
        ({"region": "china", "apps": [APP]}, {"concurrency": 0}, ENV, "--concurrency"),
        ({"region": "china"}, NO_FLAGS, ENV, "no app to resume rooms of"),
        ({"region": "china", "apps": [APP, APP]}, NO_FLAGS, ENV, "listed twice"),
        ({"region": "china", "apps": [APP]}, NO_FLAGS, {}, "KEY_1 is not set"),
        ({"region": "china", "apps": [{**APP, "secret_key": "x"}]}, NO_FLAGS, ENV, "must not be"),
        ({"region": "china", "apps": [{**APP, "sdkappid": -1}]}, NO_FLAGS, ENV, "positive"),
        ({"region": "china", "apps": [{**APP, "usersig_env": "S"}]}, NO_FLAGS, ENV, "exactly one"),
        ({"region": "china"}, {"sdkappid": 7}, ENV, "go together"),
        ({"region": "china"}, {"sdkappid": 7, "identifier": "a"}, {}, "RESUMER_SECRET_KEY"),
        ({"region": "china", "apps": [{**APP, "secret_key_file": "/x"}]}, NO_FLAGS, ENV, "one of"),
    ],
)
def test_each_mistake_is_one_plain_sentence(
    file: dict[str, Any], flags: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        _build(file, flags, env)
    assert "\n" not in str(caught.value)


WRONG_TYPES = [
    ({"region": ["x"]}, "'region' must be a string"),
    ({"endpoint": 8080}, "'endpoint' must be a string"),
    ({"rate": "fast"}, "'rate' must be a number"),
    ({"rate": True}, "'rate' must be a number"),
    ({"concurrency": 2.7}, r"'concurrency' must be a whole number, not a decimal number \(2\.7\)"),
    ({"max_attempts": 2.5}, "'max_attempts' must be a whole number"),
    ({"timeout": [6]}, "'timeout' must be a number of seconds"),
    ({"apps": {"sdkappid": 1}}, "'apps' must be an array of tables"),
    ({"apps": [{**APP, "identifier": 5}]}, "'identifier' of app 1400000001 must be a string"),
    ({"apps": [{**APP, "sdkappid": 1.5}]}, "'sdkappid' of app 1.5 must be a whole number"),
    ({"apps": [{**APP, "secret_key_env": ["K"]}]}, "'secret_key_env' of app 1400000001 must"),
    ({"apps": [{**APP, "secret_key_env": {"a": 1}}]}, "must be a string, the name of an env"),
    (
        {"apps": [{"sdkappid": 7, "identifier": "a", "secret_key_file": 5}]},
        "'secret_key_file' of app 7 must be a string, the path of a file, not a whole number",
    ),
]


@pytest.mark.parametrize(("changes", "message"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_anywhere_is_one_sentence(
    changes: dict[str, Any], message: str
) -> None:
    file = {"region": "china", "apps": [APP], **changes}
    if "endpoint" in changes:
        del file["region"]
    with pytest.raises(UsageError, match=message) as caught:
        _build(file, NO_FLAGS, ENV)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("key", "value"), [("concurrency", 2.7), ("max_attempts", 2.5)])
def test_integer_settings_are_never_truncated(key: str, value: float) -> None:
    flag = "--" + key.replace("_", "-")
    with pytest.raises(UsageError, match=f"{flag} must be a whole number, not {value}"):
        _build({"region": "china", "apps": [APP]}, {key: value}, ENV)


def test_a_config_file_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'region = "china"\n# caf\xe9\n')
    with pytest.raises(
        UsageError, match=r"is not UTF-8 text \(at byte offset 22\): save it as UTF-8"
    ):
        read_toml(str(path))


def test_a_config_file_is_read_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(UsageError, match=f"config file '{path}' is over 1 MiB"):
        read_toml(str(path))


@pytest.mark.timeout(5)
def test_a_config_file_that_is_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"is not a regular file .*: give the path of the TOML"):
        read_toml(str(fifo))
    with pytest.raises(UsageError, match="config file '/dev/zero' is not a regular file"):
        read_toml("/dev/zero")


def test_a_config_file_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"cannot read config file '{tmp_path}': Is a directory"):
        read_toml(str(tmp_path))


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://127.0.0.1:99999", "a port is from 1 to 65535"),
        ("http://127.0.0.1:0", "has port 0: a port is between 1 and 65535"),
        ("http://host:abc", "is not a valid URL"),
        ("http://", "has no host"),
        ("http:///v4", "has no host"),
        ("http://:8080", "is not a valid URL"),
        ("http://my host", "holds a space or a control character"),
        ("http://host\x00", "holds a space or a control character"),
        ("http://host/?sdkappid=1", "has a query string or fragment"),
        ("http://host/#top", "has a query string or fragment"),
        ("http://host/?", "has a query string or fragment"),
        ("ftp://host", "is not an http:// or https:// URL"),
    ],
)
def test_a_malformed_endpoint_is_refused_at_start_up(endpoint: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _build({"apps": [APP]}, {"endpoint": endpoint}, ENV)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080",
        "https://proxy.example/tencent/",
        "http://[::1]:1",
        "https://h:65535",
    ],
)
def test_a_well_formed_endpoint_is_taken(endpoint: str) -> None:
    config = _build({"apps": [APP]}, {"endpoint": endpoint}, ENV)
    assert config.endpoint == endpoint.rstrip("/")


def test_the_endpoint_credentials_never_show_in_messages_or_repr() -> None:
    with pytest.raises(UsageError) as caught:
        _build({"apps": [APP]}, {"endpoint": "http://user:s3cret@host:99999"}, ENV)
    assert "user:***@host:99999" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    config = _build({"apps": [APP]}, {"endpoint": "http://user:s3cret@host"}, ENV)
    assert config.endpoint == "http://user:s3cret@host"  # what requests use
    assert config.shown_endpoint == "http://user:***@host"
    assert "s3cret" not in repr(config)
    assert isinstance(config, RunConfig)


def _with(**file: Any) -> RunConfig:
    base = {
        "region": "singapore",
        "apps": [{"sdkappid": 1, "identifier": "a", "secret_key_env": "K"}],
    }
    return _build({**base, **file}, {}, {"K": "key"})


def test_codes_move_error_codes_into_another_class() -> None:
    config = _with(codes={"retry": [100004, 100006], "fatal": [123456]})
    assert dict(config.codes) == {
        100004: Action.RETRY,
        100006: Action.RETRY,
        123456: Action.FATAL,
    }
    assert dict(_with().codes) == {}


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (
            {"retryable": [1]},
            "unknown class 'retryable' in [codes]: use retry, throttle, reject, fatal",
        ),
        (
            {"retry": [100004], "reject": [100004]},
            "ErrorCode 100004 is listed twice in [codes] (retry and reject)",
        ),
        ({"retry": [7, 7]}, "ErrorCode 7 is listed twice in [codes] (retry): list each code once"),
        ({"retry": 100004}, "[codes] retry must be an array of ErrorCodes"),
        ({"retry": ["100004"]}, "[codes] retry must be an array of ErrorCodes"),
        ({"retry": [0]}, "[codes] retry must be an array of ErrorCodes"),
    ],
)
def test_a_wrong_codes_table_is_one_sentence(codes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as refused:
        _with(codes=codes)
    assert message in str(refused.value)


def test_metrics_settings_are_checked_before_anything_runs() -> None:
    config = _with(metrics="127.0.0.1:9464", metrics_push="http://127.0.0.1:9091/")
    assert config.metrics == ("127.0.0.1", 9464)
    assert config.metrics_push == "http://127.0.0.1:9091"
    with pytest.raises(UsageError, match="is not HOST:PORT"):
        _with(metrics="9464")
    with pytest.raises(UsageError, match="--metrics-push 'pushgateway:9091' is not an http"):
        _with(metrics_push="pushgateway:9091")
