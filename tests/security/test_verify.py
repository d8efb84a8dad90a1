"""The receiver checks: the good frame passes, and every check rejects its own tampered case with
its own reason, in both profiles (cn: SM2/SM3, intl: ECDSA-P256/SHA-256)."""

from __future__ import annotations

import msgspec
import pytest

from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.runtime import FrameGuard
from v2xcloud.security.aid import aid_of
from v2xcloud.security.codec import decode_secured
from v2xcloud.security.pki import Pki
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile, SignedFrame
from v2xcloud.security.verify import (
    GuardPass,
    Policy,
    Rejection,
    SecurityStage,
    Verified,
    stage_from_pki,
)

from ._pki import NOW_MS, pkis, uper_bsm

__all__ = ["pkis"]  # the fixture, imported for pytest

PROFILES = list(SecurityProfile)
BSM = uper_bsm()


def _stage(pki: Pki, policy: str = "require", **options: object) -> SecurityStage:
    return stage_from_pki(pki, policy=Policy.parse(policy), **options)  # type: ignore[arg-type]


def _signed(pki: Pki, payload: bytes = BSM, *, device: str = "obu-1", **options: object) -> bytes:
    signer = FrameSigner.for_device(pki, device)
    generated = options.pop("generation_time_ms", NOW_MS)
    return signer.sign(payload, generation_time_ms=generated, **options)  # type: ignore[arg-type]


def _reject(stage: SecurityStage, raw: bytes, *, now_ms: int = NOW_MS + 20) -> Rejection:
    result = stage.process(raw, kind="obu", now_ms=now_ms)
    assert isinstance(result, Rejection), result
    return result


