"""A test PKI in a directory: the certificates and keys a lab or the simulator signs with.

``init_pki(dir, profile=..., devices=...)`` creates, for one profile (``cn``: SM2/SM3,
``intl``: ECDSA-P256/SHA-256):

- a self-signed **root CA** (the trust anchor; may issue every AID listed below);
- two intermediate CAs issued by the root: the **enrolment CA** (issues enrolment
  certificates) and the **pseudonym CA** (issues the certificates messages are signed with);
- per device an **enrolment certificate** (long-lived, the device's identity) and a
  **pseudonym certificate** (short-lived, what ``v2xcloud sign`` signs with by default), with
  the AIDs of the device's kind (an id starting ``rsu``: MAP, SPAT, RSI, RSM; otherwise an OBU:
  BSM), a region and a validity period;
- the platform's own signing certificate (RSI, MAP, SPAT and its advisories: what it sends
  down).

Layout::

    manifest.json          what is here (below); read by ``load_pki``
    certs/NAME.cert        each certificate, COER (``security.codec``)
    keys/NAME.pem          each private key, PKCS#8 PEM, mode 0600
    tls/                   the MQTT mTLS side (``security.tls.write_tls_pki``)

``manifest.json`` lists every certificate: name, role (``root``, ``enrolment-ca``,
``pseudonym-ca``, ``enrolment``, ``pseudonym``, ``platform``), device and kind, files, digest
(HashedId8 hex), issuer digest, AIDs, validity (UTC ms and ISO text) and region; plus the
revocation list (``revoke``). ``Pki.trust_store`` builds a receiver's ``TrustStore`` from it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     pki = init_pki(tmp, profile=SecurityProfile.INTL, devices=["obu-1"], now_ms=1_767_225_600_000)
...     sorted(pki.names())[:3], pki.device_of(pki.certificate("obu-1.pseudonym").digest)
(['enrolment-ca', 'obu-1.enrolment', 'obu-1.pseudonym'], 'obu-1')
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError, CryptoError, DecodeError
from v2xcloud.security import crypto
from v2xcloud.security.aid import MESSAGE_AIDS
from v2xcloud.security.codec import certificate_tbs, decode_certificate, encode_certificate
from v2xcloud.security.sig_input import sign_data
from v2xcloud.security.trust import ChainFailure, TrustStore
from v2xcloud.security.types import (
    AppPermission,
    Certificate,
    GeoPoint,
    HashedId8,
    IssuePermission,
    PublicKey,
    Rectangle,
    RectangularRegion,
    Region,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
)

__all__ = [
    "CHINA",
    "DEFAULT_DEVICES",
    "PLATFORM",
    "Pki",
    "init_pki",
    "issue_certificate",
    "kind_aids",
    "kind_of",
    "load_pki",
    "revoke",
]

logger = logging.getLogger(__name__)

DEFAULT_DEVICES: tuple[str, ...] = ("obu-1", "rsu-1")
PLATFORM = "platform"
#: the default region of every certificate: a box around mainland China (lat 18..54, lon 73..135)
CHINA = RectangularRegion(
    rectangles=(Rectangle(north_west=GeoPoint(54.0, 73.0), south_east=GeoPoint(18.0, 135.0)),)
)
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KIND_AIDS = {
    "obu": ("BSM",),
    "rsu": ("MAP", "SPAT", "RSI", "RSM"),
    PLATFORM: ("RSI", "MAP", "SPAT", "ADVISORY"),
}
_MANIFEST = "manifest.json"


def kind_of(device_id: str) -> str:
    """The device kind a PKI device id stands for: ``rsu`` for ids starting ``rsu``, else ``obu``."""
    return "rsu" if device_id.lower().startswith("rsu") else "obu"


def kind_aids(kind: str) -> tuple[int, ...]:
    """The AIDs a device of ``kind`` (``obu``, ``rsu``, ``platform``) is granted."""
    return tuple(sorted({MESSAGE_AIDS[m] for m in _KIND_AIDS[kind]}))


def _algorithm(profile: SecurityProfile) -> SignatureAlgorithm:
    if profile is SecurityProfile.CN:
        return SignatureAlgorithm.SM2_SM3
    return SignatureAlgorithm.ECDSA_P256_SHA256


class _Spec(msgspec.Struct, frozen=True, kw_only=True):
    """One certificate to issue."""

    name: str
    role: str
    issuer: str | None
    days: int
    device: str | None = None
    kind: str | None = None
    aids: tuple[int, ...] = ()
    issue_aids: tuple[int, ...] | None = None
    is_enroll_ca: bool = False


def _specs(devices: Sequence[str], days: dict[str, int]) -> list[_Spec]:
    every = tuple(sorted(set(MESSAGE_AIDS.values())))
    out = [
        _Spec(name="root", role="root", issuer=None, days=days["root"], issue_aids=every),
        _Spec(
            name="enrolment-ca",
            role="enrolment-ca",
            issuer="root",
            days=days["ca"],
            issue_aids=every,
            is_enroll_ca=True,
        ),
        _Spec(
            name="pseudonym-ca",
            role="pseudonym-ca",
            issuer="root",
            days=days["ca"],
            issue_aids=every,
        ),
        _Spec(
            name=PLATFORM,
            role="platform",
            issuer="pseudonym-ca",
            days=days["enrolment"],
            device=PLATFORM,
            kind=PLATFORM,
            aids=kind_aids(PLATFORM),
        ),
    ]
    for device in devices:
        kind = kind_of(device)
        for role, issuer, span in (
            ("enrolment", "enrolment-ca", days["enrolment"]),
            ("pseudonym", "pseudonym-ca", days["pseudonym"]),
        ):
            out.append(
                _Spec(
                    name=f"{device}.{role}",
                    role=role,
                    issuer=issuer,
                    days=span,
                    device=device,
                    kind=kind,
                    aids=kind_aids(kind),
                )
            )
    return out


def _checked(devices: Sequence[str]) -> list[str]:
    out: list[str] = []
    for d in devices:
        if not _ID.fullmatch(d) or d == PLATFORM:
            raise ConfigError(
                f"device id {d!r}: use 1-64 letters, digits, '-', '_' or '.' (not {PLATFORM!r})"
            )
        if d in out:
            raise ConfigError(f"device id {d!r} given twice")
        out.append(d)
    if not out:
        raise ConfigError("give at least one device id, e.g. --devices obu-1,rsu-1")
    return out


def issue_certificate(
    *,
    profile: SecurityProfile,
    name: str,
    subject: crypto.Signer,
    issuer: tuple[Certificate, crypto.Signer] | None,
    start_ms: int,
    end_ms: int,
    region: Region | None,
    aids: Sequence[int] = (),
    issue_aids: Sequence[int] | None = None,
    chain_length_range: int = 0,
    is_enrolment_ca: bool = False,
) -> Certificate:
    """Build, sign (by ``issuer``'s key, or ``subject`` itself for a root), encode and decode
    one certificate, so the result carries its COER bytes, to-be-signed bytes and digest.
    ``aids`` are what the holder may sign; ``issue_aids`` (not None) make it a CA that may
    issue them. Validity is whole hours on the wire: give hour-aligned times."""
    algorithm = _algorithm(profile)
    issue: tuple[IssuePermission, ...] = ()
    if issue_aids is not None:
        issue = (
            IssuePermission(
                aids=tuple(issue_aids),
                min_chain_length=1,
                chain_length_range=chain_length_range,
                is_app=not is_enrolment_ca,
                is_enroll=is_enrolment_ca or issuer is None,
            ),
        )
    draft = Certificate(
        profile=profile,
        subject_name=name,
        issuer=None if issuer is None else issuer[0].digest,
        verification_key=PublicKey(algorithm=algorithm, point=subject.public_key_compressed()),
        validity_start_ms=start_ms,
        validity_end_ms=end_ms,
        region=region,
        app_permissions=tuple(AppPermission(aid=a) for a in aids),
        issue_permissions=issue,
    )
    signing_key, signer = (subject, None) if issuer is None else (issuer[1], issuer[0])
    raw = sign_data(signing_key, certificate_tbs(draft), signer)  # the profile's input rule
    signed = msgspec.structs.replace(
        draft, signature=Signature(algorithm=algorithm, r=raw[:32], s=raw[32:])
    )
    return decode_certificate(encode_certificate(signed), profile=profile)


def init_pki(
    directory: str | Path,
    *,
    profile: SecurityProfile = SecurityProfile.CN,
    devices: Sequence[str] = DEFAULT_DEVICES,
    now_ms: int,
    region: Region = CHINA,
    pseudonym_days: int = 30,
    enrolment_days: int = 3 * 365,
    ca_days: int = 5 * 365,
    with_tls: bool = True,
) -> Pki:
    """Create a test PKI in ``directory`` (see the module docstring); returns it loaded.

    Validity starts one hour before ``now_ms`` (rounded down to the hour, so clocks a little
    behind still accept it); the CAs outlive what they issue. ``region`` is every
    certificate's (default ``CHINA``). ``with_tls`` also writes the MQTT mTLS certificates
    (``tls/``). ``ConfigError`` for a directory that already holds a PKI or a bad device id.
    """
    root = Path(directory)
    if (root / _MANIFEST).exists():
        raise ConfigError(f"{root} already holds a PKI ({_MANIFEST}); choose an empty directory")
    ids = _checked(devices)
    if min(pseudonym_days, enrolment_days) < 1 or ca_days < max(pseudonym_days, enrolment_days):
        raise ConfigError("validity days must be positive, and the CAs' at least the devices'")
    days = {
        "root": ca_days + 1,
        "ca": ca_days,
        "enrolment": enrolment_days,
        "pseudonym": pseudonym_days,
    }
    start = (now_ms // _HOUR_MS - 1) * _HOUR_MS
    issued: dict[str, tuple[Certificate, crypto.Signer]] = {}
    entries: list[dict[str, Any]] = []
    for spec in _specs(ids, days):
        key = crypto.generate_signer(_algorithm(profile))
        issuer = None if spec.issuer is None else issued[spec.issuer]
        cert = issue_certificate(
            profile=profile,
            name=spec.name,
            subject=key,
            issuer=issuer,
            start_ms=start,
            end_ms=start + spec.days * _DAY_MS,
            region=region,
            aids=spec.aids,
            issue_aids=spec.issue_aids,
            chain_length_range=1 if spec.role == "root" else 0,
            is_enrolment_ca=spec.is_enroll_ca,
        )
        issued[spec.name] = (cert, key)
        _write(root / "certs" / f"{spec.name}.cert", cert.encoded)
        _write(root / "keys" / f"{spec.name}.pem", key.private_pem(), secret=True)
        entries.append(_entry(spec, cert))
    manifest: dict[str, Any] = {
        "format": "v2xcloud-pki/1",
        "profile": profile.value,
        "algorithm": _algorithm(profile).value,
        "created_ms": now_ms,
        "devices": ids,
        "aid_source": "IEEE 1609.12 PSID registry (security.aid)",
        "certificates": entries,
        "revoked": [],
    }
    if with_tls:
        from v2xcloud.security.tls import write_tls_pki

        write_tls_pki(root / "tls", ids)
        manifest["tls"] = "tls/ (X.509 CA, broker, platform and per-device client certificates)"
    _write(root / _MANIFEST, json.dumps(manifest, indent=2).encode())
    logger.info("PKI (%s) with %d devices written to %s", profile.value, len(ids), root)
    return load_pki(root)


def _entry(spec: _Spec, cert: Certificate) -> dict[str, Any]:
    assert cert.digest is not None
    return {
        "name": spec.name,
        "role": spec.role,
        "device": spec.device,
        "kind": spec.kind,
        "certificate": f"certs/{spec.name}.cert",
        "key": f"keys/{spec.name}.pem",
        "digest": cert.digest.hex(),
        "issuer": None if cert.issuer is None else cert.issuer.hex(),
        "aids": list(spec.aids),
        "issue_aids": None if spec.issue_aids is None else list(spec.issue_aids),
        "valid_from_ms": cert.validity_start_ms,
        "valid_until_ms": cert.validity_end_ms,
        "valid_from": _iso(cert.validity_start_ms),
        "valid_until": _iso(cert.validity_end_ms),
        "region": msgspec.to_builtins(cert.region),
    }


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write atomically; keys readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class Pki:
    """A PKI directory, loaded: certificates by name, keys on demand, the revocation list."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.directory = directory
        self.manifest = manifest
        self.profile = SecurityProfile(manifest["profile"])
        self.algorithm = _algorithm(self.profile)
        self._entries = {e["name"]: e for e in manifest["certificates"]}
        self._certs: dict[str, Certificate] = {}
        for name, entry in self._entries.items():
            self._certs[name] = self._read_cert(name, entry)
        self._by_digest = {c.digest: n for n, c in self._certs.items() if c.digest is not None}

    def _read_cert(self, name: str, entry: dict[str, Any]) -> Certificate:
        path = self.directory / entry["certificate"]
        try:
            cert = decode_certificate(path.read_bytes(), profile=self.profile)
        except (OSError, DecodeError) as exc:
            raise ConfigError(f"PKI {self.directory}: certificate {name} ({path}): {exc}") from exc
        if cert.digest is None or cert.digest.hex() != entry["digest"]:
            raise ConfigError(
                f"PKI {self.directory}: {path} does not match the manifest's digest "
                f"{entry['digest']}; was it replaced?"
            )
        return cert

    def names(self) -> list[str]:
        """Every certificate's name."""
        return list(self._entries)

    @property
    def devices(self) -> list[str]:
        """The device ids the PKI was made for."""
        return list(self.manifest["devices"])

    def certificate(self, name: str) -> Certificate:
        """A certificate by name (``root``, ``obu-1.pseudonym``, ``platform``…); ``ConfigError``
        naming the known ones otherwise."""
        try:
            return self._certs[name]
        except KeyError:
            raise ConfigError(
                f"no certificate {name!r} in {self.directory}; known: {', '.join(self._entries)}"
            ) from None

    def signer(self, name: str) -> crypto.Signer:
        """The private key of a certificate, loaded from ``keys/``."""
        entry = self._entries.get(name)
        if entry is None:
            self.certificate(name)  # raises the ConfigError naming the known ones
            raise AssertionError
        path = self.directory / entry["key"]
        try:
            return crypto.load_signer(path.read_bytes())
        except (OSError, CryptoError) as exc:
            raise ConfigError(f"PKI {self.directory}: key of {name} ({path}): {exc}") from exc

    def signing_name(self, device: str, *, role: str = "pseudonym") -> str:
        """The certificate name a device signs with (``platform`` for the platform)."""
        name = PLATFORM if device == PLATFORM else f"{device}.{role}"
        if name not in self._entries:
            raise ConfigError(
                f"device {device!r} has no {role} certificate in {self.directory}; "
                f"devices: {', '.join(self.devices)}"
            )
        return name

    def device_of(self, digest: HashedId8 | None) -> str | None:
        """The device a certificate was issued to (None for a CA or an unknown digest)."""
        name = self._by_digest.get(digest) if digest is not None else None
        return None if name is None else self._entries[name]["device"]

    def revoked(self) -> list[tuple[HashedId8, int]]:
        """The revocation list: (digest, revoked at UTC ms)."""
        return [
            (HashedId8(bytes.fromhex(r["digest"])), r["at_ms"]) for r in self.manifest["revoked"]
        ]

    def trust_store(
        self, verify: Any, *, cache_capacity: int = 100_000, known_devices: bool = True
    ) -> TrustStore:
        """A receiver's trust store: the root as anchor, the CAs as intermediates, the
        revocation list, device names; ``known_devices`` also puts every device's and the
        platform's certificate in the cache (the platform knows the devices it enrolled), so
        digest-signed frames of them verify before a full certificate was seen. ``verify``
        is a ``trust.LinkVerify``."""
        store = TrustStore(verify=verify, cache_capacity=cache_capacity)
        now = self.manifest["created_ms"]
        store.add_anchor(self._certs["root"])
        for ca in ("enrolment-ca", "pseudonym-ca"):
            store.add_intermediate(
                self._certs[ca], at_ms=max(now, self._certs[ca].validity_start_ms)
            )
        for digest, at_ms in self.revoked():
            store.revoke(digest, at_ms=at_ms)
        for name, entry in self._entries.items():
            cert = self._certs[name]
            if entry["device"] is None or cert.digest is None:
                continue
            store.name_device(cert.digest, entry["device"])
            if known_devices:
                found = store.learn([cert], at_ms=cert.validity_start_ms)
                if isinstance(found, ChainFailure):  # e.g. revoked, or expired since
                    logger.warning("PKI certificate %s not trusted: %s", name, found.detail)
        return store


def load_pki(directory: str | Path) -> Pki:
    """Read a PKI directory made by ``init_pki``; ``ConfigError`` saying what is missing."""
    root = Path(directory)
    try:
        manifest = json.loads((root / _MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{root} holds no PKI ({_MANIFEST}: {exc.strerror}); create one with "
            f"'v2xcloud pki init {root}'"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"{root / _MANIFEST} is not JSON: {exc}") from exc
    if manifest.get("format") != "v2xcloud-pki/1":
        raise ConfigError(f"{root / _MANIFEST}: not a v2xcloud PKI manifest")
    return Pki(root, manifest)


def revoke(directory: str | Path, names: Sequence[str], *, at_ms: int) -> list[str]:
    """Put certificates (by name, or every certificate of a device id) on the PKI's
    revocation list from ``at_ms`` on; returns the digests added. ``ConfigError`` for an
    unknown name."""
    pki = load_pki(directory)
    chosen: list[str] = []
    for name in names:
        matches = [n for n, e in pki._entries.items() if n == name or e["device"] == name]
        if not matches:
            raise ConfigError(f"nothing named {name!r} in {pki.directory}; known: {pki.names()}")
        chosen += [m for m in matches if m not in chosen]
    listed = {r["digest"] for r in pki.manifest["revoked"]}
    added = []
    for name in chosen:
        digest = pki._entries[name]["digest"]
        if digest not in listed:
            pki.manifest["revoked"].append({"digest": digest, "name": name, "at_ms": at_ms})
            added.append(digest)
    _write(pki.directory / _MANIFEST, json.dumps(pki.manifest, indent=2).encode())
    return added
