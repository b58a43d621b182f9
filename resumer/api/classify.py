"""Classify one reply of `resume_mcu_task` into what the run does next: a pure function.

Text from the server (ErrorInfo, RequestId, a redirect's host) is escaped here, where it enters:
nothing the server sends can move a cursor or forge a line in a log, a terminal or the results.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from resumer.records import Reply


class Action(StrEnum):
    """What the run loop does with a reply."""

    OK = "ok"  # the room is resumed
    RETRY = "retry"  # transient: back off and try this room again (counts an attempt)
    THROTTLE = "throttle"  # the app is over its budget: slow the app down, retry (free)
    RENEW = "renew"  # UserSig expired: make a new one and retry once
    REJECT = "reject"  # this room fails for good
    FATAL = "fatal"  # the app cannot work: stop it, nothing else will succeed


# Codes of reference/tencent-api.md. Anything not listed rejects the room: an unknown code is
# not a reason to retry blindly, and not a reason to stop a whole app.
RETRY_CODES = frozenset({100001, 100424, 100427, 60008, 60014, 70169, 70202, 70500})
THROTTLE_CODES = frozenset({100422, 60007, 60011, 60018, 60019})
RENEW_CODES = frozenset({70001, 70052})
REJECT_CODES = frozenset({100002, 100004, 100006, 100428, 100429, 70402})

# Fatal codes, each with the likely cause and the fix, said to the operator in one sentence.
FATAL_CAUSES: dict[int, str] = {
    100007: "the app's paid plan does not include this feature: upgrade the plan",
    60002: "the request could not be parsed (a client bug): report it to the resumer maintainers",
    60003: "the request's JSON could not be parsed (a client bug): report it",
    60004: "the account or signature check failed: check the identifier and secret key",
    60005: "the signature check failed: check the secret key and SDKAppID",
    60006: "the SDKAppID is invalid: check sdkappid in the config",
    60009: "the request URL was refused: check --endpoint",
    60010: "the identifier is not an App administrator: use an admin account as identifier",
    60012: "the SDKAppID is missing from the URL: check sdkappid in the config",
    60016: "the SDKAppID is disabled: check the app in the Tencent Cloud console",
    60017: "requests for this SDKAppID are disabled: check the app in the console",
    60020: "the plan has expired or the account is in arrears: renew it in the console",
    60021: "this machine's IP is not allowed: add it to the app's IP allowlist",
    60025: "sdkappid, identifier, usersig or contenttype in the URL is wrong: check the config",
    60026: "the domain does not match the app's data centre: use the right --region",
    60028: "the trial edition's daily request volume is used up: upgrade or wait a day",
    70002: "the UserSig is empty: set the secret key or RESUMER_USERSIG",
    70003: "the UserSig is invalid: check RESUMER_USERSIG or the secret key",
    70005: "the UserSig is invalid: check RESUMER_USERSIG or the secret key",
    70009: "the UserSig was signed with another key: wrong secret key or SDKAppID",
    70013: "the identifier differs from the one inside the UserSig: check identifier",
    70014: "the SDKAppID differs from the one inside the UserSig: check sdkappid",
    70016: "the secret key was not found: check the app's data centre (--region)",
    70020: "the SDKAppID was not found: check sdkappid and the app's data centre (--region)",
    70050: "too many failed signature checks: fix the secret key, then wait a minute",
    70051: "the admin account is blocklisted: use another admin account",
    70403: "App admin permission is required: use an admin account as identifier",
}
MAX_BODY_BYTES = 64 * 1024  # an envelope is ~150 bytes; anything this large is not one
MAX_INFO_CHARS = 300  # ErrorInfo kept, escaped: the API's are one short sentence
MAX_ID_CHARS = 128  # RequestId kept, escaped: the API's are ~40 characters
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is honoured as this long

# Seconds at least before the next request for a room answered with this code (on top of the
# backoff): 100427 means this room was resumed too recently.
LEAST_WAITS: dict[int, float] = {100427: 1.0}

# Replies that are not HTTP 200. The API answers 200 unless the network fails (a 4xx or 5xx is a
# proxy's or a gateway's doing, so it is retried), except these, which no retry can change:
# - 3xx: the endpoint redirects (http:// for an https:// API, a moved host). Never followed: the
#   UserSig would go to the Location host, and a POST turned into a GET proves nothing.
# - 404 / 405: the host does not serve the API's path, so the endpoint is not the API. Stopping
#   the app at once costs nothing: its rooms are recorded `aborted`, which `--resume` does again
#   once --endpoint is fixed, whereas retrying a wrong path only delays that sentence by 30 s.
REDIRECT_CAUSE = "point --endpoint at the API itself, not at an address that redirects"
WRONG_PATH = frozenset({404, 405})
WRONG_PATH_CAUSE = (
    "check --endpoint: it must be the API's base URL (scheme and host, e.g. "
    "https://console.tim.qq.com), or use --region"
)
# Every listed code's action; where a code were in two sets, the later one here wins.
_ACTION_OF: Mapping[int, Action] = {
    **dict.fromkeys(REJECT_CODES, Action.REJECT),
    **dict.fromkeys(FATAL_CAUSES, Action.FATAL),
    **dict.fromkeys(RENEW_CODES, Action.RENEW),
    **dict.fromkeys(RETRY_CODES, Action.RETRY),
    **dict.fromkeys(THROTTLE_CODES, Action.THROTTLE),
}
# The classes the config's `[codes]` table may move an ErrorCode into, by their names there.
OVERRIDE_CLASSES: Mapping[str, Action] = {
    "retry": Action.RETRY,
    "throttle": Action.THROTTLE,
    "reject": Action.REJECT,
    "fatal": Action.FATAL,
}
Overrides = Mapping[int, Action]
NO_OVERRIDES: Overrides = MappingProxyType({})
THROTTLE_STATUS = 429  # Too Many Requests: slow down like 100422, honour Retry-After


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The classification of one reply."""

    action: Action
    code: int  # ErrorCode; the HTTP status of a reply that is not an envelope; 0: no reply at all
    info: str  # ErrorInfo (escaped), or what was wrong with the reply ("HTTP 404 (...)")
    request_id: str = ""
    envelope: bool = False  # the reply was the API's JSON envelope: the endpoint is the API
    wait: float = 0.0  # seconds at least before this room's next request (100427, Retry-After)

    @property
    def headline(self) -> str:
        """The reply as the operator reads it: "error 70009", "HTTP 404 (...)", "no reply (...)"."""
        if self.envelope:
            return f"error {self.code}"
        if self.code == 0:  # a TransportError: nothing came back
            return f"no reply ({self.info})"
        return self.info


