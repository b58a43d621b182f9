"""UserSig (TLSSigAPIv2): make, decode and verify the admin account's signature, with no network.

A UserSig is zlib-compressed JSON, base64'd with the URL-safe alphabet `* - _` in place of
`+ / =`. Its `TLS.sig` field is an HMAC-SHA256 over four `key:value` lines made with the app's
secret key. Every function here takes the time as an argument so tests never read the clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from resumer.errors import UserSigError

DEFAULT_EXPIRE = 24 * 3600  # seconds a UserSig made by resumer is valid for
_URL_SAFE = str.maketrans("+/=", "*-_")
_URL_UNSAFE = str.maketrans("*-_", "+/=")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSigInfo:
    """The decoded fields of a UserSig."""

    identifier: str
    sdkappid: int
    time: int
    expire: int
    sig: str

    @property
    def expires_at(self) -> int:
        """Unix time after which the API refuses it (70001)."""
        return self.time + self.expire


def _hmac(secret_key: str, *, identifier: str, sdkappid: int, time: int, expire: int) -> str:
    content = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{time}\n"
        f"TLS.expire:{expire}\n"
    )
    digest = hmac.new(secret_key.encode(), content.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def make_usersig(
    *, sdkappid: int, identifier: str, secret_key: str, now: int, expire: int = DEFAULT_EXPIRE
) -> str:
    """Make a UserSig valid from `now` (unix seconds) for `expire` seconds."""
    fields = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": now,
        "TLS.sig": _hmac(
            secret_key, identifier=identifier, sdkappid=sdkappid, time=now, expire=expire
        ),
    }
    packed = zlib.compress(json.dumps(fields, separators=(",", ":")).encode())
    return base64.b64encode(packed).decode().translate(_URL_SAFE)


def decode_usersig(usersig: str) -> UserSigInfo:
    """Read the fields of a UserSig; UserSigError if it is not one."""
    try:
        packed = base64.b64decode(usersig.translate(_URL_UNSAFE), validate=True)
        fields = json.loads(zlib.decompress(packed))
        return UserSigInfo(
            identifier=str(fields["TLS.identifier"]),
            sdkappid=int(fields["TLS.sdkappid"]),
            time=int(fields["TLS.time"]),
            expire=int(fields["TLS.expire"]),
            sig=str(fields["TLS.sig"]),
        )
    except (binascii.Error, zlib.error, ValueError, TypeError, KeyError) as exc:
        raise UserSigError(
            "the UserSig cannot be decoded: check that RESUMER_USERSIG holds a whole UserSig"
        ) from exc


def signature_matches(info: UserSigInfo, secret_key: str) -> bool:
    """True if `info` was signed with `secret_key` (constant-time comparison)."""
    expected = _hmac(
        secret_key,
        identifier=info.identifier,
        sdkappid=info.sdkappid,
        time=info.time,
        expire=info.expire,
    )
    return hmac.compare_digest(expected, info.sig)


class UserSigSource:
    """Hands out a current UserSig for one admin account, renewing it well before it expires.

    With a secret key it makes its own and renews when less than a quarter of the validity is
    left; with a ready UserSig it hands that one out unchanged (the CLI checks its lifetime
    before the run starts). `clock` returns unix seconds.
    """

    def __init__(
        self,
        *,
        sdkappid: int,
        identifier: str,
        clock: Callable[[], float],
        secret_key: str | None = None,
        usersig: str | None = None,
        expire: int = DEFAULT_EXPIRE,
    ) -> None:
        if (secret_key is None) == (usersig is None):
            raise ValueError("give exactly one of secret_key and usersig")
        self._sdkappid = sdkappid
        self._identifier = identifier
        self._clock = clock
        self._secret_key = secret_key
        self._expire = expire
        self._current = usersig
        self._renew_at = float("inf")  # a ready UserSig is never renewed

    @property
    def can_renew(self) -> bool:
        """True if this source holds a secret key and so can make new UserSigs."""
        return self._secret_key is not None

    def current(self) -> str:
        """The UserSig to put in the next request."""
        if self._current is None or self._clock() >= self._renew_at:
            self.renew()
        return self._current or ""

    def renew(self) -> None:
        """Make a fresh UserSig now (after 70001, or when the current one ages)."""
        if self._secret_key is None:
            return  # a ready UserSig cannot be renewed; the app stops on the next 70001
        now = int(self._clock())
        self._current = make_usersig(
            sdkappid=self._sdkappid,
            identifier=self._identifier,
            secret_key=self._secret_key,
            now=now,
            expire=self._expire,
        )
        self._renew_at = now + self._expire * 3 / 4
