"""Every single-bit change of a signed frame, at every byte, is refused — unless it left the
signed bytes, the signature and the payload exactly as they were (a different encoding of the
same signed frame, outside what the signature covers), which the replay check then refuses
after the original; the stage never raises on any of them nor on random bytes; both profiles."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.security.codec import decode_secured
from v2xcloud.security.replay import ReplayWindow
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile, SignedFrame
from v2xcloud.security.verify import Policy, Rejection, Verified, stage_from_pki

from ._pki import NOW_MS, pkis, uper_bsm

__all__ = ["pkis"]


@pytest.mark.parametrize("profile", list(SecurityProfile))
@pytest.mark.parametrize("with_certificate", [False, True])
def test_every_bit_flip_is_refused(pkis, profile, with_certificate) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = stage_from_pki(pki, policy=Policy.parse("require"))
    raw = FrameSigner.for_device(pki, "obu-1").sign(
        uper_bsm(), generation_time_ms=NOW_MS, with_certificate=with_certificate
    )
    assert isinstance(stage.process(raw, kind="obu", now_ms=NOW_MS), Verified)
    original = decode_secured(raw)
    assert isinstance(original, SignedFrame)
    reasons: Counter[str] = Counter()
    for at in range(len(raw)):
        for bit in (0x01, 0x80):
            stage.replay = ReplayWindow(window_ms=6000)  # judge each copy on its own
            mutant = bytearray(raw)
            mutant[at] ^= bit
            result = stage.process(bytes(mutant), kind="obu", now_ms=NOW_MS)
            if isinstance(result, Verified):  # only the same signed content may pass
                same = decode_secured(bytes(mutant))
                assert isinstance(same, SignedFrame), same
                assert (same.tbs_bytes, same.signature, same.payload) == (
                    original.tbs_bytes,
                    original.signature,
                    original.payload,
                ), f"byte {at} ^ {bit:#x} verified with other content"
                again = stage.process(bytes(mutant), kind="obu", now_ms=NOW_MS)
                assert isinstance(again, Rejection) and again.reason.value == "replay"
                reasons["same content, re-encoded"] += 1
                continue
            reasons[result.reason.value] += 1
    assert reasons["bad_signature"] > len(raw) // 2  # many changes land in the signed bytes
    # a few octets outside the signed bytes (an open type's length) are read leniently by the
    # codec's asn1tools path: the same signed frame, re-encoded; never other content
    assert reasons["same content, re-encoded"] <= 4, reasons


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise(pkis, data) -> None:  # type: ignore[no-untyped-def]
    stage = stage_from_pki(pkis[SecurityProfile.CN, "main"], policy=Policy.parse("require"))
    for prefix in (b"", b"\x03\x80", b"\x03\x81\x02", b"\x03\x81\x00"):
        assert isinstance(stage.process(prefix + data, kind="obu", now_ms=NOW_MS), Rejection)


@pytest.mark.parametrize("profile", list(SecurityProfile))
def test_a_revoked_certificate_cannot_come_back_re_encoded(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    """A revoked device re-sends its certificate with one loosely readable bit changed (its
    digest then differs, the issuer's signature still covers the same to-be-signed bytes):
    refused as not canonical, so revocation by digest holds."""
    pki = pkis[profile, "main"]
    stage = stage_from_pki(pki, policy=Policy.parse("require"), known_devices=False)
    cert = pki.certificate("obu-1.pseudonym")
    stage.trust.revoke(cert.digest, at_ms=NOW_MS - 1)  # type: ignore[arg-type]
    raw = FrameSigner.for_device(pki, "obu-1").sign(
        uper_bsm(), generation_time_ms=NOW_MS, with_certificate=True
    )
    assert stage.process(raw, kind="obu", now_ms=NOW_MS).reason.value == "revoked"  # type: ignore[union-attr]
    at = raw.index(cert.encoded)
    mutant = bytearray(raw)
    mutant[at] ^= 0x01  # the certificate's first octet: a padding bit of its preamble
    reread = decode_secured(bytes(mutant))
    assert isinstance(reread, SignedFrame) and reread.signer_chain[0].digest != cert.digest
    assert reread.signer_chain[0].tbs_bytes == cert.tbs_bytes  # the same signed content
    refused = stage.process(bytes(mutant), kind="obu", now_ms=NOW_MS)
    assert isinstance(refused, Rejection) and refused.reason.value == "untrusted_chain"
    assert "canonical" in refused.detail
