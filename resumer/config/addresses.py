"""The addresses a run is given: the API's base URL, and where --metrics listens."""

from __future__ import annotations

from yarl import URL

from resumer.config.redact import mask_endpoint
from resumer.errors import UsageError


def check_endpoint(endpoint: object, what: str = "endpoint") -> str:
    """A base URL without its trailing slash, if it is a usable one; else one sentence."""
    if not isinstance(endpoint, str):
        raise UsageError(f"{what} must be a URL such as https://host, not {endpoint!r}")
    shown = f"{what} '{mask_endpoint(endpoint)}'"
    if not endpoint.startswith(("http://", "https://")):
        raise UsageError(f"{shown} is not an http:// or https:// URL")
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        raise UsageError(f"{shown} holds a space or a control character: give the URL alone")
    try:
        url = URL(endpoint)
        port = url.port  # the scheme's default when none is written
    except ValueError:  # yarl's own text is not shown: it may quote the URL, credentials too
        raise UsageError(
            f"{shown} is not a valid URL: check its host, and that a port is from 1 to 65535"
        ) from None
    if not url.host:
        raise UsageError(f"{shown} has no host: give one, e.g. https://host or http://host:8080")
    if port is None or not 1 <= port <= 65535:
        raise UsageError(f"{shown} has port {port}: a port is between 1 and 65535")
    if url.query_string or url.fragment or "?" in endpoint or "#" in endpoint:
        raise UsageError(
            f"{shown} has a query string or fragment: give only the base URL (scheme, host, "
            "port and any path prefix); resumer adds the API's path and query"
        )
    return endpoint.rstrip("/")


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT of --metrics (:PORT: every interface, IPv6 too); one sentence if malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--metrics {value!r} is not HOST:PORT: e.g. --metrics 127.0.0.1:9464")
    # ":PORT" asks for every interface: "" is asyncio's word for all of them, IPv4 and IPv6
    return host.strip("[]"), int(port)
