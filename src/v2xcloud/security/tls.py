"""The TLS side of device identity: an X.509 CA, per-device client certificates, the broker's
server certificate, the platform's own client certificate and a revocation list, as PEM files.

A device authenticates to the MQTT broker with a client certificate whose subject common name
(CN) is its device id (the broker takes it as the MQTT username, ``use_identity_as_username``);
every key is ECDSA P-256. ``write_tls_pki(dir, device_ids)`` creates the CA on first use and
reuses it afterwards, so devices can be added later; ``revoke`` puts certificates on the CRL the
broker checks at every TLS handshake. An operator's own CA works as well: the broker only needs
the file paths (``TlsPki`` names them).

Layout of ``dir``::

    ca.crt  ca.key  crl.pem            the CA, its key (0600) and its revocation list
    server.crt  server.key             the broker (SAN: platform_host, 127.0.0.1, localhost)
    platform.crt  platform.key         the platform's MQTT client (CN = platform_id)
    control.crt  control.key           its broker-control connection (CN = platform_id-control)
    devices/{id}.crt  devices/{id}.key one pair per device (CN = device id)

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     pki = write_tls_pki(tmp, ["R001"])
...     print(certificate_identity(pki.device_cert("R001")), revoke(pki, ["R001"]))
R001 True
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from v2xcloud.errors import ConfigError

__all__ = [
    "DEFAULT_PLATFORM_ID",
    "TlsPki",
    "certificate_identity",
    "control_id",
    "is_revoked",
    "issue_device_cert",
    "load_tls_pki",
    "revoke",
    "write_tls_pki",
]

logger = logging.getLogger(__name__)

#: The CN of the platform's own MQTT client certificate (its ACL identity on the broker).
DEFAULT_PLATFORM_ID = "v2xcloud-platform"


def control_id(platform_id: str) -> str:
    """The identity of the platform's control connection (the broker's dynamic-security
    administrator): apart from ``platform_id`` so that, on a broker that makes the username the
    client id, the platform's gateway and control connections never take each other over."""
    return f"{platform_id}-control"


#: Device ids that can be a CN and a file name: what the MQTT topic tree allows, minus '/'.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_CRL_DAYS = 30


@dataclass(frozen=True)
class TlsPki:
    """The PEM files of one TLS PKI directory (see the module docstring for the layout)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate the broker and the clients trust."""
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA's private key (mode 0600)."""
        return self.directory / "ca.key"

    @property
    def crl(self) -> Path:
        """The CA's certificate revocation list (PEM)."""
        return self.directory / "crl.pem"

    @property
    def server_cert(self) -> Path:
        """The broker's certificate."""
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        """The broker's private key."""
        return self.directory / "server.key"

    @property
    def platform_cert(self) -> Path:
        """The platform's MQTT client certificate."""
        return self.directory / "platform.crt"

    @property
    def platform_key(self) -> Path:
        """The platform's MQTT client key."""
        return self.directory / "platform.key"

    @property
    def control_cert(self) -> Path:
        """The platform's control-connection certificate (CN ``control_id(platform_id)``)."""
        return self.directory / "control.crt"

    @property
    def control_key(self) -> Path:
        """The platform's control-connection key."""
        return self.directory / "control.key"

    def device_cert(self, device_id: str) -> Path:
        """The client certificate of ``device_id``."""
        return self.directory / "devices" / f"{_checked_id(device_id)}.crt"

    def device_key(self, device_id: str) -> Path:
        """The client key of ``device_id``."""
        return self.directory / "devices" / f"{_checked_id(device_id)}.key"


def _checked_id(device_id: str) -> str:
    if not _ID.fullmatch(device_id):
        raise ConfigError(
            f"device id {device_id!r} cannot be a certificate name: use 1-64 letters, digits, "
            "'.', '_', ':' or '-', starting with a letter or digit"
        )
    return device_id


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write atomically (a reader never sees half a file); keys readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, secret=True)


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable PEM certificate: {exc}") from exc


