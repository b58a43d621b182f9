"""Config: the file, the flags on top, secrets from the environment, and one sentence per error."""

from pathlib import Path
from typing import Any

import pytest

from resumer.config import REGIONS, build_config
from resumer.errors import UsageError

APP = {"sdkappid": 1400000001, "identifier": "administrator", "secret_key_env": "KEY_1"}
ENV = {"KEY_1": "secret-one", "RESUMER_SECRET_KEY": "secret-flag"}
NO_FLAGS: dict[str, Any] = {}


def test_a_file_with_two_apps_and_a_region() -> None:
    second = {"sdkappid": 1400000002, "identifier": "admin", "usersig_env": "SIG"}
    config = build_config(
        {"region": "singapore", "apps": [APP, second]}, NO_FLAGS, {**ENV, "SIG": "ready-sig"}
    )
    assert config.endpoint == REGIONS["singapore"]
    assert [a.sdkappid for a in config.apps] == [1400000001, 1400000002]
    assert config.apps[0].secret_key == "secret-one"
    assert config.apps[1].usersig == "ready-sig"
    assert config.rate == 20


def test_flags_override_the_file() -> None:
    flags = {"endpoint": "http://127.0.0.1:8080/", "rate": 10, "timeout": 9.5}
    config = build_config({"region": "china", "apps": [APP], "rate": 15}, flags, ENV)
    assert (config.endpoint, config.rate, config.timeout) == ("http://127.0.0.1:8080", 10, 9.5)


def test_one_app_from_flags_takes_its_key_from_the_environment() -> None:
    flags = {"sdkappid": 7, "identifier": "admin", "region": "jakarta"}
    (app,) = build_config({}, flags, ENV).apps
    assert (app.sdkappid, app.secret_key, app.usersig) == (7, "secret-flag", None)
    (app,) = build_config({}, flags, {"RESUMER_USERSIG": "sig"}).apps
    assert (app.secret_key, app.usersig) == (None, "sig")


def test_a_relative_secret_key_file_is_read_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("from-file\n")
    app = {"sdkappid": 9, "identifier": "a", "secret_key_file": "key.txt"}
    config = build_config({"region": "china", "apps": [app]}, NO_FLAGS, {}, base=tmp_path)
    assert config.apps[0].secret_key == "from-file"


def test_credentials_never_show_in_repr() -> None:
    config = build_config({"region": "china", "apps": [APP]}, NO_FLAGS, ENV)
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
        (
            {"region": "china", "apps": [{**APP, "secret_key_env": None, "secret_key_file": "/x"}]},
            NO_FLAGS,
            ENV,
            "exactly one",
        ),
    ],
)
def test_each_mistake_is_one_plain_sentence(
    file: dict[str, Any], flags: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        build_config(file, flags, env)
    assert "\n" not in str(caught.value)
