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
    ],
)
def test_credentials_in_an_endpoint_are_masked(url: str, shown: str) -> None:
    assert mask_endpoint(url) == shown