def _load_ca(pki: TlsPki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = _load_cert(pki.ca_cert)
    try:
        key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{pki.ca_key}: not a readable unencrypted PEM key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{pki.ca_key}: expected an EC key, found {type(key).__name__}")
    return cert, key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "v2xcloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_ca(pki: TlsPki, valid_days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    name = _name("v2xcloud device CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(pki.ca_key, key)
    _write(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    _write_crl(pki, cert, key, [])


def _usage(*, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(
    pki: TlsPki,
    common_name: str,
    *,
    server_hosts: Iterable[str] = (),
    valid_days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = _load_ca(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    hosts = list(dict.fromkeys(server_hosts))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _issue_to(
    pki: TlsPki,
    cert_path: Path,
    key_path: Path,
    common_name: str,
    *,
    valid_days: int,
    server_hosts: Iterable[str] = (),
) -> None:
    cert, key = _issue(pki, common_name, server_hosts=server_hosts, valid_days=valid_days)
    _write_key(key_path, key)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def write_tls_pki(
    directory: str | Path,
    device_ids: Iterable[str],
    *,
    platform_host: str = "127.0.0.1",
    platform_id: str = DEFAULT_PLATFORM_ID,
    valid_days: int = 365,
) -> TlsPki:
    """Create (or extend) the TLS PKI in ``directory`` and return its paths.

    The CA is created when ``ca.crt`` is absent and reused otherwise; the broker's server
    certificate (SAN ``platform_host``, 127.0.0.1 and localhost) and the platform's client
    certificate (CN ``platform_id``) and its control-connection certificate (CN
    ``control_id(platform_id)``) are written when absent; each device in ``device_ids``
    without a certificate gets one (CN = its id). Existing certificates are kept, so running
    it again with more devices only adds theirs. ``ConfigError`` for an id that cannot be a
    certificate name or an unreadable existing CA.
    """
    pki = TlsPki(Path(directory))
    pki.directory.mkdir(parents=True, exist_ok=True)
    if not pki.ca_cert.exists():
        _new_ca(pki, valid_days)
        logger.info("TLS CA created in %s", pki.directory)
    if not pki.server_cert.exists():
        hosts = (platform_host, "127.0.0.1", "localhost")
        _issue_to(
            pki,
            pki.server_cert,
            pki.server_key,
            platform_host,
            server_hosts=hosts,
            valid_days=valid_days,
        )
    if not pki.platform_cert.exists():
        _issue_to(
            pki,
            pki.platform_cert,
            pki.platform_key,
            _checked_id(platform_id),
            valid_days=valid_days,
        )
    if not pki.control_cert.exists():
        _issue_to(
            pki,
            pki.control_cert,
            pki.control_key,
            _checked_id(control_id(platform_id)),
            valid_days=valid_days,
        )
    for device_id in device_ids:
        if not pki.device_cert(device_id).exists():
            issue_device_cert(pki, device_id, valid_days=valid_days)
    return pki


def load_tls_pki(directory: str | Path) -> TlsPki:
    """The PKI in ``directory``; ``ConfigError`` naming the first missing file."""
    pki = TlsPki(Path(directory))
    for path in (pki.ca_cert, pki.crl, pki.server_cert, pki.server_key):
        if not path.is_file():
            raise ConfigError(
                f"TLS PKI {pki.directory}: {path.name} is missing; create it with "
                "v2xcloud.security.tls.write_tls_pki (v2xcloud pki init)"
            )
    return pki


def issue_device_cert(pki: TlsPki, device_id: str, *, valid_days: int = 365) -> Path:
    """Issue (or re-issue) ``device_id``'s client certificate; returns the certificate path."""
    _issue_to(
        pki,
        pki.device_cert(device_id),
        pki.device_key(device_id),
        _checked_id(device_id),
        valid_days=valid_days,
    )
    return pki.device_cert(device_id)


def certificate_identity(cert_path: str | Path) -> str:
    """The subject CN of a PEM certificate (the device id the broker sees)."""
    cert = _load_cert(Path(cert_path))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ConfigError(f"{cert_path}: the certificate has no common name")
    return str(names[0].value)


def _write_crl(
    pki: TlsPki,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    revoked: list[x509.RevokedCertificate],
) -> None:
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=_CRL_DAYS))
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, hashes.SHA256())
    _write(pki.crl, crl.public_bytes(serialization.Encoding.PEM))


def _load_crl(pki: TlsPki) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(pki.crl.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{pki.crl}: not a readable PEM CRL: {exc}") from exc


def revoke(pki: TlsPki, device_ids: Iterable[str]) -> bool:
    """Put the current certificates of ``device_ids`` on the CRL (re-signed, valid 30 days).

    Returns True when the CRL changed. A device without a certificate is skipped (logged).
    The broker applies the new CRL to new TLS handshakes once it reloads it.
    """
    ca_cert, ca_key = _load_ca(pki)
    entries = list(_load_crl(pki))
    known = {e.serial_number for e in entries}
    added = 0
    for device_id in device_ids:
        path = pki.device_cert(device_id)
        if not path.exists():
            logger.warning("revoke %r: no certificate at %s", device_id, path)
            continue
        serial = _load_cert(path).serial_number
        if serial in known:
            continue
        entries.append(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(_now() - dt.timedelta(seconds=1))
            .build()
        )
        known.add(serial)
        added += 1
    if added:
        _write_crl(pki, ca_cert, ca_key, entries)
    return added > 0


def is_revoked(pki: TlsPki, device_id: str) -> bool:
    """Whether ``device_id``'s current certificate is on the CRL."""
    serial = _load_cert(pki.device_cert(device_id)).serial_number
    return _load_crl(pki).get_revoked_certificate_by_serial_number(serial) is not None
