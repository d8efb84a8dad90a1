"""A hand-written COER reader (and writer) for the usual signed frame, 20-30 times faster than
asn1tools.

It reads exactly this shape and returns ``None`` for anything else (the caller then decodes
with asn1tools, which also names what is wrong)::

    03 81 <hashId: 02 sm3 | 00 sha256>                        V2XSecData / Ieee1609Dot2Data
    ToBeSignedData:
      40 03 80 <len> <UPER MessageFrame>                      payload: data, unsecuredData
      <preamble: only generationTime/expiryTime/location bits> headerInfo (no extensions)
      <aid: 1..4 octets, length first> [Time64] [Time64] [lat lon elev]
    80 <HashedId8>  |  81 <count> <certificate>...            signer (certificates known)
    84 40 <r 32> <s 32>                                       SM2 (cn)
    80 <80|82|83 x 32 | 84 x 32 y 32> <s 32>                  ECDSA-P256 (intl)

Certificates are matched against a bounded cache of certificates already decoded (COER is
prefix-free, so bytes that start with a known certificate's encoding are that certificate).
"""

from __future__ import annotations

import threading

from v2xcloud.security._convert import location_from_wire
from v2xcloud.security._time import utc_ms_from_time64
from v2xcloud.security.types import (
    Certificate,
    HashedId8,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
    SignedFrame,
    UnsignedFrame,
)

__all__ = ["CertificateCache", "encode_signature", "encode_tbs", "parse"]

_KEY = 24  # octets of a certificate's start that key the cache
_CN = SecurityProfile.CN
_INTL = SecurityProfile.INTL
_SM2 = SignatureAlgorithm.SM2_SM3
_P256 = SignatureAlgorithm.ECDSA_P256_SHA256


