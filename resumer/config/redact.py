"""Masking credentials in endpoints and URLs before they are shown."""

from __future__ import annotations


def mask_endpoint(url: str) -> str:
    """`url` with the password of its user:password@ part masked (`***`), for showing it.

    Plain text surgery, not a URL parser's round trip: it must work on malformed URLs too,
    since the messages that refuse them show them. Everything before the last `@` is taken
    as the user part, as a password may hold an unescaped `/`, `?` or `#`: an `@` in a path
    over-masks, which is harmless. A user with no password is masked whole (it may be a token).
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, host_on = rest.rpartition("@")
    if not sep or not at:
        return url
    user, colon, _password = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{scheme}://{masked}@{host_on}"
