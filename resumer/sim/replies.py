"""The simulator's replies: the API's JSON envelope, and the broken replies that faults send."""

from __future__ import annotations

import json
from dataclasses import dataclass

from resumer.sim.config import BODY_KINDS, HTTP_KINDS

JSON = "application/json"
HTML = "text/html"
HUGE_BYTES = 256 * 1024  # far above what any client should accept as an envelope

ERROR_INFO: dict[int, str] = {
    0: "",
    100001: "Internal server error, please try again.",
    100002: "Invalid parameter: RoomId must be a string of 1 to 48 bytes.",
    100004: "The room does not exist, or it has been dissolved.",
    100006: "The room is not a Live room, or IsUnlimitedRoomEnabled is not true.",
    100007: "The paid plan does not allow this operation.",
    100422: "Too many requests: each SDKAppID may perform 20 mixing operations per second.",
    100424: "The mix stream task does not exist, please try again.",
    100427: "Mixing operations in this room are too frequent, please try later.",
    100428: "Failed to pull the host information for mixing.",
    100429: "Invalid mixing mode.",
    60006: "SDKAppID is invalid.",
    60010: "The identifier is not an App administrator.",
    60012: "SDKAppID is missing from the URL.",
    60025: "sdkappid, identifier, usersig, random or contenttype is wrong in the URL.",
    70001: "UserSig expired, please generate a new one.",
    70002: "UserSig is empty.",
    70003: "UserSig is invalid: it cannot be decoded.",
    70009: "UserSig verification failed: it was signed with another key.",
    70013: "The identifier in the URL differs from the one in the UserSig.",
    70014: "The SDKAppID in the URL differs from the one in the UserSig.",
    70020: "SDKAppID not found.",
    70050: "Too many failed UserSig checks, please try again in a minute.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the server sends for one request, and when."""

    status: int  # HTTP status
    body: bytes
    content_type: str
    kind: str  # the stats key: the ErrorCode as text, or the kind of a broken reply
    code: int | None = None  # ErrorCode of a well-formed envelope
    delay: float = 0.0  # seconds to wait before replying
    hang: bool = False  # never reply


def envelope(code: int, request_id: str, *, delay: float = 0.0) -> Answer:
    """The API's reply: HTTP 200 and the JSON envelope with `code`."""
    return Answer(
        status=200,
        body=_envelope_bytes(code, request_id),
        content_type=JSON,
        kind=str(code),
        code=code,
        delay=delay,
    )


def broken(kind: str, request_id: str, *, delay: float = 0.0) -> Answer:
    """A reply that is not a well-formed envelope: an HTTP error or a broken body."""
    if kind in HTTP_KINDS:
        status = HTTP_KINDS[kind]
        return Answer(status=status, body=_html(status), content_type=HTML, kind=kind, delay=delay)
    if kind not in BODY_KINDS:
        raise ValueError(f"not a broken reply: {kind!r}")
    good = _fields(0, request_id)
    bodies: dict[str, tuple[str, object]] = {
        "html": (HTML, None),
        "empty": (JSON, b""),
        "truncated": (JSON, _half(_envelope_bytes(0, request_id))),
        "code_not_int": (JSON, {**good, "ErrorCode": "0"}),
        "huge": (JSON, {**good, "ErrorInfo": "x" * HUGE_BYTES}),
        "not_object": (JSON, [good]),
        "missing_code": (JSON, {k: v for k, v in good.items() if k != "ErrorCode"}),
    }
    content_type, value = bodies[kind]
    if value is None:
        body = _html(200)
    elif isinstance(value, bytes):
        body = value
    else:
        body = json.dumps(value).encode()
    return Answer(status=200, body=body, content_type=content_type, kind=kind, delay=delay)


def _fields(code: int, request_id: str) -> dict[str, object]:
    return {
        "ActionStatus": "OK" if code == 0 else "FAIL",
        "ErrorInfo": ERROR_INFO.get(code, f"Error {code}."),
        "ErrorCode": code,
        "RequestId": request_id,
    }


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _envelope_bytes(code: int, request_id: str) -> bytes:
    return json.dumps(_fields(code, request_id)).encode()


def _html(status: int) -> bytes:
    # what nginx in front of a backend says; a 200 page is what a captive proxy serves
    title = {200: "Welcome", 502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable"}
    text = title.get(status, str(status))
    return (
        f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n"
        f"<center><h1>{text}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
