"""COER codec of the secured data unit and the certificate, both profiles (``cn``, ``intl``).

Our own ASN.1 modules (``security/asn1/cn``: YD/T 3957 / GB/T 45112; ``security/asn1/intl``:
IEEE 1609.2 / ETSI TS 103 097) are compiled once, lazily, through ``codec.compile_asn1``.

Receiving: ``decode_secured(raw)`` gives a ``SignedFrame``, an ``UnsignedFrame`` or a
``codec.Rejected`` naming the ``DropReason`` and the byte where the input broke. The profile
is read from the frame (hash SM3 → ``cn``, SHA-256 → ``intl``) unless the caller fixes it.
A signed frame of the usual shape (payload carried, header with AID, times and location,
signer digest or certificates, the profile's signature) is read by a hand-written parser
(``security._fast``), proved equal to asn1tools on random values; anything else goes through
asn1tools. Certificates met in frames are kept decoded in a bounded cache keyed by their
bytes, so a sender's certificate is decoded once, not per frame.

Sending: ``encode_signed(..., sign=...)`` builds the to-be-signed bytes, hands them to
``sign`` and returns the frame with them; ``encode_unsigned`` wraps a payload unsigned.
Certificates: ``encode_certificate``, ``certificate_tbs`` (what the issuer signs),
``decode_certificate``, and ``hashed_id8`` (low-order 8 octets of SM3/SHA-256 of the COER).

>>> from v2xcloud.security.types import SecurityProfile
>>> frame = decode_secured(encode_unsigned(b"\\x00\\x01"))
>>> frame.payload, frame.profile
(b'\\x00\\x01', None)
>>> decode_secured(b"\\x03\\x81\\x07").reason.value
'unknown_algorithm'
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.codec import Rejected, compile_asn1
from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.failures import FailureLog
from v2xcloud.model import DropReason
from v2xcloud.security import _fast
from v2xcloud.security._convert import (
    NAMES,
    certificate_from_value,
    certificate_to_value,
    location_from_wire,
    location_to_value,
    signature_from_value,
)
from v2xcloud.security._time import time64_from_utc_ms, utc_ms_from_time64
from v2xcloud.security.types import (
    Certificate,
    GenerationLocation,
    HashedId8,
    SecurityProfile,
    Signature,
    SignedFrame,
    UnsignedFrame,
)

__all__ = [
    "ASN1_DIR",
    "CERTIFICATE_CACHE_SIZE",
    "HOSTILE_INPUT",
    "SignedEncoding",
    "certificate_tbs",
    "decode_certificate",
    "decode_secured",
    "encode_certificate",
    "encode_signed",
    "encode_unsigned",
    "hashed_id8",
    "is_canonical_certificate",
    "schema",
]

logger = logging.getLogger(__name__)

ASN1_DIR = Path(__file__).parent / "asn1"
CERTIFICATE_CACHE_SIZE = 4096  # certificates kept decoded (oldest out first)

_CERTS = _fast.CertificateCache(CERTIFICATE_CACHE_SIZE)

#: decoder errors other than asn1tools' own on hostile bytes (asn1tools' OER decoder meets
#: some mutated lengths with ``ValueError: negative shift count`` and the like): each frame is
#: a ``malformed`` rejection, counted here per boundary and logged once per kind, not per frame
HOSTILE_INPUT = FailureLog(logger=logger)


@functools.cache
def schema(profile: SecurityProfile) -> Any:
    """The asn1tools COER specification of ``profile``'s ASN.1 (compiled once, on first use;
    looked up once per profile: listing the files took ~0.5 ms, a fifth of a signature)."""
    files = sorted((ASN1_DIR / profile.value).glob("*.asn"))
    return compile_asn1(f"security-{profile.value}", files, "oer")


def hashed_id8(encoded: bytes, profile: SecurityProfile) -> HashedId8:
    """A certificate's ``HashedId8``: the low-order 8 octets of SM3 (``cn``) or SHA-256
    (``intl``) of its COER encoding.

    >>> hashed_id8(b"abc", SecurityProfile.INTL).hex()  # SHA-256("abc") ends ...
    'b410ff61f20015ad'
    """
    return HashedId8(hashlib.new(profile.hash_name, encoded).digest()[-8:])


# --- receiving ---------------------------------------------------------------------------


def decode_secured(
    raw: bytes, *, profile: SecurityProfile | None = None
) -> SignedFrame | UnsignedFrame | Rejected:
    """Decode one secured data unit (COER ``V2XSecData`` / ``Ieee1609Dot2Data``).

    ``profile`` fixes the expected profile (a signed frame of the other one is rejected as
    ``unknown_algorithm``); ``None`` reads it from the frame. Never raises: bad input is a
    ``Rejected`` with ``empty``, ``truncated``, ``malformed``, ``trailing_bytes``,
    ``wrong_version``, ``unknown_algorithm``, ``unknown_signer`` (a ``self`` or X.509
    signer), ``constraint`` or ``unsupported_message`` (encrypted data, a payload sent
    apart), and ``where`` as ``byte N``. Hostile bytes that make the decoder raise outside
    its own errors are ``malformed`` too, counted in ``HOSTILE_INPUT`` (logged once per kind).
    """
    if not raw:
        return Rejected(
            raw=raw, reason=DropReason.EMPTY, detail="no bytes", message_type="V2XSecData"
        )
    frame = _fast.parse(raw, profile, _CERTS)
    if frame is not None:
        return frame
    try:
        return _decode_slow(raw, profile)
    except DecodeError as exc:
        logger.debug("secured frame rejected: %s", exc)
        return Rejected(
            raw=raw,
            reason=exc.reason,
            detail=exc.detail,
            where=exc.where,
            message_type=exc.message_type,
        )
    except Exception as exc:  # raised past the decoder's own checks: still the input's doing
        HOSTILE_INPUT.record("security:decode_secured", exc, level=logging.WARNING)
        return Rejected(
            raw=raw,
            reason=DropReason.MALFORMED,
            detail=f"secured data unit does not decode ({type(exc).__name__}: {exc})",
            where="$",
            message_type="V2XSecData",
        )


def _decode_at(
    profile: SecurityProfile, type_name: str, raw: bytes, offset: int
) -> tuple[Any, int]:
    """Decode ``type_name`` at ``raw[offset:]``; the value and where it ends.

    asn1tools' OER codec has no ``decode_with_length``; its Decoder counts the bits it has
    read (asn1tools is pinned exactly for that). Errors become ``DecodeError`` at the byte.
    """
    import asn1tools
    from asn1tools.codecs import oer

    decoder = oer.Decoder(bytearray(raw[offset:]))
    try:
        value = schema(profile).types[type_name].type.decode(decoder)
    except asn1tools.Error as exc:
        at = offset + decoder.number_of_read_bits() // 8
        truncated = isinstance(exc, oer.OutOfDataError)
        reason = DropReason.TRUNCATED if truncated else DropReason.MALFORMED
        raise DecodeError(type_name, reason, f"{type_name}: {exc}", where=f"byte {at}") from exc
    except (ValueError, IndexError, OverflowError, TypeError, KeyError) as exc:
        at = offset + decoder.number_of_read_bits() // 8
        HOSTILE_INPUT.record(f"security:decode:{type_name}", exc, level=logging.WARNING)
        detail = f"{type_name}: does not decode ({type(exc).__name__}: {exc})"
        raise DecodeError(type_name, DropReason.MALFORMED, detail, where=f"byte {at}") from exc
    return value, offset + decoder.number_of_read_bits() // 8


def _profile_of(raw: bytes, expected: SecurityProfile | None) -> SecurityProfile:
    by_hash = {names.hash_byte: p for p, names in NAMES.items()}
    found = by_hash.get(raw[2]) if len(raw) > 2 else None
    if len(raw) < 3:
        raise DecodeError("SignedData", DropReason.TRUNCATED, "no hashId", where="byte 2")
    if found is None:
        raise DecodeError(
            "SignedData", DropReason.UNKNOWN_ALGORITHM, f"hashId 0x{raw[2]:02x}", where="byte 2"
        )
    if expected is not None and found is not expected:
        raise DecodeError(
            "SignedData",
            DropReason.UNKNOWN_ALGORITHM,
            f"a {found.value}-profile frame where {expected.value} is expected",
            where="byte 2",
        )
    return found


def _decode_slow(raw: bytes, expected: SecurityProfile | None) -> SignedFrame | UnsignedFrame:
    if raw[0] != 3:
        raise DecodeError(
            "V2XSecData", DropReason.WRONG_VERSION, f"protocolVersion {raw[0]}", where="byte 0"
        )
    if len(raw) > 1 and raw[1] == 0x80:
        return _unsigned_slow(raw, expected)
    if len(raw) > 1 and raw[1] != 0x81:
        profile = expected or SecurityProfile.CN  # both profiles read the content tag alike
        value, end = _decode_at(profile, NAMES[profile].data, raw, 0)
        _no_trailing(raw, end)
        raise DecodeError(
            "V2XSecData",
            DropReason.UNSUPPORTED_MESSAGE,
            f"{value['content'][0]}: no stage reads it",
            where="byte 1",
        )
    profile = _profile_of(raw, expected)
    tbs, tbs_end = _decode_at(profile, "ToBeSignedData", raw, 3)
    chain, signer_end = _signer_slow(raw, tbs_end, profile)
    signature_value, end = _decode_at(profile, "Signature", raw, signer_end)
    _no_trailing(raw, end)
    signature = signature_from_value(signature_value, profile, "SignedData", f"byte {signer_end}")
    return _signed_frame(raw, profile, tbs, tbs_end, chain, signature)


def _unsigned_slow(raw: bytes, expected: SecurityProfile | None) -> UnsignedFrame:
    profile = expected or SecurityProfile.CN
    value, end = _decode_at(profile, NAMES[profile].data, raw, 0)
    _no_trailing(raw, end)
    return UnsignedFrame(profile=expected, payload=value["content"][1], raw=raw)


def _no_trailing(raw: bytes, end: int) -> None:
    if end != len(raw):
        raise DecodeError(
            "V2XSecData",
            DropReason.TRAILING_BYTES,
            f"{len(raw) - end} byte(s) after the secured data unit",
            where=f"byte {end}",
        )


_MAX_CHAIN = 8  # certificates a signer may send (signer, CAs, root: 3 or 4 in practice)


def _signer_slow(
    raw: bytes, at: int, profile: SecurityProfile
) -> tuple[HashedId8 | tuple[Certificate, ...], int]:
    """The signer at ``raw[at]``: a digest, or the certificates (each decoded once, then
    matched in the cache), and where the signer ends."""
    if raw[at : at + 1] != b"\x81":
        signer, end = _decode_at(profile, "SignerIdentifier", raw, at)
        kind, value = signer
        if kind != "digest":
            raise DecodeError(
                "SignerIdentifier",
                DropReason.UNKNOWN_SIGNER,
                f"signer {kind}: no certificate to check",
                where=f"byte {at}",
            )
        return HashedId8(value), end
    count_octets = raw[at + 1] if len(raw) > at + 1 else 0
    pos = at + 2 + count_octets
    count = int.from_bytes(raw[at + 2 : pos], "big")
    if len(raw) < pos or not 0 < count <= _MAX_CHAIN:
        raise DecodeError(
            "SignerIdentifier",
            DropReason.TRUNCATED if len(raw) < pos else DropReason.CONSTRAINT,
            f"certificate count {count}: 1..{_MAX_CHAIN} expected",
            where=f"byte {at + 1}",
        )
    chain = []
    for _ in range(count):
        cert = _CERTS.match(raw, pos)
        if cert is None:
            cert = _certificate_at(raw, pos, profile)
            _CERTS.add(cert)
        chain.append(cert)
        pos += len(cert.encoded)
    return tuple(chain), pos


def _certificate_at(raw: bytes, pos: int, profile: SecurityProfile) -> Certificate:
    """The certificate at ``raw[pos]``, decoded part by part so that the exact bytes of the
    whole and of its toBeSigned are known: preamble (is a signature present), version and
    type (one octet each), issuer, toBeSigned, signature."""
    where = f"byte {pos}"
    if len(raw) < pos + 4:
        raise DecodeError("Certificate", DropReason.TRUNCATED, "certificate header", where=where)
    preamble, version, kind = raw[pos], raw[pos + 1], raw[pos + 2]
    if version != 3:
        raise DecodeError(
            "Certificate", DropReason.WRONG_VERSION, f"version {version}", where=where
        )
    if kind != 0:
        raise DecodeError(
            "Certificate", DropReason.UNKNOWN_ALGORITHM, "not an explicit certificate", where=where
        )
    issuer, tbs_start = _decode_at(profile, "IssuerIdentifier", raw, pos + 3)
    tbs, end = _decode_at(profile, "ToBeSignedCertificate", raw, tbs_start)
    value: dict[str, Any] = {
        "version": version,
        "type": "explicit",
        "issuer": issuer,
        "toBeSigned": tbs,
    }
    tbs_end = end
    if preamble & 0x80:
        value["signature"], end = _decode_at(profile, "Signature", raw, tbs_end)
    encoded = bytes(raw[pos:end])
    return certificate_from_value(
        value,
        profile,
        encoded=encoded,
        tbs_bytes=bytes(raw[tbs_start:tbs_end]),
        digest=hashed_id8(encoded, profile),
        where=where,
    )


def _signed_frame(
    raw: bytes,
    profile: SecurityProfile,
    tbs: dict[str, Any],
    tbs_end: int,
    signer: HashedId8 | tuple[Certificate, ...],
    signature: Signature,
) -> SignedFrame:
    names = NAMES[profile]
    data = tbs["payload"].get("data")
    if data is None:
        raise DecodeError(
            "SignedDataPayload",
            DropReason.UNSUPPORTED_MESSAGE,
            "payload not carried (external data hash)",
            where="byte 3",
        )
    if data["protocolVersion"] != 3:
        raise DecodeError(
            "SignedDataPayload",
            DropReason.WRONG_VERSION,
            f"inner protocolVersion {data['protocolVersion']}",
            where="byte 4",
        )
    kind, payload = data["content"]
    if kind != "unsecuredData":
        raise DecodeError(
            "SignedDataPayload",
            DropReason.UNSUPPORTED_MESSAGE,
            f"inner {kind}: no stage reads it",
            where="byte 5",
        )
    header = tbs["headerInfo"]
    gen_us = header.get("generationTime")
    exp_us = header.get("expiryTime")
    loc = header.get("generationLocation")
    return SignedFrame(
        profile=profile,
        aid=header[names.aid],
        generation_time_us=gen_us,
        generation_time_ms=None if gen_us is None else utc_ms_from_time64(gen_us),
        expiry_time_us=exp_us,
        expiry_time_ms=None if exp_us is None else utc_ms_from_time64(exp_us),
        generation_location=None
        if loc is None
        else location_from_wire(loc["latitude"], loc["longitude"], loc["elevation"]),
        signer_digest=signer if isinstance(signer, HashedId8) else _digest(signer[0]),
        signer_chain=() if isinstance(signer, HashedId8) else signer,
        signature=signature,
        tbs_bytes=bytes(raw[3:tbs_end]),
        payload=bytes(payload),
        raw=raw,
    )


def _digest(cert: Certificate) -> HashedId8:
    assert cert.digest is not None  # set by _certificate_at
    return cert.digest


# --- sending -----------------------------------------------------------------------------


class SignedEncoding(msgspec.Struct, frozen=True, kw_only=True):
    """A signed frame as sent (``raw``) and the to-be-signed bytes its signature covers."""

    raw: bytes
    tbs_bytes: bytes


def encode_unsigned(payload: bytes) -> bytes:
    """Wrap a UPER MessageFrame as an unsecured data unit (the same bytes in both profiles)."""
    return bytes([3, 0x80]) + _length(len(payload)) + payload


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = (n.bit_length() + 7) // 8
    return bytes([0x80 | octets]) + n.to_bytes(octets, "big")


def encode_signed(
    *,
    profile: SecurityProfile,
    aid: int,
    payload: bytes,
    signer: HashedId8 | Sequence[Certificate],
    sign: Callable[[bytes], Signature],
    generation_time_ms: int | None = None,
    generation_time_us: int | None = None,
    expiry_time_ms: int | None = None,
    generation_location: GenerationLocation | None = None,
) -> SignedEncoding:
    """Sign ``payload`` (a UPER MessageFrame) for application ``aid``.

    ``signer`` is the signing certificate's ``HashedId8`` (digest form) or the certificates
    to send (the signer's first; each as decoded, with its ``encoded`` bytes). Generation
    time: ``generation_time_us`` (Time64 as is) or ``generation_time_ms`` (UTC). ``sign``
    receives the COER to-be-signed bytes and returns the signature of the profile's
    algorithm. Raises ``EncodeError`` for a value the profile cannot carry.
    """
    names = NAMES[profile]
    if generation_time_us is None and generation_time_ms is not None:
        generation_time_us = time64_from_utc_ms(generation_time_ms)
    expiry_us = None if expiry_time_ms is None else time64_from_utc_ms(expiry_time_ms)
    for what, value, top in (
        ("aid", aid, 2**64),
        ("generation time", generation_time_us, 2**64),
        ("expiry time", expiry_us, 2**64),
    ):
        if value is not None and not 0 <= value < top:
            raise EncodeError("HeaderInfo", f"{what} {value} outside 0..2^64-1")
    location = None
    if generation_location is not None:
        point = location_to_value(generation_location)
        location = (point["latitude"], point["longitude"], point["elevation"])
    tbs = _fast.encode_tbs(payload, aid, generation_time_us, expiry_us, location)
    signature = sign(tbs)
    if signature.algorithm is not names.algorithm:
        raise EncodeError("Signature", f"{signature.algorithm} in the {profile.value} profile")
    if len(signature.r) != 32 or len(signature.s) != 32:
        raise EncodeError("Signature", "r and s are 32 bytes each")
    body = _fast.encode_signature(signature)
    raw = bytes([3, 0x81, names.hash_byte]) + tbs + _signer_bytes(signer, profile) + body
    return SignedEncoding(raw=raw, tbs_bytes=tbs)


def _signer_bytes(signer: HashedId8 | Sequence[Certificate], profile: SecurityProfile) -> bytes:
    if isinstance(signer, HashedId8):
        return b"\x80" + signer.value
    if not signer:
        raise EncodeError(
            "SignerIdentifier", "no certificate given; pass a HashedId8 or certificates"
        )
    for cert in signer:
        if not cert.encoded or cert.profile is not profile:
            raise EncodeError(
                "SignerIdentifier",
                "certificates must be decoded ones of the same profile (encoded bytes kept)",
            )
    count = len(signer).to_bytes((len(signer).bit_length() + 7) // 8, "big")
    return b"\x81" + bytes([len(count)]) + count + b"".join(c.encoded for c in signer)


# --- certificates ------------------------------------------------------------------------


def certificate_tbs(cert: Certificate) -> bytes:
    """The COER ``ToBeSignedCertificate`` of ``cert``: the bytes its issuer signs.

    Raises ``EncodeError`` when a field cannot be carried (say a validity length that is
    no whole count of the standard's units)."""
    value = certificate_to_value(cert)
    try:
        return bytes(
            schema(cert.profile).encode(
                "ToBeSignedCertificate", value["toBeSigned"], check_constraints=True
            )
        )
    except EncodeError:
        raise
    except Exception as exc:
        raise EncodeError("ToBeSignedCertificate", str(exc)) from exc


def encode_certificate(cert: Certificate) -> bytes:
    """The COER bytes of a signed certificate (``cert.signature`` must be set).

    ``decode_certificate(encode_certificate(c))`` gives ``c`` with ``encoded``,
    ``tbs_bytes`` and ``digest`` filled."""
    if cert.signature is None:
        raise EncodeError("Certificate", "unsigned: sign certificate_tbs(cert) and set signature")
    try:
        return bytes(
            schema(cert.profile).encode(
                "Certificate", certificate_to_value(cert), check_constraints=True
            )
        )
    except EncodeError:
        raise
    except Exception as exc:
        raise EncodeError("Certificate", str(exc)) from exc


def is_canonical_certificate(cert: Certificate) -> bool:
    """Whether ``cert.encoded`` is the one COER encoding of the ASN.1 value it carries
    (decoded and encoded again by the full schema, every field kept: also those the domain
    type does not model, such as a CA's encryption key or SSP ranges). COER is canonical, but
    a lenient decoder reads padding bits and some lengths loosely; a copy with such a change
    would be the same certificate under a second digest."""
    spec = schema(cert.profile)
    try:
        again = spec.encode("Certificate", spec.decode("Certificate", cert.encoded))
    except Exception as exc:  # asn1tools refuses the value: not canonical either
        logger.debug("certificate %s does not re-encode: %s", cert.digest, exc)
        return False
    return bytes(again) == cert.encoded


def decode_certificate(raw: bytes, *, profile: SecurityProfile) -> Certificate:
    """Decode one COER certificate of ``profile`` (exactly ``raw``, nothing after it).

    Raises ``DecodeError`` (reason ``truncated``, ``malformed``, ``trailing_bytes``,
    ``wrong_version``, ``unknown_algorithm``; ``where`` the byte)."""
    cert = _certificate_at(raw, 0, profile)
    if len(cert.encoded) != len(raw):
        raise DecodeError(
            "Certificate",
            DropReason.TRAILING_BYTES,
            f"{len(raw) - len(cert.encoded)} byte(s) after the certificate",
            where=f"byte {len(cert.encoded)}",
        )
    return cert
