"""Durations as the CLI's sentences say them."""

from __future__ import annotations

import pytest

from resumer.cli.estimates import duration


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(-3, "0 s"), (7.4, "7 s"), (200, "3 min 20 s"), (7500, "2 h 5 min"), (3600, "1 h 0 min")],
)
def test_duration(seconds: float, said: str) -> None:
    assert duration(seconds) == said
