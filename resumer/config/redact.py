"""Masking credentials in endpoints and URLs before they are shown."""

from __future__ import annotations

import re

# A password given as a query option (`?password=...`, `&password=...`), as redis-py takes it;
# its value runs to the next `&` or `#`, or to the end.
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask_endpoint(url: str) -> str:
    """`url` with every password in it masked (`***`), for showing it.

    Both places a URL may carry one are masked: the `user:password@` part and a
    `password=` query option. Plain text surgery, not a URL parser's round trip: it must work
    on malformed URLs too, since the messages that refuse them show them. Everything before
    the last `@` is taken as the user part, as a password may hold an unescaped `/`, `?` or
    `#`: an `@` in a path over-masks, which is harmless. A user with no password is masked
    whole (it may be a token).
    """
    url = _QUERY_PASSWORD.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    userinfo, at, host_on = rest.rpartition("@")
    if not sep or not at:
        return url
    user, colon, _password = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{scheme}://{masked}@{host_on}"
