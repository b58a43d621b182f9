"""[codes] moves that change what a throttle or fatal code means: refused, or warned at start."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from resumer.api.classify import THROTTLE_CODES, Action
from resumer.config.codes import code_overrides
from resumer.errors import UsageError


@pytest.mark.parametrize("name", ["reject", "fatal"])
@pytest.mark.parametrize("code", sorted(THROTTLE_CODES))
def test_a_throttle_code_made_final_is_refused(code: int, name: str) -> None:
    with pytest.raises(UsageError) as refused:
        code_overrides({name: [code]})
    assert str(refused.value) == (
        f"[codes] {name} lists {code}, a throttle code (the app's budget was full, the room "
        "itself is fine): made final, a busy API would fail rooms that --resume then skips; "
        f"remove {code} from [codes]"
    )


def test_a_fatal_code_made_a_throttle_is_refused() -> None:
    with pytest.raises(UsageError, match=r"throttle lists 70050, a fatal code \(too many failed"):
        code_overrides({"throttle": [70050]})


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"retry": [100422]}, "100422 is a throttle code; as retry, it counts as a failed attempt"),
        ({"retry": [70050]}, "70050 is a fatal code (too many failed signature checks: fix the"),
        ({"reject": [70009]}, "as reject, every room of the app is sent and recorded rejected"),
    ],
)
def test_a_throttle_or_fatal_code_moved_is_used_with_a_warning(
    table: dict[str, list[int]], said: str
) -> None:
    with capture_logs() as events:
        overrides = code_overrides(table)
    (name, [code]) = next(iter(table.items()))
    assert overrides == {code: Action(name)}
    assert [(e["event"], e["log_level"], e["code"], e["to"]) for e in events] == [
        ("codes_moved", "warning", code, name)
    ]
    assert events[0]["message"].startswith(f"[codes] {name} = [{code}]: ")
    assert said in events[0]["message"]


def test_other_moves_are_used_without_a_word() -> None:
    with capture_logs() as events:
        overrides = code_overrides({"retry": [100004], "fatal": [123456], "throttle": [100001]})
    assert overrides == {100004: Action.RETRY, 123456: Action.FATAL, 100001: Action.THROTTLE}
    assert events == []
