"""``v2xcloud pki init``, ``sign`` and ``verify`` end to end, both profiles; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2xcloud.cli.main import main
from v2xcloud.security.pki import load_pki

from ._pki import uper_bsm


@pytest.mark.parametrize("profile", ["cn", "intl"])
def test_init_sign_verify(tmp_path: Path, profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    pki_dir = tmp_path / "pki"
    assert main(["pki", "init", str(pki_dir), "--profile", profile]) == 0
    manifest = json.loads((pki_dir / "manifest.json").read_text())
    roles = {e["name"]: e["role"] for e in manifest["certificates"]}
    assert roles == {
        "root": "root",
        "enrolment-ca": "enrolment-ca",
        "pseudonym-ca": "pseudonym-ca",
        "platform": "platform",
        "obu-1.enrolment": "enrolment",
        "obu-1.pseudonym": "pseudonym",
        "rsu-1.enrolment": "enrolment",
        "rsu-1.pseudonym": "pseudonym",
    }
    rsu = next(e for e in manifest["certificates"] if e["name"] == "rsu-1.pseudonym")
    assert rsu["kind"] == "rsu" and rsu["aids"] == [39, 130, 131]
    assert (pki_dir / "keys" / "root.pem").stat().st_mode & 0o077 == 0  # keys: owner only
    assert (pki_dir / "tls" / "devices" / "obu-1.crt").exists()  # the MQTT mTLS side
    assert main(["pki", "init", str(pki_dir)]) == 2  # never over an existing PKI
    capsys.readouterr()

    frames = tmp_path / "frames.hex"
    frames.write_text("\n".join(uper_bsm(f"00000000000000a{i}").hex() for i in range(3)) + "\n")
    assert main(["sign", "--pki", str(pki_dir), "--device", "obu-1", str(frames)]) == 0
    signed = capsys.readouterr().out.split()
    assert len(signed) == 3

    tampered = bytearray.fromhex(signed[1])
    tampered[-1] ^= 1
    lines = [signed[0], tampered.hex(), signed[0], "zz", uper_bsm().hex(), signed[2]]
    to_verify = tmp_path / "signed.hex"
    to_verify.write_text("\n".join(lines) + "\n")
    assert main(["verify", "--pki", str(pki_dir), str(to_verify)]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("reason") for o in out] == [
        None, "bad_signature", "replay", "framing", "unsigned", None
    ]  # fmt: skip
    good = out[0]
    pseudonym = load_pki(pki_dir).certificate("obu-1.pseudonym")
    assert good["verified"] is True and good["device"] == "obu-1" and good["aid"] == 32
    assert good["signer"] == pseudonym.digest.hex()  # type: ignore[union-attr]
    assert good["payload"] == uper_bsm("00000000000000a0").hex()
    assert all(o["detail"] for o in out if o.get("rejected"))

    only_good = tmp_path / "good.hex"
    only_good.write_text(signed[2] + "\n")
    assert main(["verify", "--pki", str(pki_dir), str(only_good)]) == 0


def test_revoke_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki_dir = tmp_path / "pki"
    assert (
        main(["pki", "init", str(pki_dir), "--profile", "intl", "--devices", "obu-7", "--no-tls"])
        == 0
    )
    frames = tmp_path / "frames.hex"
    frames.write_text(uper_bsm().hex() + "\n")
    assert main(["sign", "--pki", str(pki_dir), "--device", "obu-9", str(frames)]) == 2
    assert main(["sign", "--pki", str(tmp_path / "none"), "--device", "obu-7", str(frames)]) == 2
    assert main(["verify", "--pki", str(pki_dir), "--set", "csae2099", str(frames)]) == 2
    assert main(["verify", "--pki", str(pki_dir), "--policy", "strict", str(frames)]) == 2
    capsys.readouterr()
    assert main(["sign", "--pki", str(pki_dir), "--device", "obu-7", str(frames)]) == 0
    signed = tmp_path / "signed.hex"
    signed.write_text(capsys.readouterr().out)
    assert main(["pki", "revoke", str(pki_dir), "obu-7", "--at-ms", "0"]) == 0
    capsys.readouterr()
    assert main(["verify", "--pki", str(pki_dir), str(signed)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["reason"] == "revoked"


def test_serve_security_options_are_checked_first(tmp_path: Path) -> None:
    assert main(["serve", "--security-policy", "require", "--data-dir", str(tmp_path)]) == 2
    assert main(["serve", "--pki", str(tmp_path / "none"), "--data-dir", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())  # nothing opened or written