def action_for_code(code: int, overrides: Overrides = NO_OVERRIDES) -> Action:
    """The action for an ErrorCode of an envelope; the config's `[codes]` decide first."""
    if code == 0:
        return Action.OK
    return overrides.get(code) or _ACTION_OF.get(code, Action.REJECT)


def classify(reply: Reply, overrides: Overrides = NO_OVERRIDES) -> Verdict:
    """Classify a reply: an envelope by its ErrorCode, any other HTTP status by its class.

    `overrides` move ErrorCodes into another class (the config's `[codes]`).
    """
    told = _capped_wait(reply.retry_after)
    if reply.http_status != 200:
        return _status_verdict(reply, told)
    envelope = _envelope(reply.body)
    if isinstance(envelope, str):
        return Verdict(action=Action.RETRY, code=200, info=f"HTTP 200 but {envelope}", wait=told)
    code, info, request_id = envelope
    return Verdict(
        action=action_for_code(code, overrides),
        code=code,
        info=info,
        request_id=request_id,
        envelope=True,
        wait=max(told, LEAST_WAITS.get(code, 0.0)),
    )


def _status_verdict(reply: Reply, wait: float) -> Verdict:
    """A reply whose HTTP status is not 200: its body is not read."""
    status = reply.http_status
    if 300 <= status < 400:
        target = _redirect_target(reply.location)
        where = f"a redirect to {target}" if target else "a redirect"
        return Verdict(action=Action.FATAL, code=status, info=f"HTTP {status} ({where})")
    if status in WRONG_PATH:
        return Verdict(action=Action.FATAL, code=status, info=f"HTTP {status} (not the API's path)")
    if status == THROTTLE_STATUS:
        return Verdict(
            action=Action.THROTTLE, code=status, info="HTTP 429 (too many requests)", wait=wait
        )
    kind = "server error" if status >= 500 else "unexpected status"
    return Verdict(action=Action.RETRY, code=status, info=f"HTTP {status} ({kind})", wait=wait)


