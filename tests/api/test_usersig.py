"""UserSig: byte-compatible with Tencent's reference package, decodable, verifiable, renewed."""

from unittest import mock

import pytest
import TLSSigAPIv2

from resumer.api.usersig import (
    UserSigSource,
    decode_usersig,
    make_usersig,
    signature_matches,
)
from resumer.errors import UserSigError

KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
NOW = 1_764_000_000


def reference_sig(sdkappid: int, identifier: str, expire: int) -> str:
    with mock.patch("TLSSigAPIv2.time.time", return_value=NOW):
        sig: str = TLSSigAPIv2.TLSSigAPIv2(sdkappid, KEY).gen_sig(identifier, expire)
    return sig


@pytest.mark.parametrize(("identifier", "expire"), [("administrator", 86400), ("管理员", 300)])
def test_same_fields_and_signature_as_tencents_reference(identifier: str, expire: int) -> None:
    ours = decode_usersig(
        make_usersig(
            sdkappid=1400000001, identifier=identifier, secret_key=KEY, now=NOW, expire=expire
        )
    )
    theirs = decode_usersig(reference_sig(1400000001, identifier, expire))
    assert ours == theirs
    assert signature_matches(theirs, KEY)


def test_decode_reads_every_field() -> None:
    info = decode_usersig(
        make_usersig(sdkappid=7, identifier="admin", secret_key=KEY, now=NOW, expire=60)
    )
    assert (info.sdkappid, info.identifier, info.time, info.expire) == (7, "admin", NOW, 60)
    assert info.expires_at == NOW + 60


def test_a_sig_made_with_another_key_does_not_match() -> None:
    info = decode_usersig(make_usersig(sdkappid=7, identifier="admin", secret_key=KEY, now=NOW))
    assert not signature_matches(info, KEY + "x")


@pytest.mark.parametrize("garbage", ["", "not a sig", "eJw*", "e30_"])
def test_garbage_is_a_usersig_error_with_a_plain_sentence(garbage: str) -> None:
    with pytest.raises(UserSigError, match="cannot be decoded"):
        decode_usersig(garbage)


def test_the_source_renews_after_three_quarters_of_the_validity() -> None:
    now = [float(NOW)]
    source = UserSigSource(
        sdkappid=7, identifier="admin", secret_key=KEY, clock=lambda: now[0], expire=400
    )
    first = source.current()
    now[0] += 299
    assert source.current() == first
    now[0] += 1
    renewed = source.current()
    assert renewed != first
    assert decode_usersig(renewed).time == NOW + 300


def test_a_ready_usersig_is_handed_out_unchanged_and_never_renewed() -> None:
    ready = make_usersig(sdkappid=7, identifier="admin", secret_key=KEY, now=NOW, expire=60)
    source = UserSigSource(sdkappid=7, identifier="admin", usersig=ready, clock=lambda: 1e12)
    source.renew()
    assert source.current() == ready
    assert not source.can_renew


def test_exactly_one_credential() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        UserSigSource(sdkappid=7, identifier="a", clock=lambda: 0.0)