@pytest.mark.parametrize("profile", PROFILES)
def test_good_frame_passes_with_its_signer(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki)
    result = stage.process(_signed(pki), kind="obu", now_ms=NOW_MS + 20)
    assert isinstance(result, Verified)
    assert (result.payload, result.aid, result.device) == (BSM, aid_of("BSM"), "obu-1")
    assert result.signer == pki.certificate("obu-1.pseudonym").digest
    assert result.profile is profile and result.generation_time_ms == NOW_MS
    assert stage.stats()["verified"] == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_unsigned_under_require(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    stage = _stage(pkis[profile, "main"])
    assert _reject(stage, BSM).reason is DropReason.UNSIGNED


@pytest.mark.parametrize("profile", PROFILES)
def test_unknown_algorithm(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    other = SecurityProfile.INTL if profile is SecurityProfile.CN else SecurityProfile.CN
    stage = _stage(pkis[profile, "main"])
    refused = _reject(stage, _signed(pkis[other, "main"]))
    assert refused.reason is DropReason.UNKNOWN_ALGORITHM and refused.where == "$.signature"


@pytest.mark.parametrize("profile", PROFILES)
def test_unknown_signer_and_learning_from_a_full_certificate(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki, known_devices=False)
    signer = FrameSigner.for_device(pki, "obu-1")
    refused = _reject(stage, signer.sign(BSM, generation_time_ms=NOW_MS))
    assert refused.reason is DropReason.UNKNOWN_SIGNER
    assert signer.digest.hex() in refused.detail
    with_cert = signer.sign(BSM, generation_time_ms=NOW_MS + 1, with_certificate=True)
    assert isinstance(stage.process(with_cert, kind="obu", now_ms=NOW_MS + 20), Verified)
    by_digest = signer.sign(BSM, generation_time_ms=NOW_MS + 2)  # now the cache knows it
    assert isinstance(stage.process(by_digest, kind="obu", now_ms=NOW_MS + 20), Verified)
    links = stage.trust.stats()["links_verified"]
    again = signer.sign(BSM, generation_time_ms=NOW_MS + 3, with_certificate=True)
    assert isinstance(stage.process(again, kind="obu", now_ms=NOW_MS + 20), Verified)
    assert stage.trust.stats()["links_verified"] == links  # a known link is not verified again


@pytest.mark.parametrize("profile", PROFILES)
def test_untrusted_chain(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    stage = _stage(pkis[profile, "main"])
    stranger = FrameSigner.for_device(pkis[profile, "other"], "obu-1")
    raw = stranger.sign(BSM, generation_time_ms=NOW_MS, with_certificate=True)
    refused = _reject(stage, raw)
    assert refused.reason is DropReason.UNTRUSTED_CHAIN and "not trusted" in refused.detail


@pytest.mark.parametrize("profile", PROFILES)
def test_revoked(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki)
    stage.trust.revoke(pki.certificate("obu-1.pseudonym").digest, at_ms=NOW_MS - 1)
    assert _reject(stage, _signed(pki)).reason is DropReason.REVOKED
    # a frame generated before the revocation still verifies
    early = _signed(pki, generation_time_ms=NOW_MS - 2)
    assert isinstance(stage.process(early, kind="obu", now_ms=NOW_MS), Verified)


@pytest.mark.parametrize("profile", PROFILES)
def test_revoking_a_ca_revokes_what_it_issued(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki)
    stage.trust.revoke(pki.certificate("pseudonym-ca").digest, at_ms=NOW_MS - 1)
    refused = _reject(stage, _signed(pki, with_certificate=True))
    assert refused.reason is DropReason.REVOKED


@pytest.mark.parametrize("profile", PROFILES)
def test_outside_validity(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    end = pki.certificate("obu-1.pseudonym").validity_end_ms
    raw = _signed(pki, generation_time_ms=end + 10)
    refused = _reject(_stage(pki), raw, now_ms=end + 20)
    assert refused.reason is DropReason.OUTSIDE_VALIDITY


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("with_location", [True, False])
def test_outside_region(pkis, profile, with_location) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    paris = uper_bsm(lat=48.85, lon=2.35)
    refused = _reject(_stage(pki), _signed(pki, paris, with_location=with_location))
    assert refused.reason is DropReason.OUTSIDE_REGION
    assert refused.where == ("$.headerInfo.generationLocation" if with_location else "$.payload")


@pytest.mark.parametrize("profile", PROFILES)
def test_not_permitted(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    refused = _reject(_stage(pki), _signed(pki, aid=aid_of("RSI")))  # an OBU sending RSI
    assert refused.reason is DropReason.NOT_PERMITTED and refused.where == "$.headerInfo.aid"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("where", ["signature", "payload", "header"])
def test_bad_signature(pkis, profile, where) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    raw = bytearray(_signed(pki))
    frame = decode_secured(bytes(raw))
    assert isinstance(frame, SignedFrame)
    if where == "signature":
        at = len(raw) - 1  # the last octet of s
    elif where == "payload":
        at = bytes(raw).index(frame.payload) + 12  # inside the BSM's id octets
    else:
        at = bytes(raw).index(frame.tbs_bytes) + len(frame.tbs_bytes) - 1  # end of the header
    raw[at] ^= 0x01
    tampered = decode_secured(bytes(raw))
    assert isinstance(tampered, SignedFrame), tampered  # still a well-formed frame
    refused = _reject(_stage(pki), bytes(raw))
    assert refused.reason is DropReason.BAD_SIGNATURE, refused


@pytest.mark.parametrize("profile", PROFILES)
def test_stale_and_future(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki, window_ms=5_000, future_ms=1_000)
    old = _reject(stage, _signed(pki), now_ms=NOW_MS + 5_001)
    assert old.reason is DropReason.STALE and "5001 ms ago" in old.detail
    ahead = _reject(stage, _signed(pki), now_ms=NOW_MS - 1_001)
    assert ahead.reason is DropReason.STALE and "in the future" in ahead.detail


@pytest.mark.parametrize("profile", PROFILES)
def test_replay(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki)
    raw = _signed(pki)
    assert isinstance(stage.process(raw, kind="obu", now_ms=NOW_MS + 10), Verified)
    assert _reject(stage, raw, now_ms=NOW_MS + 300).reason is DropReason.REPLAY


@pytest.mark.parametrize("profile", PROFILES)
def test_policies(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    stage = _stage(pki, "verify-if-signed,radar=off,rsu=require")
    plain = stage.process(BSM, kind="obu", now_ms=NOW_MS)
    assert isinstance(plain, Verified) and not plain.is_signed and plain.payload == BSM
    off = stage.process(_signed(pki), kind="radar", now_ms=NOW_MS)
    assert isinstance(off, Rejection) and off.reason is DropReason.SIGNED_UNVERIFIED
    rsu = stage.process(BSM, kind="rsu", now_ms=NOW_MS)
    assert isinstance(rsu, Rejection) and rsu.reason is DropReason.UNSIGNED
    signed = stage.process(_signed(pki), kind="obu", now_ms=NOW_MS)
    assert isinstance(signed, Verified) and signed.is_signed


@pytest.mark.parametrize("profile", PROFILES)
def test_truncated_secured_frame_names_where(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    raw = _signed(pki)
    refused = _reject(_stage(pki), raw[:40])
    assert refused.reason in (DropReason.TRUNCATED, DropReason.MALFORMED)
    assert refused.where is not None and refused.where.startswith("byte")


def test_frame_guard_face_keeps_the_raw_bytes(pkis) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[SecurityProfile.CN, "main"]
    stage = _stage(pki)
    assert isinstance(stage, FrameGuard)
    raw = _signed(pki)
    passed = stage.check(raw, source="obu-1", kind="obu", now_ms=NOW_MS)
    digest = pki.certificate("obu-1.pseudonym").digest
    assert passed == GuardPass(payload=BSM, signer=digest.hex(), device="obu-1")  # type: ignore[union-attr]
    letter = stage.check(raw, source="obu-1", kind="obu", now_ms=NOW_MS)
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.raw, letter.source) == (DropReason.REPLAY, raw, "obu-1")
    assert letter.detail.startswith("security: ")
    stats = stage.stats()
    assert stats["verified"] == 1 and stats["rejected.replay"] == 1
    assert stats["trust"]["trust_list"] == 3  # root, enrolment CA, pseudonym CA
    assert msgspec.json.encode(stats)  # plain JSON for /api/stats
