"""The TLS PKI: chain, identities, key modes, reuse of the CA, and the CRL, checked by OpenSSL."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from v2xcloud.errors import ConfigError
from v2xcloud.security.tls import (
    certificate_identity,
    is_revoked,
    load_tls_pki,
    revoke,
    write_tls_pki,
)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _openssl_verify(pki_dir: Path, cert: Path, *, crl: bool) -> subprocess.CompletedProcess[str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    args = [openssl, "verify", "-CAfile", str(pki_dir / "ca.crt")]
    if crl:
        args += ["-crl_check", "-CRLfile", str(pki_dir / "crl.pem")]
    return subprocess.run([*args, str(cert)], capture_output=True, text=True, timeout=10)


def test_device_server_and_platform_certificates_chain_to_the_ca(tmp_path: Path) -> None:
    pki = write_tls_pki(tmp_path, ["R001", "obu-7"], platform_host="10.0.0.5")
    ca = _cert(pki.ca_cert)
    for path in (pki.device_cert("R001"), pki.server_cert, pki.platform_cert):
        _cert(path).verify_directly_issued_by(ca)
        assert _openssl_verify(tmp_path, path, crl=True).returncode == 0
    assert certificate_identity(pki.device_cert("obu-7")) == "obu-7"
    assert certificate_identity(pki.platform_cert) == "v2xcloud-platform"
    san = _cert(pki.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    ips = {str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)}
    assert ips == {"10.0.0.5", "127.0.0.1"}
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = _cert(pki.device_cert("R001")).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    pki = write_tls_pki(tmp_path, ["R001"])
    for key in (pki.ca_key, pki.server_key, pki.platform_key, pki.device_key("R001")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert b"PRIVATE KEY" in key.read_bytes()


def test_running_again_keeps_the_ca_and_adds_only_new_devices(tmp_path: Path) -> None:
    pki = write_tls_pki(tmp_path, ["R001"])
    ca_before = pki.ca_cert.read_bytes()
    r001_before = pki.device_cert("R001").read_bytes()
    write_tls_pki(tmp_path, ["R001", "R002"])
    assert pki.ca_cert.read_bytes() == ca_before
    assert pki.device_cert("R001").read_bytes() == r001_before
    _cert(pki.device_cert("R002")).verify_directly_issued_by(_cert(pki.ca_cert))


def test_a_revoked_certificate_fails_the_crl_check_and_others_pass(tmp_path: Path) -> None:
    pki = write_tls_pki(tmp_path, ["R001", "R002"])
    assert not is_revoked(pki, "R001")
    assert revoke(pki, ["R001", "no-cert"]) is True
    assert revoke(pki, ["R001"]) is False  # already on the list: the CRL is not rewritten
    assert is_revoked(pki, "R001") and not is_revoked(pki, "R002")
    crl = x509.load_pem_x509_crl(pki.crl.read_bytes())
    assert crl.is_signature_valid(_cert(pki.ca_cert).public_key())  # type: ignore[arg-type]
    refused = _openssl_verify(tmp_path, pki.device_cert("R001"), crl=True)
    assert refused.returncode != 0 and "revoked" in (refused.stdout + refused.stderr)
    assert _openssl_verify(tmp_path, pki.device_cert("R002"), crl=True).returncode == 0


def test_a_certificate_of_another_ca_does_not_verify(tmp_path: Path) -> None:
    write_tls_pki(tmp_path / "ours", [])
    theirs = write_tls_pki(tmp_path / "theirs", ["R001"])
    assert _openssl_verify(tmp_path / "ours", theirs.device_cert("R001"), crl=False).returncode != 0


@pytest.mark.parametrize("bad", ["", "a/b", "+", "x" * 65, "../etc"])
def test_an_id_that_cannot_be_a_certificate_name_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="cannot be a certificate name"):
        write_tls_pki(tmp_path, [bad])


def test_loading_a_directory_without_the_pki_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ca\.crt is missing"):
        load_tls_pki(tmp_path)
    write_tls_pki(tmp_path, [])
    assert load_tls_pki(tmp_path).crl.exists()
