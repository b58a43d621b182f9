"""Durations and error-code counts as the tables show them."""

from __future__ import annotations

from collections import Counter

import pytest

from resumer.humanize import error_codes, hms


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-3, "0:00"), (0.4, "0:00"), (61, "1:01"), (3599.6, "1:00:00"), (36_000 + 62, "10:01:02")],
)
def test_hms(seconds: float, shown: str) -> None:
    assert hms(seconds) == shown


def test_error_codes_commonest_first_with_no_reply_named() -> None:
    assert error_codes({}) == ""
    assert error_codes(Counter({"70009": 1, "0": 39})) == "no code×39, 70009×1"
    assert error_codes({0: 2, 100001: 1_200}) == "100001×1,200, no code×2"


def test_error_codes_show_four_and_say_there_are_more() -> None:
    codes = {100001: 5, 100002: 4, 100004: 4, 100006: 3, 100428: 1}
    assert error_codes(codes) == "100001×5, 100002×4, 100004×4, 100006×3, …"
