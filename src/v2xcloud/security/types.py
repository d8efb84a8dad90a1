"""Domain types of secured C-V2X messages and certificates: frozen, SI/UTC units, no wire details.

Two profiles share these types: ``cn`` (YD/T 3957-2021 / GB/T 45112-2024: SM2 signatures, SM3
hashes, AIDs) and ``intl`` (IEEE 1609.2 / ETSI TS 103 097: ECDSA-P256, SHA-256, PSIDs). The COER
encoding, time epochs, scaled coordinates and CHOICE names live in ``security.codec`` only.

Times: ``*_ms`` are UTC milliseconds since 1970; ``*_us`` fields named ``..._time_us`` are the
standard's own Time64 (microseconds since 2004-01-01 00:00:00 UTC counted in TAI seconds, i.e.
leap seconds since 2004 included), kept beside the UTC value because replay detection and
signatures work on the exact wire value. Positions are WGS-84 degrees, elevations and radii
metres.

>>> d = HashedId8(bytes.fromhex("0102030405060708"))
>>> d.hex()
'0102030405060708'
>>> SignatureAlgorithm.SM2_SM3.profile
<SecurityProfile.CN: 'cn'>
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

__all__ = [
    "AppPermission",
    "Certificate",
    "CircularRegion",
    "CountryRegions",
    "GenerationLocation",
    "GeoPoint",
    "HashedId8",
    "IdentifiedRegion",
    "IssuePermission",
    "PolygonalRegion",
    "PublicKey",
    "Rectangle",
    "RectangularRegion",
    "Region",
    "SecurityProfile",
    "Signature",
    "SignatureAlgorithm",
    "SignedFrame",
    "UnsignedFrame",
]


class SecurityProfile(StrEnum):
    """Which standard family a secured frame or certificate follows."""

    CN = "cn"  # YD/T 3957-2021 / GB/T 45112-2024: SM2 + SM3, AID
    INTL = "intl"  # IEEE 1609.2 / ETSI TS 103 097: ECDSA-P256 + SHA-256, PSID

    @property
    def hash_name(self) -> str:
        """The hash of the profile (``"sm3"`` or ``"sha256"``, OpenSSL/hashlib names)."""
        return "sm3" if self is SecurityProfile.CN else "sha256"


class SignatureAlgorithm(StrEnum):
    """A signature algorithm with its hash; shared by the codec and ``security.crypto``."""

    SM2_SM3 = "sm2-sm3"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"

    @property
    def profile(self) -> SecurityProfile:
        """The profile whose certificates and frames use this algorithm."""
        return SecurityProfile.CN if self is SignatureAlgorithm.SM2_SM3 else SecurityProfile.INTL


class HashedId8(msgspec.Struct, frozen=True):
    """A certificate's short id: the low-order 8 octets of its hash.

    Computed over the COER encoding of the whole certificate with SM3 (``cn``) or SHA-256
    (``intl``); ``security.codec.hashed_id8`` computes it. Hashable, so it keys caches.

    Raises ``ValueError`` when ``value`` is not 8 bytes.
    """

    value: bytes

    def __post_init__(self) -> None:
        if len(self.value) != 8:
            raise ValueError(f"HashedId8 needs 8 bytes, got {len(self.value)}")

    def hex(self) -> str:
        """Lower-case hex of the 8 bytes."""
        return self.value.hex()


class PublicKey(msgspec.Struct, frozen=True, kw_only=True):
    """A verification key: its algorithm and the curve point in SEC1 form.

    ``point`` is 65 bytes uncompressed (``04 || x || y``) or 33 bytes compressed
    (``02``/``03 || x``), as OpenSSL and ``cryptography`` take it.
    """

    algorithm: SignatureAlgorithm
    point: bytes


class Signature(msgspec.Struct, frozen=True, kw_only=True):
    """An ECDSA-P256 or SM2 signature as its two 32-byte integers ``r`` and ``s`` (big-endian).

    (On the wire an ECDSA ``r`` may be sent as a compressed point; the codec keeps its x, which
    is the integer the verification uses.)
    """

    algorithm: SignatureAlgorithm
    r: bytes
    s: bytes


class GeoPoint(msgspec.Struct, frozen=True):
    """A WGS-84 position in degrees (1e-7 degree resolution on the wire)."""

    lat_deg: float
    lon_deg: float


class GenerationLocation(msgspec.Struct, frozen=True, kw_only=True):
    """Where a signed frame was generated; ``elevation_m`` is ``None`` when unavailable."""

    lat_deg: float
    lon_deg: float
    elevation_m: float | None = None


class CircularRegion(msgspec.Struct, frozen=True, kw_only=True, tag="circular"):
    """All points within ``radius_m`` metres (0..65535) of ``center``."""

    center: GeoPoint
    radius_m: float


class Rectangle(msgspec.Struct, frozen=True, kw_only=True):
    """A latitude/longitude box from its north-west to its south-east corner."""

    north_west: GeoPoint
    south_east: GeoPoint


class RectangularRegion(msgspec.Struct, frozen=True, kw_only=True, tag="rectangular"):
    """The union of one or more rectangles."""

    rectangles: tuple[Rectangle, ...]


class PolygonalRegion(msgspec.Struct, frozen=True, kw_only=True, tag="polygonal"):
    """A polygon of at least three vertices, closed implicitly (last back to first)."""

    vertices: tuple[GeoPoint, ...]


class CountryRegions(msgspec.Struct, frozen=True, kw_only=True):
    """One identified area: a country (UN M.49 code); optionally regions in it, and
    optionally subregions per region (``subregions`` maps region → subregion codes).

    Exactly one of ``regions`` / ``subregions`` may be non-empty; neither means the whole country.
    """

    country: int
    regions: tuple[int, ...] = ()
    subregions: tuple[tuple[int, tuple[int, ...]], ...] = ()


class IdentifiedRegion(msgspec.Struct, frozen=True, kw_only=True, tag="identified"):
    """The union of identified areas (countries, their regions or subregions)."""

    areas: tuple[CountryRegions, ...]


Region = CircularRegion | RectangularRegion | PolygonalRegion | IdentifiedRegion
"""Where a certificate allows its holder to sign: the four regions both profiles define."""


class AppPermission(msgspec.Struct, frozen=True, kw_only=True):
    """One application a certificate may sign for: an AID (``cn``) or PSID (``intl``), and its
    service-specific permissions (``ssp``, ``None`` when absent; ``is_bitmap_ssp`` tells the
    bitmap form from the opaque one)."""

    aid: int
    ssp: bytes | None = None
    is_bitmap_ssp: bool = False


class IssuePermission(msgspec.Struct, frozen=True, kw_only=True):
    """What a CA certificate may issue: the AIDs (``None``: all), the chain length it may
    start (``min_chain_length`` .. ``min_chain_length + chain_length_range``, -1 range:
    unbounded) and for which end-entity kinds (application and/or enrolment certificates)."""

    aids: tuple[int, ...] | None = None
    min_chain_length: int = 1
    chain_length_range: int = 0
    is_app: bool = True
    is_enroll: bool = False


class Certificate(msgspec.Struct, frozen=True, kw_only=True):
    """An explicit certificate of either profile.

    ``subject_name`` / ``subject_id`` name the holder (a host name, or binary id such as a
    pseudonym's; both ``None`` when the certificate carries no id). ``issuer`` is the issuing
    certificate's ``HashedId8``, ``None`` for a self-signed (root) certificate.
    ``validity_start_ms`` / ``validity_end_ms`` are UTC ms (start inclusive, end exclusive,
    whole seconds on the wire). ``app_permissions`` is what the holder may sign,
    ``issue_permissions`` what a CA may issue (a certificate needs one of the two).
    ``craca_id`` (3 bytes) and ``crl_series`` say which revocation list covers it.

    ``encoded`` (the exact COER bytes), ``tbs_bytes`` (the to-be-signed part the issuer's
    signature covers) and ``digest`` are filled by ``security.codec.decode_certificate``
    and empty/``None`` on a certificate built in code before it is encoded.
    """

    profile: SecurityProfile
    subject_name: str | None = None
    subject_id: bytes | None = None
    issuer: HashedId8 | None
    verification_key: PublicKey
    validity_start_ms: int
    validity_end_ms: int
    region: Region | None = None
    app_permissions: tuple[AppPermission, ...] = ()
    issue_permissions: tuple[IssuePermission, ...] = ()
    assurance_level: int | None = None
    craca_id: bytes = b"\x00\x00\x00"
    crl_series: int = 0
    signature: Signature | None = None
    encoded: bytes = b""
    tbs_bytes: bytes = b""
    digest: HashedId8 | None = None

    @property
    def is_self_signed(self) -> bool:
        """True for a root certificate (its issuer is itself)."""
        return self.issuer is None


class SignedFrame(msgspec.Struct, frozen=True, kw_only=True):
    """A signed secured data unit, decoded.

    ``aid`` is the AID (``cn``) or PSID (``intl``) of the application. Generation and expiry
    time are given twice: ``*_time_us`` the standard's Time64 as on the wire, ``*_ms`` UTC
    ms; ``None`` when the header leaves them out. ``signer_digest`` is the signer's
    ``HashedId8`` in both signer forms: sent as a digest, or computed from the first of
    ``signer_chain`` when full certificates were sent (signer first, then its issuers).

    ``tbs_bytes`` are the exact COER bytes of the to-be-signed data that ``signature``
    covers; ``payload`` is the wrapped UPER MessageFrame; ``raw`` the whole secured frame.
    """

    profile: SecurityProfile
    aid: int
    generation_time_us: int | None
    generation_time_ms: int | None
    expiry_time_us: int | None = None
    expiry_time_ms: int | None = None
    generation_location: GenerationLocation | None = None
    signer_digest: HashedId8
    signer_chain: tuple[Certificate, ...] = ()
    signature: Signature
    tbs_bytes: bytes
    payload: bytes
    raw: bytes

    @property
    def algorithm(self) -> SignatureAlgorithm:
        """The signature algorithm (from the signature)."""
        return self.signature.algorithm

    @property
    def signer_form(self) -> Literal["digest", "certificate"]:
        """How the signer was identified on the wire."""
        return "certificate" if self.signer_chain else "digest"


class UnsignedFrame(msgspec.Struct, frozen=True, kw_only=True):
    """An unsecured data unit: the wrapped UPER MessageFrame without any signature.

    ``profile`` is ``None`` unless the caller said which profile it expected: both profiles
    encode an unsecured unit with the same bytes.
    """

    profile: SecurityProfile | None
    payload: bytes
    raw: bytes
