"""``v2xcloud devices --tls DIR | --password-file FILE``: each simulated device's own login."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from v2xcloud.cli.devices_commands import _credentials
from v2xcloud.errors import ConfigError
from v2xcloud.security.tls import write_tls_pki


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**({"mqtt": "mqtts://127.0.0.1:8883", "tls": None} | kw))


def test_certificates_come_from_the_pki_directory(tmp_path: Path) -> None:
    pki = write_tls_pki(tmp_path, ["R1"])
    identity = _credentials(_args(tls=str(tmp_path), password_file=None))
    assert identity is not None
    creds = identity("R1")
    assert (creds.ca_certs, creds.certfile) == (str(pki.ca_cert), str(pki.device_cert("R1")))
    with pytest.raises(ConfigError, match="no certificate for device 'R9'"):
        identity("R9")
    with pytest.raises(ConfigError, match="mqtts://"):
        _credentials(_args(tls=str(tmp_path), password_file=None, mqtt="mqtt://127.0.0.1:1883"))


def test_passwords_come_from_the_file_and_a_bad_line_is_named(tmp_path: Path) -> None:
    good = tmp_path / "pw.txt"
    good.write_text("# devices\ncar-1:s3:cret\n\nR1:other\n")
    identity = _credentials(_args(tls=None, password_file=str(good)))
    assert identity is not None
    assert (identity("car-1").username, identity("car-1").password) == ("car-1", "s3:cret")
    with pytest.raises(ConfigError, match="no password for device 'x'"):
        identity("x")
    bad = tmp_path / "bad.txt"
    bad.write_text("car-1:ok\njust-an-id\n")
    with pytest.raises(ConfigError, match="line 2"):
        _credentials(_args(tls=None, password_file=str(bad)))
    assert _credentials(_args(tls=None, password_file=None)) is None
