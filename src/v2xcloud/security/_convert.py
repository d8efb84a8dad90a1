"""asn1tools values of our security ASN.1 ⇄ the domain types: every wire quirk in one place.

Wire → domain: 1/10 µdegree → degrees, decimetre elevation with its 0xF000 "unknown" and
0xF001.. negative range → metres or ``None``, Time32/Time64 → UTC ms, curve-point CHOICEs →
SEC1 bytes, the profile's CHOICE names (``sm3AndDigest``, ``ecsigSm2``, ``psid``, ...) → enums.
Anything the profile does not define for its algorithm raises ``DecodeError`` with
``unknown_algorithm``; forms the platform cannot use (implicit certificates, x-only keys) too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from v2xcloud.errors import DecodeError, EncodeError
from v2xcloud.model import DropReason
from v2xcloud.security._time import (
    time32_from_utc_ms,
    utc_ms_from_time32,
)
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
    Region,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
)

__all__ = [
    "NAMES",
    "ProfileNames",
    "certificate_from_value",
    "certificate_to_value",
    "elevation_from_wire",
    "location_from_wire",
    "location_to_value",
    "signature_from_value",
    "signature_to_value",
]

_DEG = 10_000_000  # 1/10 microdegree per degree
_LAT_UNKNOWN = 900_000_001
_LON_UNKNOWN = 1_800_000_001
_ELEV_UNKNOWN = 0xF000
# Duration CHOICE units in seconds, largest first (1609.2: a year is 31556952 s)
_DURATION_S: tuple[tuple[str, float], ...] = (
    ("years", 31_556_952),
    ("sixtyHours", 216_000),
    ("hours", 3_600),
    ("minutes", 60),
    ("seconds", 1),
    ("milliseconds", 1e-3),
    ("microseconds", 1e-6),
)
_DURATION_MS = {name: int(seconds * 1000) for name, seconds in _DURATION_S[:-1]}


@dataclass(frozen=True, slots=True)
class ProfileNames:
    """The CHOICE and component names one profile uses on the wire."""

    data: str  # the secured data unit type
    aid: str  # the application id component of HeaderInfo, AidSsp, ...
    hash_id: str  # HashAlgorithm of SignedData and of a self-signed issuer
    hash_byte: int  # that HashAlgorithm in COER (one octet)
    issuer_digest: str  # IssuerIdentifier alternative naming the issuer's HashedId8
    key: str  # PublicVerificationKey alternative
    signature: str  # Signature alternative
    algorithm: SignatureAlgorithm


NAMES: dict[SecurityProfile, ProfileNames] = {
    SecurityProfile.CN: ProfileNames(
        data="V2XSecData",
        aid="aid",
        hash_id="sm3",
        hash_byte=2,
        issuer_digest="sm3AndDigest",
        key="ecsigSm2",
        signature="sm2Signature",
        algorithm=SignatureAlgorithm.SM2_SM3,
    ),
    SecurityProfile.INTL: ProfileNames(
        data="Ieee1609Dot2Data",
        aid="psid",
        hash_id="sha256",
        hash_byte=0,
        issuer_digest="sha256AndDigest",
        key="ecdsaNistP256",
        signature="ecdsaNistP256Signature",
        algorithm=SignatureAlgorithm.ECDSA_P256_SHA256,
    ),
}


def _bad(what: str, reason: DropReason, detail: str, where: str) -> DecodeError:
    return DecodeError(what, reason, detail, where=where)


# --- positions ---------------------------------------------------------------------------


def elevation_from_wire(raw: int) -> float | None:
    """ElevInt (decimetres; 0xF000 unknown; 0xF001..0xFFFF negative) → metres or None."""
    if raw == _ELEV_UNKNOWN:
        return None
    return (raw - 0x10000 if raw > _ELEV_UNKNOWN else raw) / 10.0


def _elevation_to_wire(elevation_m: float | None) -> int:
    if elevation_m is None:
        return _ELEV_UNKNOWN
    dm = round(elevation_m * 10)
    if not -4095 <= dm <= 0xEFFF:
        raise EncodeError("ThreeDLocation", f"elevation {elevation_m} m outside -409.5..6143.9")
    return dm & 0xFFFF


def location_from_wire(lat: int, lon: int, elevation: int) -> GenerationLocation | None:
    """A ThreeDLocation → ``GenerationLocation``; ``None`` when latitude or longitude is
    "unknown"."""
    if lat == _LAT_UNKNOWN or lon == _LON_UNKNOWN:
        return None
    return GenerationLocation(
        lat_deg=lat / _DEG, lon_deg=lon / _DEG, elevation_m=elevation_from_wire(elevation)
    )


def location_to_value(loc: GenerationLocation) -> dict[str, int]:
    """``GenerationLocation`` → ThreeDLocation value."""
    point = _point_to_value(GeoPoint(loc.lat_deg, loc.lon_deg), "generationLocation")
    return {**point, "elevation": _elevation_to_wire(loc.elevation_m)}


def _point_from_value(value: dict[str, int], where: str) -> GeoPoint:
    lat, lon = value["latitude"], value["longitude"]
    if lat == _LAT_UNKNOWN or lon == _LON_UNKNOWN:
        raise _bad("Certificate", DropReason.CONSTRAINT, "region point is unknown", where)
    return GeoPoint(lat / _DEG, lon / _DEG)


def _point_to_value(point: GeoPoint, where: str) -> dict[str, int]:
    lat, lon = round(point.lat_deg * _DEG), round(point.lon_deg * _DEG)
    if not (-900_000_000 <= lat <= 900_000_000 and -1_799_999_999 <= lon <= 1_800_000_000):
        raise EncodeError("TwoDLocation", f"{point} is not a WGS-84 position", where=where)
    return {"latitude": lat, "longitude": lon}


# --- regions -----------------------------------------------------------------------------


def _region_from_value(choice: tuple[str, Any], where: str) -> Region:
    kind, value = choice
    if kind == "circularRegion":
        center = _point_from_value(value["center"], where)
        return CircularRegion(center=center, radius_m=float(value["radius"]))
    if kind == "rectangularRegion":
        return RectangularRegion(
            rectangles=tuple(
                Rectangle(
                    north_west=_point_from_value(r["northWest"], where),
                    south_east=_point_from_value(r["southEast"], where),
                )
                for r in value
            )
        )
    if kind == "polygonalRegion":
        return PolygonalRegion(vertices=tuple(_point_from_value(p, where) for p in value))
    if kind == "identifiedRegion":
        return IdentifiedRegion(areas=tuple(_identified_from_value(v) for v in value))
    raise _bad("Certificate", DropReason.UNSUPPORTED_MESSAGE, f"region kind {kind}", where)


def _identified_from_value(choice: tuple[str, Any]) -> CountryRegions:
    kind, value = choice
    if kind == "countryOnly":
        return CountryRegions(country=value)
    if kind == "countryAndRegions":
        return CountryRegions(country=value["countryOnly"], regions=tuple(value["regions"]))
    return CountryRegions(
        country=value["country"],
        subregions=tuple(
            (r["region"], tuple(r["subregions"])) for r in value["regionAndSubregions"]
        ),
    )


def _region_to_value(region: Region) -> tuple[str, Any]:
    if isinstance(region, CircularRegion):
        radius = round(region.radius_m)
        if not 0 <= radius <= 0xFFFF:
            raise EncodeError("CircularRegion", f"radius {region.radius_m} m outside 0..65535")
        return "circularRegion", {
            "center": _point_to_value(region.center, "center"),
            "radius": radius,
        }
    if isinstance(region, RectangularRegion):
        return "rectangularRegion", [
            {
                "northWest": _point_to_value(r.north_west, "northWest"),
                "southEast": _point_to_value(r.south_east, "southEast"),
            }
            for r in region.rectangles
        ]
    if isinstance(region, PolygonalRegion):
        if len(region.vertices) < 3:
            raise EncodeError("PolygonalRegion", "needs at least 3 vertices")
        return "polygonalRegion", [_point_to_value(p, "polygonalRegion") for p in region.vertices]
    return "identifiedRegion", [_identified_to_value(a) for a in region.areas]


def _identified_to_value(area: CountryRegions) -> tuple[str, Any]:
    if area.regions and area.subregions:
        raise EncodeError("IdentifiedRegion", "give regions or subregions, not both")
    if area.regions:
        return "countryAndRegions", {"countryOnly": area.country, "regions": list(area.regions)}
    if area.subregions:
        subs = [{"region": r, "subregions": list(s)} for r, s in area.subregions]
        return "countryAndSubregions", {"country": area.country, "regionAndSubregions": subs}
    return "countryOnly", area.country


# --- keys and signatures -------------------------------------------------------------------


def _point_bytes(choice: tuple[str, Any], what: str, where: str) -> bytes:
    """An EccP256CurvePoint → SEC1 bytes (a verification key needs y or its parity)."""
    form, value = choice
    if form == "compressed-y-0":
        return b"\x02" + value
    if form == "compressed-y-1":
        return b"\x03" + value
    if form == "uncompressed":
        return b"\x04" + value["x"] + value["y"]
    raise _bad(what, DropReason.UNKNOWN_ALGORITHM, f"a {form} point is not a usable key", where)


def _point_choice(point: bytes) -> tuple[str, Any]:
    if len(point) == 33 and point[0] in (2, 3):
        return ("compressed-y-0" if point[0] == 2 else "compressed-y-1"), point[1:]
    if len(point) == 65 and point[0] == 4:
        return "uncompressed", {"x": point[1:33], "y": point[33:]}
    raise EncodeError("EccP256CurvePoint", "a key point is 33 (02/03||x) or 65 (04||x||y) bytes")


def signature_from_value(
    choice: tuple[str, Any], profile: SecurityProfile, what: str, where: str
) -> Signature:
    """A Signature CHOICE of ``profile``'s algorithm → ``Signature``; any other algorithm is
    ``unknown_algorithm``."""
    names = NAMES[profile]
    kind, value = choice
    if kind != names.signature:
        raise _bad(
            what,
            DropReason.UNKNOWN_ALGORITHM,
            f"signature {kind} in the {profile.value} profile (expects {names.signature})",
            where,
        )
    if profile is SecurityProfile.CN:
        return Signature(algorithm=names.algorithm, r=value["rSig"], s=value["sSig"])
    form, r_value = value["rSig"]
    if form in ("x-only", "compressed-y-0", "compressed-y-1"):
        r = r_value
    elif form == "uncompressed":
        r = r_value["x"]
    else:
        raise _bad(what, DropReason.MALFORMED, f"ECDSA r as a {form} point", where)
    return Signature(algorithm=names.algorithm, r=r, s=value["sSig"])


def signature_to_value(signature: Signature, profile: SecurityProfile) -> tuple[str, Any]:
    """``Signature`` → the profile's Signature CHOICE (ECDSA ``r`` sent x-only)."""
    names = NAMES[profile]
    if signature.algorithm is not names.algorithm:
        raise EncodeError("Signature", f"{signature.algorithm} in the {profile.value} profile")
    if len(signature.r) != 32 or len(signature.s) != 32:
        raise EncodeError("Signature", "r and s are 32 bytes each")
    if profile is SecurityProfile.CN:
        return names.signature, {"rSig": signature.r, "sSig": signature.s}
    return names.signature, {"rSig": ("x-only", signature.r), "sSig": signature.s}


