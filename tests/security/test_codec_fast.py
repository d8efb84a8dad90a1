"""The hand-written reader of signed frames (``security._fast``) agrees with asn1tools.

Whatever the bytes — random signed frames of the usual shape, random values of the whole
secured data unit drawn from our ASN.1, and valid frames with bytes changed or cut — the
fast reader either declines (``None``: asn1tools decodes) or gives exactly the frame the
asn1tools path gives. Frames of the usual shape must be read by the fast reader.
"""

from __future__ import annotations

from typing import Any

import asn1tools
import pytest
from _asn1_values import ValueStrategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.codec import Rejected
from v2xcloud.errors import DecodeError
from v2xcloud.security import _fast, codec
from v2xcloud.security._convert import NAMES, signature_to_value
from v2xcloud.security._time import EPOCH_2004_MS
from v2xcloud.security.types import (
    AppPermission,
    Certificate,
    GenerationLocation,
    HashedId8,
    IssuePermission,
    PublicKey,
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
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
T0 = 1_767_225_600_000


def _slow(raw: bytes) -> SignedFrame | UnsignedFrame | Rejected:
    try:
        return codec._decode_slow(raw, None)
    except DecodeError as exc:
        return Rejected(raw=raw, reason=exc.reason, detail=exc.detail, where=exc.where)


def _agree(raw: bytes, cache: _fast.CertificateCache) -> bool:
    """Assert the fast reader declines or equals asn1tools; True when it read the frame."""
    fast = _fast.parse(raw, None, cache)
    if fast is None:
        return False
    assert fast == _slow(raw)
    return True


def _certificate(profile: SecurityProfile, subject: bytes, issuer: HashedId8 | None) -> Certificate:
    algorithm = PROFILES[profile]
    cert = Certificate(
        profile=profile,
        subject_id=subject,
        issuer=issuer,
        verification_key=PublicKey(algorithm=algorithm, point=b"\x03" + subject[:1] * 32),
        validity_start_ms=T0,
        validity_end_ms=T0 + 86_400_000,
        app_permissions=(AppPermission(aid=32),) if issuer else (),
        issue_permissions=() if issuer else (IssuePermission(),),
        signature=Signature(algorithm=algorithm, r=b"\x01" * 32, s=b"\x02" * 32),
    )
    return codec.decode_certificate(codec.encode_certificate(cert), profile=profile)


@st.composite
def usual_frames(draw: st.DrawFn) -> bytes:
    """Signed frames of the shape the fast reader handles (and some just past its edges)."""
    profile = draw(st.sampled_from(list(PROFILES)))
    location = draw(
        st.none()
        | st.builds(
            GenerationLocation,
            lat_deg=st.integers(-900_000_000, 900_000_000).map(lambda v: v / 1e7),
            lon_deg=st.integers(-1_799_999_999, 1_800_000_000).map(lambda v: v / 1e7),
            elevation_m=st.none() | st.integers(-4095, 0xEFFF).map(lambda v: v / 10),
        )
    )
    if draw(st.booleans()):
        signer: HashedId8 | list[Certificate] = HashedId8(draw(st.binary(min_size=8, max_size=8)))
    else:
        root = _certificate(profile, b"root", None)
        chain = [_certificate(profile, draw(st.binary(min_size=1, max_size=20)), root.digest)]
        signer = [*chain, root] if draw(st.booleans()) else chain
    r, s = draw(st.binary(min_size=32, max_size=32)), draw(st.binary(min_size=32, max_size=32))
    return codec.encode_signed(
        profile=profile,
        aid=draw(st.integers(0, 2**40)),  # past 4 octets: asn1tools reads it
        payload=draw(st.binary(min_size=0, max_size=300)),
        signer=signer,
        sign=lambda tbs: Signature(algorithm=PROFILES[profile], r=r, s=s),
        generation_time_us=draw(st.none() | st.integers(0, 2**64 - 1)),
        expiry_time_ms=draw(st.none() | st.integers(EPOCH_2004_MS, T0 * 2)),
        generation_location=location,
    ).raw


@SETTINGS
@given(raw=usual_frames())
def test_usual_frames_are_read_fast_and_equal_asn1tools(raw: bytes) -> None:
    cache = _fast.CertificateCache(64)
    slow = _slow(raw)
    assert isinstance(slow, SignedFrame)
    for cert in slow.signer_chain:
        cache.add(cert)
    is_fast = _agree(raw, cache)
    assert is_fast or slow.aid >= 2**32  # only a long AID is left to asn1tools


@SETTINGS
@given(raw=usual_frames(), data=st.data())
def test_changed_or_cut_frames_agree(raw: bytes, data: st.DataObject) -> None:
    cache = _fast.CertificateCache(64)
    slow = _slow(raw)
    assert isinstance(slow, SignedFrame)
    for cert in slow.signer_chain:
        cache.add(cert)
    at = data.draw(st.integers(0, len(raw) - 1), label="at")
    changed = raw[:at] + bytes([data.draw(st.integers(0, 255), label="byte")]) + raw[at + 1 :]
    _agree(changed, cache)
    _agree(raw[:at], cache)
    _agree(raw + data.draw(st.binary(min_size=1, max_size=3), label="extra"), cache)


@pytest.fixture(scope="module")
def our_values() -> dict[SecurityProfile, tuple[str, ValueStrategies]]:
    out = {}
    for profile in PROFILES:
        files = sorted(str(p) for p in (codec.ASN1_DIR / profile.value).glob("*.asn"))
        tree = asn1tools.compile_files(files, "uper")
        out[profile] = (NAMES[profile].data, ValueStrategies(tree, lowest_unbounded=0))
    return out


@pytest.mark.parametrize("profile", list(PROFILES), ids=lambda p: p.value)
@SETTINGS
@given(data=st.data())
def test_any_secured_data_unit_agrees(
    profile: SecurityProfile,
    data: st.DataObject,
    our_values: dict[SecurityProfile, tuple[str, Any]],
) -> None:
    type_name, values = our_values[profile]
    value = data.draw(values.for_type(type_name), label=type_name)
    raw = bytes(codec.schema(profile).encode(type_name, value))
    _agree(raw, _fast.CertificateCache(8))


_FAST_FIELDS = {"generationTime", "expiryTime", "generationLocation"}


@pytest.mark.parametrize("profile", list(PROFILES), ids=lambda p: p.value)
@SETTINGS
@given(data=st.data())
def test_any_header_agrees_and_plain_headers_are_read_fast(
    profile: SecurityProfile,
    data: st.DataObject,
    our_values: dict[SecurityProfile, tuple[str, Any]],
) -> None:
    names = NAMES[profile]
    spec = codec.schema(profile)
    header = data.draw(our_values[profile][1].for_type("HeaderInfo"), label="HeaderInfo")
    inner = {"protocolVersion": 3, "content": ("unsecuredData", data.draw(st.binary()))}
    tbs = bytes(spec.encode("ToBeSignedData", {"payload": {"data": inner}, "headerInfo": header}))
    signature = Signature(algorithm=PROFILES[profile], r=b"\x05" * 32, s=b"\x06" * 32)
    raw = (
        bytes([3, 0x81, names.hash_byte])
        + tbs
        + b"\x80"
        + bytes(range(8))
        + bytes(spec.encode("Signature", signature_to_value(signature, profile)))
    )
    slow = _slow(raw)
    assert isinstance(slow, SignedFrame) and slow.tbs_bytes == tbs
    is_fast = _agree(raw, _fast.CertificateCache(8))
    plain = set(header) - {names.aid} <= _FAST_FIELDS and header[names.aid] < 2**32
    assert is_fast == plain


@SETTINGS
@given(
    profile=st.sampled_from(list(PROFILES)),
    payload=st.binary(max_size=400),
    aid=st.integers(0, 2**64 - 1),
    times=st.tuples(*[st.none() | st.integers(0, 2**64 - 1)] * 2),
    location=st.none()
    | st.tuples(
        st.integers(-900_000_000, 900_000_001),
        st.integers(-1_799_999_999, 1_800_000_001),
        st.integers(0, 0xFFFF),
    ),
    r=st.binary(min_size=32, max_size=32),
)
def test_fast_writer_gives_asn1tools_bytes(
    profile: SecurityProfile,
    payload: bytes,
    aid: int,
    times: tuple[int | None, int | None],
    location: tuple[int, int, int] | None,
    r: bytes,
) -> None:
    spec = codec.schema(profile)
    header: dict[str, Any] = {NAMES[profile].aid: aid}
    for name, value in zip(("generationTime", "expiryTime"), times, strict=True):
        if value is not None:
            header[name] = value
    if location is not None:
        header["generationLocation"] = dict(
            zip(("latitude", "longitude", "elevation"), location, strict=True)
        )
    inner = {"protocolVersion": 3, "content": ("unsecuredData", payload)}
    value = {"payload": {"data": inner}, "headerInfo": header}
    assert _fast.encode_tbs(payload, aid, *times, location) == spec.encode("ToBeSignedData", value)
    signature = Signature(algorithm=PROFILES[profile], r=r, s=r[::-1])
    expected = spec.encode("Signature", signature_to_value(signature, profile))
    assert _fast.encode_signature(signature) == expected


@pytest.mark.parametrize("shared_start", [False, True])
def test_certificate_cache_is_bounded_and_keeps_the_newest(shared_start: bool) -> None:
    profile = SecurityProfile.INTL
    root = _certificate(profile, b"root", None)
    prefix = b"a-long-common-subject-prefix-" if shared_start else b""
    certs = [_certificate(profile, prefix + bytes([65 + i]) * 3, root.digest) for i in range(6)]
    assert (len({c.encoded[:24] for c in certs}) == 1) is shared_start
    cache = _fast.CertificateCache(3)
    for cert in certs:
        cache.add(cert)
        cache.add(cert)  # twice: kept once
    assert len(cache) == 3
    frame = b"\x00" + certs[-1].encoded + b"\x00"
    assert cache.match(frame, 1) == certs[-1]
    assert cache.match(b"\x00" + certs[0].encoded, 1) is None  # the oldest went first
    assert cache.match(frame[:-10], 1) is None  # cut short: not that certificate
    assert sum(cache.match(c.encoded, 0) is not None for c in certs) == 3
    single = _fast.CertificateCache(1)  # evicting empties the very bucket the new one joins
    single.add(certs[0])
    single.add(certs[1])
    assert len(single) == 1 and single.match(certs[1].encoded, 0) == certs[1]
