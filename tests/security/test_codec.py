"""The secured-message codec: certificates and signed frames of both profiles round-trip,
the signer's digest is the same in both signer forms, real signatures verify over the
to-be-signed bytes, and every kind of bad input is a ``Rejected`` naming its reason and byte."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Rejected
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.gateways.ieee1609 import Unwrapped, WrapDrop, unwrap, unwrap_1609dot2
from v2xcloud.model import DropReason
from v2xcloud.security import codec
from v2xcloud.security._time import (
    EPOCH_2004_MS,
    time32_from_utc_ms,
    time64_from_utc_ms,
    utc_ms_from_time32,
    utc_ms_from_time64,
)
from v2xcloud.security.crypto import Verifier, generate_signer
from v2xcloud.security.types import (
    AppPermission,
    Certificate,
    CircularRegion,
    CountryRegions,
    GenerationLocation,
    GeoPoint,
    HashedId8,
    IdentifiedRegion,
    IssuePermission,
    PolygonalRegion,
    PublicKey,
    Rectangle,
    RectangularRegion,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
    SignedFrame,
    UnsignedFrame,
)

PROFILES = {
    SecurityProfile.CN: SignatureAlgorithm.SM2_SM3,
    SecurityProfile.INTL: SignatureAlgorithm.ECDSA_P256_SHA256,
}
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BSM = bytes.fromhex("00") + bytes(range(1, 38))  # stands for a UPER MessageFrame


def _issue(profile: SecurityProfile, cert: Certificate, issuer_key: object) -> Certificate:
    """Sign ``cert`` with ``issuer_key`` (a crypto Signer) and decode it back."""
    raw = issuer_key.sign(codec.certificate_tbs(cert))  # type: ignore[attr-defined]
    sig = Signature(algorithm=PROFILES[profile], r=raw[:32], s=raw[32:])
    encoded = codec.encode_certificate(msgspec.structs.replace(cert, signature=sig))
    return codec.decode_certificate(encoded, profile=profile)


@pytest.fixture(params=list(PROFILES), ids=lambda p: p.value)
def pki(request: pytest.FixtureRequest) -> dict[str, object]:
    profile: SecurityProfile = request.param
    algorithm = PROFILES[profile]
    root_key, device_key = generate_signer(algorithm), generate_signer(algorithm)
    root = _issue(
        profile,
        Certificate(
            profile=profile,
            subject_name="root.v2xcloud.test",
            issuer=None,
            verification_key=PublicKey(algorithm=algorithm, point=root_key.public_key_compressed()),
            validity_start_ms=T0,
            validity_end_ms=T0 + 10 * 31_556_952_000,
            issue_permissions=(IssuePermission(min_chain_length=2, chain_length_range=-1),),
        ),
        root_key,
    )
    device = _issue(
        profile,
        Certificate(
            profile=profile,
            subject_id=b"obu-1",
            issuer=root.digest,
            verification_key=PublicKey(
                algorithm=algorithm, point=device_key.public_key_compressed()
            ),
            validity_start_ms=T0,
            validity_end_ms=T0 + 7 * 86_400_000,
            region=CircularRegion(center=GeoPoint(28.1941, 112.9714), radius_m=20_000),
            app_permissions=(AppPermission(aid=111), AppPermission(aid=3618, ssp=b"\x01")),
        ),
        root_key,
    )
    return {"profile": profile, "root": root, "device": device, "key": device_key}


def _sign_with(key: object, algorithm: SignatureAlgorithm):
    def sign(tbs: bytes) -> Signature:
        raw = key.sign(tbs)  # type: ignore[attr-defined]
        return Signature(algorithm=algorithm, r=raw[:32], s=raw[32:])

    return sign


def test_certificate_round_trip_keeps_every_field(pki: dict[str, object]) -> None:
    device = pki["device"]
    assert isinstance(device, Certificate)
    again = codec.decode_certificate(codec.encode_certificate(device), profile=device.profile)
    assert again == device
    assert device.digest == codec.hashed_id8(device.encoded, device.profile)
    assert device.tbs_bytes == codec.certificate_tbs(device)
    # after preamble, version, type and issuer (sm3AndDigest is an extension: one more octet)
    assert device.encoded.find(device.tbs_bytes) == (
        13 if device.profile is SecurityProfile.CN else 12
    )
    root = pki["root"]
    assert isinstance(root, Certificate) and root.is_self_signed
    assert root.issue_permissions == (IssuePermission(min_chain_length=2, chain_length_range=-1),)


def test_issuer_signature_verifies_over_tbs(pki: dict[str, object]) -> None:
    root, device = pki["root"], pki["device"]
    assert isinstance(root, Certificate) and isinstance(device, Certificate)
    assert device.signature is not None
    verifier = Verifier(root.verification_key.algorithm)
    sig = device.signature.r + device.signature.s
    assert verifier.verify(root.verification_key.point, device.tbs_bytes, sig)
    assert not verifier.verify(root.verification_key.point, device.tbs_bytes + b"x", sig)


@pytest.mark.parametrize(
    "region",
    [
        RectangularRegion(
            rectangles=(Rectangle(north_west=GeoPoint(29, 112), south_east=GeoPoint(28, 113)),)
        ),
        PolygonalRegion(vertices=(GeoPoint(28, 112), GeoPoint(29, 112), GeoPoint(29, 113.5))),
        IdentifiedRegion(
            areas=(
                CountryRegions(country=156),
                CountryRegions(country=156, regions=(43, 11)),
                CountryRegions(country=156, subregions=((43, (1, 2)),)),
            )
        ),
    ],
    ids=["rectangular", "polygonal", "identified"],
)
def test_every_region_kind_round_trips(pki: dict[str, object], region: object) -> None:
    device = pki["device"]
    assert isinstance(device, Certificate)
    cert = msgspec.structs.replace(device, region=region)
    back = codec.decode_certificate(codec.encode_certificate(cert), profile=cert.profile)
    assert back.region == region


@pytest.mark.parametrize("form", ["digest", "certificate"])
def test_signed_frame_round_trip_and_signature(pki: dict[str, object], form: str) -> None:
    profile, device, key = pki["profile"], pki["device"], pki["key"]
    assert isinstance(profile, SecurityProfile) and isinstance(device, Certificate)
    assert device.digest is not None
    where = GenerationLocation(lat_deg=28.1941234, lon_deg=112.9714321, elevation_m=-12.5)
    encoding = codec.encode_signed(
        profile=profile,
        aid=111,
        payload=BSM,
        signer=device.digest if form == "digest" else [device, pki["root"]],  # type: ignore[list-item]
        sign=_sign_with(key, PROFILES[profile]),
        generation_time_ms=T0 + 1234,
        expiry_time_ms=T0 + 60_000,
        generation_location=where,
    )
    frame = codec.decode_secured(encoding.raw)
    assert isinstance(frame, SignedFrame)
    assert frame.profile is profile and frame.algorithm is PROFILES[profile]
    assert (frame.aid, frame.payload, frame.generation_location) == (111, BSM, where)
    assert frame.generation_time_ms == T0 + 1234 and frame.expiry_time_ms == T0 + 60_000
    assert frame.generation_time_us == time64_from_utc_ms(T0 + 1234)
    assert frame.signer_digest == device.digest  # the same in both signer forms
    assert frame.signer_form == form
    if form == "certificate":
        assert frame.signer_chain == (device, pki["root"])
    assert frame.tbs_bytes == encoding.tbs_bytes
    verifier = Verifier(PROFILES[profile])
    sig = frame.signature.r + frame.signature.s
    assert verifier.verify(device.verification_key.point, frame.tbs_bytes, sig)
    # asn1tools reads the same bytes the same way
    assert codec._decode_slow(encoding.raw, None) == frame
    assert codec.decode_secured(encoding.raw, profile=profile) == frame


def test_unsigned_frame_and_profile_mismatch() -> None:
    raw = codec.encode_unsigned(BSM * 4)  # > 127 bytes: a two-octet length
    assert raw[:4] == bytes([3, 0x80, 0x81, len(BSM) * 4])
    frame = codec.decode_secured(raw, profile=SecurityProfile.INTL)
    assert frame == UnsignedFrame(profile=SecurityProfile.INTL, payload=BSM * 4, raw=raw)
    assert codec._decode_slow(raw, SecurityProfile.INTL) == frame


def _fake(profile: SecurityProfile) -> Signature:
    return Signature(algorithm=PROFILES[profile], r=b"\x11" * 32, s=b"\x22" * 32)


def _frame(profile: SecurityProfile) -> bytes:
    return codec.encode_signed(
        profile=profile,
        aid=111,
        payload=BSM,
        signer=HashedId8(b"\x01" * 8),
        sign=lambda tbs: _fake(profile),
        generation_time_ms=T0,
    ).raw


@pytest.mark.parametrize("profile", list(PROFILES), ids=lambda p: p.value)
def test_every_truncation_is_rejected_with_its_byte(profile: SecurityProfile) -> None:
    raw = _frame(profile)
    for cut in range(len(raw)):
        result = codec.decode_secured(raw[:cut])
        assert isinstance(result, Rejected), cut
        assert result.reason in (
            DropReason.EMPTY,
            DropReason.TRUNCATED,
            DropReason.MALFORMED,
        ), (cut, result)
        assert cut == 0 or result.where is not None


@pytest.mark.parametrize(
    ("mutate", "reason", "where"),
    [
        (lambda raw: raw + b"\x00", DropReason.TRAILING_BYTES, "byte {n}"),
        (lambda raw: b"\x02" + raw[1:], DropReason.WRONG_VERSION, "byte 0"),
        (lambda raw: raw[:2] + b"\x01" + raw[3:], DropReason.UNKNOWN_ALGORITHM, "byte 2"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], DropReason.UNKNOWN_ALGORITHM, "byte 2"),
    ],
    ids=["trailing", "version", "sha384", "hash7"],
)
def test_bad_frames_name_reason_and_byte(mutate, reason: DropReason, where: str) -> None:
    raw = _frame(SecurityProfile.CN)
    result = codec.decode_secured(mutate(raw))
    assert isinstance(result, Rejected)
    assert (result.reason, result.where) == (reason, where.format(n=len(raw)))


def test_wrong_profile_hash_and_signature_mismatch_are_unknown_algorithm() -> None:
    cn = _frame(SecurityProfile.CN)
    result = codec.decode_secured(cn, profile=SecurityProfile.INTL)
    assert isinstance(result, Rejected) and result.reason is DropReason.UNKNOWN_ALGORITHM
    # SM3 hash announced but an ECDSA signature: not an algorithm pair of either profile
    intl = _frame(SecurityProfile.INTL)
    mixed = intl[:2] + b"\x02" + intl[3:]
    result = codec.decode_secured(mixed)
    assert isinstance(result, Rejected) and result.reason is DropReason.UNKNOWN_ALGORITHM
    assert "sm2Signature" in result.detail


def test_self_signer_encrypted_and_external_payload_are_refused() -> None:
    spec = codec.schema(SecurityProfile.CN)
    inner = {"protocolVersion": 3, "content": ("unsecuredData", BSM)}
    tbs = {"payload": {"data": inner}, "headerInfo": {"aid": 111}}
    sig = ("sm2Signature", {"rSig": b"\x11" * 32, "sSig": b"\x22" * 32})
    signed = {"hashId": "sm3", "tbsData": tbs, "signer": ("self", None), "signature": sig}
    raw = spec.encode("V2XSecData", {"protocolVersion": 3, "content": ("signedData", signed)})
    result = codec.decode_secured(bytes(raw))
    assert isinstance(result, Rejected) and result.reason is DropReason.UNKNOWN_SIGNER
    hashed = {**tbs, "payload": {"extDataHash": ("sha256HashedData", b"\x00" * 32)}}
    signed = {**signed, "tbsData": hashed, "signer": ("digest", b"\x01" * 8)}
    raw = spec.encode("V2XSecData", {"protocolVersion": 3, "content": ("signedData", signed)})
    result = codec.decode_secured(bytes(raw))
    assert isinstance(result, Rejected) and result.reason is DropReason.UNSUPPORTED_MESSAGE
    cipher = ("aes128ccm", {"nonce": b"\x00" * 12, "ccmCiphertext": b"\x01\x02"})
    encrypted = {"recipients": [], "ciphertext": cipher}
    raw = spec.encode("V2XSecData", {"protocolVersion": 3, "content": ("encryptedData", encrypted)})
    result = codec.decode_secured(bytes(raw))
    assert isinstance(result, Rejected) and result.reason is DropReason.UNSUPPORTED_MESSAGE
    assert codec.decode_secured(b"").reason is DropReason.EMPTY  # type: ignore[union-attr]


def test_certificate_errors(pki: dict[str, object]) -> None:
    device = pki["device"]
    assert isinstance(device, Certificate)
    with pytest.raises(DecodeError) as bad:
        codec.decode_certificate(device.encoded + b"\x00", profile=device.profile)
    assert bad.value.reason is DropReason.TRAILING_BYTES
    with pytest.raises(DecodeError) as bad:
        codec.decode_certificate(device.encoded[:-5], profile=device.profile)
    assert bad.value.reason is DropReason.TRUNCATED and bad.value.where is not None
    other = next(p for p in PROFILES if p is not device.profile)
    with pytest.raises(DecodeError) as bad:
        codec.decode_certificate(device.encoded, profile=other)
    assert bad.value.reason is DropReason.UNKNOWN_ALGORITHM
    with pytest.raises(EncodeError, match="whole count"):
        codec.certificate_tbs(msgspec.structs.replace(device, validity_end_ms=T0 + 70_001_000))
    with pytest.raises(EncodeError, match="set signature"):
        codec.encode_certificate(msgspec.structs.replace(device, signature=None))


def test_time_scales_count_leap_seconds() -> None:
    assert time64_from_utc_ms(EPOCH_2004_MS) == 0
    # 2026: five leap seconds since 2004, so Time32 runs 5 s ahead of UTC seconds
    assert time32_from_utc_ms(T0) == (T0 - EPOCH_2004_MS) // 1000 + 5
    assert utc_ms_from_time32(time32_from_utc_ms(T0)) == T0
    # just before and after the 2016-12-31 leap second
    for utc in (1_483_228_799_000, 1_483_228_800_000, 1_136_073_599_999, 1_136_073_600_000):
        assert utc_ms_from_time64(time64_from_utc_ms(utc)) == utc


@pytest.mark.parametrize("profile", list(PROFILES), ids=lambda p: p.value)
def test_gateway_unwrapper_reads_our_outer_layers(profile: SecurityProfile) -> None:
    unsigned = codec.encode_unsigned(BSM)
    assert unwrap_1609dot2(unsigned) == Unwrapped(payload=BSM, layers=("1609.2",))
    signed = _frame(profile)
    kept = unwrap_1609dot2(signed)
    assert isinstance(kept, WrapDrop) and kept.reason is DropReason.SIGNED_UNVERIFIED
    # "auto" framing recognises it as signed data rather than a raw UPER frame
    auto = unwrap(signed, framing="auto")
    assert isinstance(auto, WrapDrop) and auto.reason is DropReason.SIGNED_UNVERIFIED


def test_certificate_chain_is_bounded(pki: dict[str, object]) -> None:
    profile, device = pki["profile"], pki["device"]
    assert isinstance(profile, SecurityProfile) and isinstance(device, Certificate)
    raw = codec.encode_signed(
        profile=profile,
        aid=111,
        payload=BSM,
        signer=[device] * 9,
        sign=lambda tbs: _fake(profile),
    ).raw
    result = codec.decode_secured(raw)
    assert isinstance(result, Rejected) and result.reason is DropReason.CONSTRAINT
    assert "1..8" in result.detail


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from([b"", b"\x03", b"\x03\x80", b"\x03\x81\x02", b"\x03\x81\x00@\x03\x80"]),
    body=st.binary(max_size=200),
)
def test_arbitrary_bytes_never_raise_and_are_classified(head: bytes, body: bytes) -> None:
    result = codec.decode_secured(head + body)
    if isinstance(result, Rejected):
        assert result.reason is not DropReason.INTERNAL_ERROR, result.detail
        assert result.detail
