"""Masking the credentials of an endpoint for showing it."""

from __future__ import annotations

import pytest

from resumer.config.redact import mask_endpoint


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@host:8080/p", "http://user:***@host:8080/p"),
        ("https://token@host", "https://***@host"),
        ("http://u:pa/ss?#@host", "http://u:***@host"),  # unescaped: still masked
        ("http://host:8080/p", "http://host:8080/p"),
        ("not a url", "not a url"),
        ("redis://:pass@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:pass@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://host:6379/0?password=pass", "redis://host:6379/0?password=***"),
        ("redis://host/0?db=1&password=p&x=1", "redis://host/0?db=1&password=***&x=1"),
        ("redis://u@host/0?PASSWORD=p#f", "redis://***@host/0?PASSWORD=***#f"),
        ("unix:///tmp/r.sock?password=p", "unix:///tmp/r.sock?password=***"),
    ],
)
def test_credentials_in_an_endpoint_are_masked(url: str, shown: str) -> None:
    assert mask_endpoint(url) == shown
