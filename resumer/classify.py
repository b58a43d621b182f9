"""Classify one reply of `resume_mcu_task` into what the run does next: a pure function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The classification of one reply."""

    action: Action
    code: int  # ErrorCode, or the HTTP status for a reply that is not an envelope
    info: str  # ErrorInfo, or what was wrong with the reply
    request_id: str = ""


def action_for_code(code: int) -> Action:
    """The action for an ErrorCode of an envelope."""
    if code == 0:
        return Action.OK
    if code in THROTTLE_CODES:
        return Action.THROTTLE
    if code in RETRY_CODES:
        return Action.RETRY
    if code in RENEW_CODES:
        return Action.RENEW
    if code in FATAL_CAUSES:
        return Action.FATAL
    return Action.REJECT


def classify(reply: Reply) -> Verdict:
    """Classify a reply: an envelope by its ErrorCode; anything else is transient."""
    if reply.http_status != 200:
        kind = "server error" if reply.http_status >= 500 else "unexpected status"
        return Verdict(
            action=Action.RETRY,
            code=reply.http_status,
            info=f"HTTP {reply.http_status} ({kind})",
        )
    envelope = _envelope(reply.body)
    if isinstance(envelope, str):
        return Verdict(action=Action.RETRY, code=reply.http_status, info=envelope)
    code, info, request_id = envelope
    return Verdict(action=action_for_code(code), code=code, info=info, request_id=request_id)


def _envelope(body: bytes) -> tuple[int, str, str] | str:
    """(ErrorCode, ErrorInfo, RequestId) of a reply body, or why it is not an envelope."""
    if len(body) > MAX_BODY_BYTES:
        return f"reply is not the API's JSON envelope ({len(body)} bytes)"
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        what = "empty" if not body.strip() else "not JSON"
        return f"reply is not the API's JSON envelope ({what})"
    if not isinstance(data, dict):
        return "reply is not the API's JSON envelope (not an object)"
    code = data.get("ErrorCode")
    # bool is an int subclass; `true` is not an error code
    if not isinstance(code, int) or isinstance(code, bool):
        return "reply is not the API's JSON envelope (ErrorCode missing or not an integer)"
    info = data.get("ErrorInfo")
    request_id = data.get("RequestId")
    return (
        code,
        info if isinstance(info, str) else "",
        request_id if isinstance(request_id, str) else "",
    )


def fatal_cause(code: int) -> str:
    """The likely cause and fix of a fatal code, for the one sentence the operator reads."""
    return FATAL_CAUSES.get(code, "the API refused the app")