def _redirect_target(location: str) -> str:
    """scheme://host[:port] of a Location header, escaped: never its path or query (a UserSig?)."""
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if not host:
        return ""  # a relative Location: the same host, another path
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return printable(f"{parts.scheme}://{netloc}" if parts.scheme else netloc, MAX_ID_CHARS)


def _envelope(body: bytes) -> tuple[int, str, str] | str:
    """(ErrorCode, ErrorInfo, RequestId) of a reply body, or why it is not an envelope."""
    if len(body) > MAX_BODY_BYTES:
        return f"not the API's JSON envelope (over {MAX_BODY_BYTES} bytes)"
    try:
        data = _loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        what = "empty" if not body.strip() else "not JSON"
        return f"not the API's JSON envelope ({what})"
    if not isinstance(data, dict):
        return "not the API's JSON envelope (not an object)"
    code = data.get("ErrorCode")
    # bool is an int subclass; `true` is not an error code
    if not isinstance(code, int) or isinstance(code, bool):
        return "not the API's JSON envelope (ErrorCode missing or not an integer)"
    info = data.get("ErrorInfo")
    request_id = data.get("RequestId")
    # Escaped here, where the server's text enters, so every log, the terminal and the results
    # log all hold the same escaped text: an operator greps for what they saw.
    return (
        code,
        printable(info, MAX_INFO_CHARS) if isinstance(info, str) else "",
        printable(request_id, MAX_ID_CHARS) if isinstance(request_id, str) else "",
    )


# json's C scanner, (text, index) -> (value, end); typeshed does not list the attribute
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"


def _loads(body: bytes) -> Any:
    """`json.loads(body)`; for an object in UTF-8 (every envelope), without json's Python layers
    (encoding sniffing, `decode`, `raw_decode`): the C scanner, as json.loads would call it."""
    # json.loads reads a body as UTF-8 unless a NUL byte among the first two says UTF-16/32
    if body[:1] == b"{" and body[1:2] != b"\x00":
        try:
            text = body.decode("utf-8", "surrogatepass")
            data, end = _SCAN(text, 0)
        except (ValueError, StopIteration):
            pass  # not JSON: json.loads says so as it always does
        else:
            if end == len(text) or not text[end:].strip(_JSON_SPACE):
                return data
    return json.loads(body)


# Characters shown as escapes: control characters (C0 with ESC, DEL, C1), format characters
# (bidi overrides, zero-width), line and paragraph separators, surrogates, and unassigned or
# private-use code points. Anything else prints as itself (a Chinese ErrorInfo stays readable).
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def printable(text: str, limit: int) -> str:
    """`text` safe for a terminal and a log line: unprintable characters escaped (ESC as \\x1b),
    and at most `limit` characters, an ellipsis marking the cut."""
    if len(text) <= limit and text.isprintable():  # the usual case: nothing to escape
        return text  # (isprintable is False for every category escaped here, and for Zs)
    out: list[str] = []
    size = 0
    for char in text:
        if unicodedata.category(char) in _UNPRINTABLE:
            point = ord(char)
            piece = (
                f"\\x{point:02x}"
                if point < 0x100
                else f"\\u{point:04x}"
                if point < 0x10000
                else f"\\U{point:08x}"
            )
        else:
            piece = char
        if size + len(piece) > limit:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def retry_after_seconds(value: str, *, now: float) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) in seconds from `now` (Unix time);
    None if it cannot be read."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _capped_wait(seconds: float | None) -> float:
    """A server's least wait, at most MAX_RETRY_AFTER: a typo of a proxy must not stall a run."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return 0.0
    return min(seconds, MAX_RETRY_AFTER)


def fatal_cause(verdict: Verdict) -> str:
    """The likely cause and fix of a fatal reply, for the one sentence the operator reads."""
    if verdict.envelope:
        return FATAL_CAUSES.get(
            verdict.code, "the API refused the app (a code listed as fatal in [codes]?)"
        )
    if 300 <= verdict.code < 400:
        return REDIRECT_CAUSE
    if verdict.code in WRONG_PATH:
        return WRONG_PATH_CAUSE
    return "the API refused the app"
