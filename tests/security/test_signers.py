"""Devices and the platform sign on the wire: what they sign verifies at a receiver built from
the same PKI; an enrolled device is learnt from its first (full-certificate) frame; the
platform's RSI and advisories verify and carry what was signed; tampering is caught."""

from __future__ import annotations

import json

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.model import DropReason
from v2xcloud.security.aid import aid_of
from v2xcloud.security.codec import decode_secured
from v2xcloud.security.signers import DeviceSigners, PlatformSigner
from v2xcloud.security.types import SecurityProfile, SignedFrame
from v2xcloud.security.verify import Policy, Rejection, Verified, stage_from_pki

from ._pki import NOW_MS, pkis, uper_bsm

__all__ = ["pkis"]

PROFILES = list(SecurityProfile)


def _stage(pki):  # type: ignore[no-untyped-def]
    return stage_from_pki(pki, policy=Policy.parse("require"))


@pytest.mark.parametrize("profile", PROFILES)
def test_an_enrolled_device_is_learnt_from_its_full_certificate(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    signers = DeviceSigners(pki, certificate_period_ms=300)
    times = [NOW_MS + 100 * k for k in range(9)]
    frames = [
        signers.sign(
            uper_bsm("5a00000000000007"),
            device_id="5a00000000000007",
            device_kind="obu",
            message_type="BSM",
            generation_time_ms=t,
            lat_deg=28.19,
            lon_deg=112.97,
        )
        for t in times
    ]
    decoded = [decode_secured(f) for f in frames]
    assert all(isinstance(d, SignedFrame) for d in decoded)
    forms = [d.signer_form for d in decoded]  # type: ignore[union-attr]
    # every frame of the first period, then one frame a period
    assert forms == ["certificate"] * 3 + ["digest", "digest", "certificate"] * 2
    first = decoded[0]
    assert isinstance(first, SignedFrame)
    assert first.aid == aid_of("BSM") and first.generation_location is not None
    assert first.signer_chain[0].issuer == pki.certificate("pseudonym-ca").digest
    # a receiver that missed the full certificate refuses the digest-signed frames
    late = _stage(pki)
    refused = late.process(frames[3], kind="obu", now_ms=NOW_MS + 350)
    assert isinstance(refused, Rejection) and refused.reason is DropReason.UNKNOWN_SIGNER
    # one that heard it in order verifies them all
    stage = _stage(pki)
    for t, frame in zip(times, frames, strict=True):
        assert isinstance(stage.process(frame, kind="obu", now_ms=t + 20), Verified)
    stats = signers.stats()
    assert stats["signed.BSM"] == 9 and stats["certificates_sent"] == 5
    assert stats["enrolled"] == 1 and stats["devices"] == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_a_pki_device_signs_with_its_own_certificate(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    signers = DeviceSigners(pki)
    frame = signers.sign(
        uper_bsm(),
        device_id="rsu-1",
        device_kind="rsu",
        message_type="BSM",  # an RSU's certificate does not permit the BSM's AID
        generation_time_ms=NOW_MS,
    )
    decoded = decode_secured(frame)
    assert isinstance(decoded, SignedFrame)
    assert decoded.signer_digest == pki.certificate("rsu-1.enrolment").digest
    result = _stage(pki).process(frame, kind="rsu", now_ms=NOW_MS + 20)
    assert isinstance(result, Rejection) and result.reason is DropReason.NOT_PERMITTED
    assert signers.stats()["from_pki"] == 1


def test_without_enrolment_an_unknown_device_cannot_sign(pkis) -> None:  # type: ignore[no-untyped-def]
    signers = DeviceSigners(pkis[SecurityProfile.CN, "main"], enrol_unknown=False)
    with pytest.raises(ConfigError, match="no pseudonym certificate"):
        signers.sign(
            uper_bsm(),
            device_id="obu-9",
            device_kind="obu",
            message_type="BSM",
            generation_time_ms=NOW_MS,
        )


@pytest.mark.parametrize("profile", PROFILES)
def test_platform_signs_rsi_and_advisories_and_tampering_fails(pkis, profile) -> None:  # type: ignore[no-untyped-def]
    pki = pkis[profile, "main"]
    platform = PlatformSigner(pki)
    advisory = json.dumps({"app": "FCW", "ego_id": "obu-1", "level": 2}).encode()
    signed = platform.sign(advisory, message_type="ADVISORY", now_ms=NOW_MS)
    receiver = _stage(pki)  # an OBU's receiver: same root
    result = receiver.process(signed, kind="platform", now_ms=NOW_MS + 30)
    assert isinstance(result, Verified)
    assert result.payload == advisory and result.aid == aid_of("ADVISORY")
    assert result.device == "platform"
    rsi = platform.sign(uper_bsm(), message_type="RSI", now_ms=NOW_MS + 1)
    decoded = decode_secured(rsi)
    assert isinstance(decoded, SignedFrame) and decoded.signer_form == "certificate"
    assert isinstance(receiver.process(rsi, kind="platform", now_ms=NOW_MS + 30), Verified)
    at = signed.index(advisory) + 10
    tampered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1 :]
    refused = _stage(pki).process(tampered, kind="platform", now_ms=NOW_MS + 30)
    assert isinstance(refused, Rejection) and refused.reason is DropReason.BAD_SIGNATURE
    assert platform.stats()["signed.ADVISORY"] == 1 and platform.stats()["signed.RSI"] == 1
