"""SimConfig's checks, the named profiles and the TOML loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from resumer.sim.config import AppSecret, Latency, SimConfig
from resumer.sim.profiles import (
    DEMO_APPS,
    DEMO_IDENTIFIER,
    DEMO_SDKAPPID,
    DEMO_SDKAPPID_2,
    DEMO_SECRET_KEY,
    DEMO_SECRET_KEY_2,
    PROFILE_NAMES,
    load_profile,
    parse_profile,
)
from tests.sim.helpers import config

KEY = "k"


def test_demo_apps() -> None:
    assert DEMO_APPS[DEMO_SDKAPPID] == AppSecret(
        secret_key=DEMO_SECRET_KEY, admins=frozenset({DEMO_IDENTIFIER})
    )
    assert DEMO_APPS[DEMO_SDKAPPID_2].secret_key == DEMO_SECRET_KEY_2
    assert DEMO_SECRET_KEY not in repr(DEMO_APPS)  # keys stay out of logs


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_named_profile_loads_with_the_demo_apps(name: str) -> None:
    assert load_profile(name).apps == DEMO_APPS


def test_what_the_named_profiles_promise() -> None:
    clean, flaky = load_profile("clean"), load_profile("flaky")
    incident, contended = load_profile("incident"), load_profile("contended")
    assert clean.faults == {}
    assert clean.latency == Latency(min_ms=20, max_ms=120)
    assert 0 < sum(flaky.faults.values()) < 0.1
    assert flaky.latency.max_ms == 400
    assert incident.room_interval == 1.0
    assert incident.outages == ((4.0, 7.0),)
    assert incident.missing_pattern == "-gone$"
    assert incident.not_live_pattern == "-vod$"
    assert contended.neighbour_rate == 12
    jittery = load_profile("jittery").jitter
    assert (jittery.min_ms, jittery.max_ms, jittery.tail) == (0, 30, 0.01)


def test_a_full_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        """
        description = "everything"
        rate = 10
        window = 2
        room_interval = 0.5
        neighbour_rate = 3
        seed = 42
        missing_rooms = ["x"]
        missing_pattern = "^gone-"
        not_live_rooms = ["y"]
        not_live_pattern = "^vod-"
        outages = [[1, 2], [3.5, 4]]
        outage_kind = 100001
        [latency]
        min_ms = 1
        max_ms = 2
        slow_ms = 300
        [faults]
        "100001" = 0.1
        hang = 0.01
        [scripts]
        "room-1" = ["100001", 100424, "ok"]
        [[apps]]
        sdkappid = 1400000009
        secret_key = "k"
        admins = ["root", "admin"]
        """,
        encoding="utf-8",
    )
    assert load_profile(str(path)) == SimConfig(
        apps={1400000009: AppSecret(secret_key=KEY, admins=frozenset({"root", "admin"}))},
        rate=10,
        window=2.0,
        room_interval=0.5,
        neighbour_rate=3.0,
        seed=42,
        missing_rooms=frozenset({"x"}),
        missing_pattern="^gone-",
        not_live_rooms=frozenset({"y"}),
        not_live_pattern="^vod-",
        outages=((1.0, 2.0), (3.5, 4.0)),
        outage_kind="100001",
        latency=Latency(min_ms=1, max_ms=2, slow_ms=300),
        faults={"100001": 0.1, "hang": 0.01},
        scripts={"room-1": ("100001", "100424", "ok")},
    )


BAD_PROFILES = {
    'colour = "red"': "unknown key colour",
    "[latency]\nmax = 3": "unknown key latency.max",
    "[[apps]]\nsdkappid = 1\nsecret_key = 'k'\nregion = 'x'": "unknown key apps[0].region",
    'rate = "fast"': "rate must be an integer",
    "rate = true": "rate must be an integer",
    "rate = 0": "rate must be at least 1",
    "window = 0": "window must be more than 0",
    'window = "1"': "window must be a number",
    "missing_rooms = 'x'": "missing_rooms must be an array",
    "missing_rooms = [1]": "missing_rooms must be a string",
    "outages = [[3, 1]]": "each outage",
    "outages = [[1]]": "each outage",
    "faults = 3": "faults must be a table",
    "[faults]\nboom = 0.1": "unknown fault 'boom'",
    "[faults]\nok = 0.1": "unknown fault 'ok'",
    '[faults]\n"100001" = 2': "between 0 and 1",
    '[faults]\n"100001" = 0.6\nhtml = 0.6': "add up to more than 1",
    '[scripts]\na = ["later"]': "unknown step 'later'",
    "outage_kind = 'down'": "unknown outage_kind",
    "missing_pattern = '('": "not a regular expression",
    "[latency]\nmin_ms = 5\nmax_ms = 1": "latency needs",
    "apps = []": "at least one app",
    "[[apps]]\nsdkappid = 1": "needs sdkappid and secret_key",
    "[[apps]]\nsdkappid = 1\nsecret_key = ''": "a secret key",
    "rate = [": "not valid TOML",
}


@pytest.mark.parametrize(("text", "message"), BAD_PROFILES.items(), ids=list(BAD_PROFILES))
def test_a_bad_profile_is_one_plain_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^profile mine\b") as caught:
        parse_profile(text, source="mine")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_profile_name_or_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no profile 'noisy': use one of clean, flaky"):
        load_profile("noisy")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="cannot read the profile"):
        load_profile(str(bad))


def test_a_config_refuses_bad_values_directly() -> None:
    with pytest.raises(ValueError, match="neighbour_rate"):
        config(neighbour_rate=-1)
    with pytest.raises(ValueError, match="room_interval"):
        config(room_interval=-1)
    with pytest.raises(ValueError, match="positive sdkappid"):
        SimConfig(apps={0: AppSecret(secret_key=KEY)})
    with pytest.raises(ValueError, match="admin"):
        SimConfig(apps={1: AppSecret(secret_key=KEY, admins=frozenset())})