class CertificateCache:
    """Decoded certificates by their first octets; at most ``capacity``, oldest out first.

    Safe to share between threads: adding takes a lock; a lookup that races an eviction may
    miss, and the caller then decodes the certificate again."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._by_start: dict[bytes, list[Certificate]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def match(self, raw: bytes, pos: int) -> Certificate | None:
        """The cached certificate whose whole encoding starts at ``raw[pos]``, if any."""
        for cert in self._by_start.get(raw[pos : pos + _KEY], ()):
            if raw.startswith(cert.encoded, pos):
                return cert
        return None

    def add(self, cert: Certificate) -> None:
        """Keep ``cert`` (a decoded one, ``encoded`` set); evicts the oldest when full."""
        key = cert.encoded[:_KEY]
        with self._lock:
            bucket = self._by_start.setdefault(key, [])
            if any(c.encoded == cert.encoded for c in bucket):
                return
            if self._count >= self.capacity:
                self._evict_oldest()
                bucket = self._by_start.setdefault(key, [])  # evicting may drop this bucket
            bucket.append(cert)
            self._count += 1

    def _evict_oldest(self) -> None:
        oldest_key = next(iter(self._by_start))
        bucket = self._by_start[oldest_key]
        bucket.pop(0)
        self._count -= 1
        if not bucket:
            del self._by_start[oldest_key]


def _length(raw: bytes, p: int) -> tuple[int, int]:
    first = raw[p]
    if first < 0x80:
        return first, p + 1
    octets = first & 0x7F
    if octets == 0 or octets > 2:
        raise IndexError  # not this parser's business: asn1tools reports it
    return int.from_bytes(raw[p + 1 : p + 1 + octets], "big"), p + 1 + octets


def parse(
    raw: bytes, expected: SecurityProfile | None, certs: CertificateCache
) -> SignedFrame | UnsignedFrame | None:
    """The frame, or ``None`` when ``raw`` is not of the shape above (or is broken)."""
    try:
        if raw[0] != 3:
            return None
        if raw[1] == 0x80:
            size, p = _length(raw, 2)
            if p + size != len(raw):
                return None
            return UnsignedFrame(profile=expected, payload=raw[p:], raw=raw)
        if raw[1] == 0x81:
            return _signed(raw, expected, certs)
    except (IndexError, ValueError):  # short input: asn1tools says where it broke
        return None
    return None


def _signed(
    raw: bytes, expected: SecurityProfile | None, certs: CertificateCache
) -> SignedFrame | None:
    hash_id = raw[2]
    profile = _CN if hash_id == 2 else _INTL if hash_id == 0 else None
    if profile is None or (expected is not None and profile is not expected):
        return None
    if raw[3] != 0x40 or raw[4] != 3 or raw[5] != 0x80:
        return None
    size, p = _length(raw, 6)
    payload = raw[p : p + size]
    p += size
    flags = raw[p]
    if flags & 0x8F:  # header extensions or fields this reader leaves to asn1tools
        return None
    aid_octets = raw[p + 1]
    if not 0 < aid_octets <= 4:
        return None
    p += 2 + aid_octets
    aid = int.from_bytes(raw[p - aid_octets : p], "big")
    gen_us = exp_us = None
    location = None
    if flags & 0x40:
        gen_us = int.from_bytes(raw[p : p + 8], "big")
        p += 8
    if flags & 0x20:
        exp_us = int.from_bytes(raw[p : p + 8], "big")
        p += 8
    if flags & 0x10:
        location = location_from_wire(
            int.from_bytes(raw[p : p + 4], "big", signed=True),
            int.from_bytes(raw[p + 4 : p + 8], "big", signed=True),
            int.from_bytes(raw[p + 8 : p + 10], "big"),
        )
        p += 10
    tbs_end = p
    chain: tuple[Certificate, ...] = ()
    signer_tag = raw[p]
    if signer_tag == 0x80:
        digest = HashedId8(raw[p + 1 : p + 9])
        p += 9
    elif signer_tag == 0x81:
        chain, p = _chain(raw, p + 1, profile, certs)
        if not chain or chain[0].digest is None:
            return None
        digest = chain[0].digest
    else:
        return None
    signature, p = _signature(raw, p, profile)
    if signature is None or p != len(raw) or len(payload) != size:
        return None
    return SignedFrame(
        profile=profile,
        aid=aid,
        generation_time_us=gen_us,
        generation_time_ms=None if gen_us is None else utc_ms_from_time64(gen_us),
        expiry_time_us=exp_us,
        expiry_time_ms=None if exp_us is None else utc_ms_from_time64(exp_us),
        generation_location=location,
        signer_digest=digest,
        signer_chain=chain,
        signature=signature,
        tbs_bytes=raw[3:tbs_end],
        payload=payload,
        raw=raw,
    )


def _chain(
    raw: bytes, p: int, profile: SecurityProfile, certs: CertificateCache
) -> tuple[tuple[Certificate, ...], int]:
    count_octets = raw[p]
    if not 0 < count_octets <= 2:
        return (), p
    count = int.from_bytes(raw[p + 1 : p + 1 + count_octets], "big")
    p += 1 + count_octets
    chain = []
    for _ in range(count):
        cert = certs.match(raw, p)
        if cert is None or cert.profile is not profile:
            return (), p
        chain.append(cert)
        p += len(cert.encoded)
    return tuple(chain), p


def _signature(raw: bytes, p: int, profile: SecurityProfile) -> tuple[Signature | None, int]:
    if profile is _CN:
        if raw[p] != 0x84 or raw[p + 1] != 0x40:
            return None, p
        return Signature(algorithm=_SM2, r=raw[p + 2 : p + 34], s=raw[p + 34 : p + 66]), p + 66
    if raw[p] != 0x80:
        return None, p
    form = raw[p + 1]
    if form in (0x80, 0x82, 0x83):
        r_end = p + 34
    elif form == 0x84:
        r_end = p + 66
    else:
        return None, p
    return Signature(algorithm=_P256, r=raw[p + 2 : p + 34], s=raw[r_end : r_end + 32]), r_end + 32


def _coer_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = (n.bit_length() + 7) // 8
    return bytes([0x80 | octets]) + n.to_bytes(octets, "big")


def encode_tbs(
    payload: bytes,
    aid: int,
    generation_us: int | None,
    expiry_us: int | None,
    location: tuple[int, int, int] | None,
) -> bytes:
    """The COER ToBeSignedData of the shape above (the caller has checked every range):
    ``location`` is latitude and longitude in 1/10 µdegree and the ElevInt."""
    flags = 0
    parts = [b""]
    aid_octets = max(1, (aid.bit_length() + 7) // 8)
    parts.append(bytes([aid_octets]) + aid.to_bytes(aid_octets, "big"))
    if generation_us is not None:
        flags |= 0x40
        parts.append(generation_us.to_bytes(8, "big"))
    if expiry_us is not None:
        flags |= 0x20
        parts.append(expiry_us.to_bytes(8, "big"))
    if location is not None:
        flags |= 0x10
        lat, lon, elevation = location
        parts.append(
            lat.to_bytes(4, "big", signed=True)
            + lon.to_bytes(4, "big", signed=True)
            + elevation.to_bytes(2, "big")
        )
    parts[0] = b"\x40\x03\x80" + _coer_length(len(payload)) + payload + bytes([flags])
    return b"".join(parts)


def encode_signature(signature: Signature) -> bytes:
    """The COER Signature: SM2 as the ``sm2Signature`` extension, ECDSA with ``r`` x-only."""
    if signature.algorithm is _SM2:
        return b"\x84\x40" + signature.r + signature.s
    return b"\x80\x80" + signature.r + signature.s