# --- certificates ----------------------------------------------------------------------------


def _validity_from_value(value: dict[str, Any]) -> tuple[int, int]:
    start_ms = utc_ms_from_time32(value["start"])
    unit, count = value["duration"]
    if unit == "microseconds":
        return start_ms, start_ms + count // 1000
    return start_ms, start_ms + count * _DURATION_MS[unit]


def _validity_to_value(start_ms: int, end_ms: int) -> dict[str, Any]:
    if start_ms % 1000:
        raise EncodeError("ValidityPeriod", f"start {start_ms} ms is not a whole second")
    length_ms = end_ms - start_ms
    for unit, step_ms in _DURATION_MS.items():
        if length_ms % step_ms == 0 and 0 < length_ms // step_ms <= 0xFFFF:
            return {"start": time32_from_utc_ms(start_ms), "duration": (unit, length_ms // step_ms)}
    raise EncodeError(
        "ValidityPeriod",
        f"{length_ms} ms is no whole count (1..65535) of years, 60 h, hours, minutes, seconds "
        "or ms; round the end time",
    )


def _ssp_from_value(choice: tuple[str, bytes] | None) -> tuple[bytes | None, bool]:
    if choice is None:
        return None, False
    kind, value = choice
    return value, kind == "bitmapSsp"


def _issue_from_value(value: dict[str, Any], aid: str) -> IssuePermission:
    kind, subject = value["subjectPermissions"]
    aids = None if kind == "all" else tuple(r[aid] for r in subject)
    ee_bits = value.get("eeType", (b"\x80", 8))[0][0]
    return IssuePermission(
        aids=aids,
        min_chain_length=value.get("minChainLength", 1),
        chain_length_range=value.get("chainLengthRange", 0),
        is_app=bool(ee_bits & 0x80),
        is_enroll=bool(ee_bits & 0x40),
    )


def _issue_to_value(perm: IssuePermission, aid: str) -> dict[str, Any]:
    subject = ("all", None) if perm.aids is None else ("explicit", [{aid: a} for a in perm.aids])
    value: dict[str, Any] = {"subjectPermissions": subject}
    if perm.min_chain_length != 1:  # COER leaves DEFAULT values out
        value["minChainLength"] = perm.min_chain_length
    if perm.chain_length_range != 0:
        value["chainLengthRange"] = perm.chain_length_range
    ee = (0x80 if perm.is_app else 0) | (0x40 if perm.is_enroll else 0)
    if ee != 0x80:
        value["eeType"] = (bytes([ee]), 8)
    return value


def _issuer_from_value(
    choice: tuple[str, Any], names: ProfileNames, where: str
) -> HashedId8 | None:
    kind, value = choice
    if kind == "self" and value == names.hash_id:
        return None
    if kind == names.issuer_digest:
        return HashedId8(value)
    shown = f"self ({value})" if kind == "self" else kind
    raise _bad(
        "Certificate", DropReason.UNKNOWN_ALGORITHM, f"issuer {shown} in this profile", where
    )


def _key_from_value(choice: tuple[str, Any], names: ProfileNames, where: str) -> PublicKey:
    indicator, key = choice
    if indicator != "verificationKey":
        raise _bad("Certificate", DropReason.UNKNOWN_ALGORITHM, "implicit certificate", where)
    kind, point = key
    if kind != names.key:
        raise _bad("Certificate", DropReason.UNKNOWN_ALGORITHM, f"{kind} key here", where)
    return PublicKey(algorithm=names.algorithm, point=_point_bytes(point, "Certificate", where))


def certificate_from_value(
    value: dict[str, Any],
    profile: SecurityProfile,
    *,
    encoded: bytes,
    tbs_bytes: bytes,
    digest: HashedId8,
    where: str,
) -> Certificate:
    """A CertificateBase value (explicit, of ``profile``) → ``Certificate``.

    Raises ``DecodeError``: ``wrong_version`` (version ≠ 3), ``unknown_algorithm`` (implicit
    certificate, another hash/curve), ``malformed`` (no signature)."""
    names = NAMES[profile]
    if value["version"] != 3:
        raise _bad("Certificate", DropReason.WRONG_VERSION, f"version {value['version']}", where)
    if value["type"] != "explicit" or "signature" not in value:
        raise _bad(
            "Certificate", DropReason.UNKNOWN_ALGORITHM, "not an explicit certificate", where
        )
    tbs = value["toBeSigned"]
    id_kind, id_value = tbs["id"]
    start_ms, end_ms = _validity_from_value(tbs["validityPeriod"])
    return Certificate(
        profile=profile,
        subject_name=id_value if id_kind == "name" else None,
        subject_id=id_value if id_kind == "binaryId" else None,
        issuer=_issuer_from_value(value["issuer"], names, where),
        verification_key=_key_from_value(tbs["verifyKeyIndicator"], names, where),
        validity_start_ms=start_ms,
        validity_end_ms=end_ms,
        region=_region_from_value(tbs["region"], where) if "region" in tbs else None,
        app_permissions=tuple(
            AppPermission(aid=p[names.aid], ssp=ssp, is_bitmap_ssp=bitmap)
            for p in tbs.get("appPermissions", ())
            for ssp, bitmap in [_ssp_from_value(p.get("ssp"))]
        ),
        issue_permissions=tuple(
            _issue_from_value(p, names.aid) for p in tbs.get("certIssuePermissions", ())
        ),
        assurance_level=tbs["assuranceLevel"][0] if "assuranceLevel" in tbs else None,
        craca_id=tbs["cracaId"],
        crl_series=tbs["crlSeries"],
        signature=signature_from_value(value["signature"], profile, "Certificate", where),
        encoded=encoded,
        tbs_bytes=tbs_bytes,
        digest=digest,
    )


def _tbs_certificate_value(cert: Certificate, names: ProfileNames) -> dict[str, Any]:
    if cert.subject_name is not None:
        cert_id: tuple[str, Any] = ("name", cert.subject_name)
    elif cert.subject_id is not None:
        cert_id = ("binaryId", cert.subject_id)
    else:
        cert_id = ("none", None)
    if not (cert.app_permissions or cert.issue_permissions):
        raise EncodeError("Certificate", "needs app_permissions or issue_permissions")
    if cert.verification_key.algorithm is not names.algorithm:
        raise EncodeError("Certificate", f"a {cert.verification_key.algorithm} key")
    tbs: dict[str, Any] = {
        "id": cert_id,
        "cracaId": cert.craca_id,
        "crlSeries": cert.crl_series,
        "validityPeriod": _validity_to_value(cert.validity_start_ms, cert.validity_end_ms),
    }
    if cert.region is not None:
        tbs["region"] = _region_to_value(cert.region)
    if cert.assurance_level is not None:
        tbs["assuranceLevel"] = bytes([cert.assurance_level])
    if cert.app_permissions:
        tbs["appPermissions"] = [_app_to_value(p, names.aid) for p in cert.app_permissions]
    if cert.issue_permissions:
        tbs["certIssuePermissions"] = [
            _issue_to_value(p, names.aid) for p in cert.issue_permissions
        ]
    key = (names.key, _point_choice(cert.verification_key.point))
    tbs["verifyKeyIndicator"] = ("verificationKey", key)
    return tbs


def _app_to_value(perm: AppPermission, aid: str) -> dict[str, Any]:
    value: dict[str, Any] = {aid: perm.aid}
    if perm.ssp is not None:
        value["ssp"] = ("bitmapSsp" if perm.is_bitmap_ssp else "opaque", perm.ssp)
    return value


def certificate_to_value(cert: Certificate) -> dict[str, Any]:
    """``Certificate`` → CertificateBase value (the signature left out when ``None``, which
    gives the value whose ``toBeSigned`` the issuer signs)."""
    names = NAMES[cert.profile]
    issuer: tuple[str, Any] = (
        ("self", names.hash_id) if cert.issuer is None else (names.issuer_digest, cert.issuer.value)
    )
    value: dict[str, Any] = {
        "version": 3,
        "type": "explicit",
        "issuer": issuer,
        "toBeSigned": _tbs_certificate_value(cert, names),
    }
    if cert.signature is not None:
        value["signature"] = signature_to_value(cert.signature, cert.profile)
    return value
