"""The signature input rule (``security.sig_input``) against independent implementations.

intl: IEEE 1609.2 §5.3.1 signs ``SHA-256(SHA-256(tbs) || SHA-256(signer certificate or ""))``;
the digest is recomputed here with hashlib alone and checked with python-ecdsa's
``verify_digest``, and python-ecdsa's RFC 6979 deterministic signatures over it are accepted by
our receiver. cn: the SM2 user id is SM3 of the signer certificate, the message the tbs bytes;
``e = SM3(Z || tbs)`` is recomputed here and checked with gmssl, both ways.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ecdsa import NIST256p, SigningKey, VerifyingKey
from ecdsa.keys import BadSignatureError
from ecdsa.util import sigdecode_string, sigencode_string
from gmssl import sm2 as gm_sm2

from v2xcloud.cli.main import main
from v2xcloud.security import crypto, sig_input
from v2xcloud.security._curves import CURVES
from v2xcloud.security.codec import (
    decode_certificate,
    decode_secured,
    encode_signed,
    is_canonical_certificate,
    schema,
)
from v2xcloud.security.pki import Pki, issue_certificate, kind_aids, load_pki
from v2xcloud.security.sig_input import SIGNER_HASHES, sign_data, signature_input
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.trust import Trusted
from v2xcloud.security.types import (
    Certificate,
    SecurityProfile,
    Signature,
    SignatureAlgorithm,
    SignedFrame,
)
from v2xcloud.security.verify import Policy, Verified, link_verify, stage_from_pki

from ._pki import NOW_MS, PKI_MS, pkis, uper_bsm

__all__ = ["pkis"]

P256 = SignatureAlgorithm.ECDSA_P256_SHA256
SM2 = SignatureAlgorithm.SM2_SM3
FIXED_SCALAR = hashlib.sha256(b"v2xcloud sig_input fixed test key").digest()  # < n of both curves


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _digest_1609(tbs: bytes, signer: Certificate | None) -> bytes:
    """IEEE 1609.2 §5.3.1 for ECDSA-P256, computed here without the package."""
    return _sha256(_sha256(tbs) + _sha256(signer.encoded if signer is not None else b""))


def _ecdsa_key(point: bytes) -> VerifyingKey:
    return VerifyingKey.from_string(point, curve=NIST256p)  # compressed or uncompressed


def _fixed_device(pki: Pki, algorithm: SignatureAlgorithm) -> tuple[Certificate, crypto.Signer]:
    """A certificate for the fixed private scalar, issued by the PKI's pseudonym CA."""
    key = crypto.signer_from_raw(algorithm, FIXED_SCALAR)
    ca = (pki.certificate("pseudonym-ca"), pki.signer("pseudonym-ca"))
    start = (PKI_MS // 3_600_000) * 3_600_000
    cert = issue_certificate(
        profile=pki.profile,
        name="fixed-key.pseudonym",
        subject=key,
        issuer=ca,
        start_ms=start,
        end_ms=start + 24 * 3_600_000,
        region=ca[0].region,
        aids=kind_aids("obu"),
    )
    return cert, key


def _frame_with(cert: Certificate, tbs_signer: object, payload: bytes) -> bytes:
    """A full-certificate frame whose signature ``tbs_signer(tbs) -> r || s`` makes."""
    algorithm = cert.verification_key.algorithm

    def sign(tbs: bytes) -> Signature:
        rs = tbs_signer(tbs)  # type: ignore[operator]
        return Signature(algorithm=algorithm, r=rs[:32], s=rs[32:])

    return encode_signed(
        profile=cert.profile,
        aid=kind_aids("obu")[0],
        payload=payload,
        signer=[cert],
        sign=sign,
        generation_time_ms=NOW_MS,
    ).raw


def test_intl_frames_follow_ieee_1609_2_both_ways(
    pkis: dict[tuple[SecurityProfile, str], Pki],
) -> None:
    pki = pkis[(SecurityProfile.INTL, "main")]
    cert, key = _fixed_device(pki, P256)
    sk = SigningKey.from_string(FIXED_SCALAR, curve=NIST256p)
    vk = _ecdsa_key(cert.verification_key.point)
    # ours -> python-ecdsa: the frame's signature verifies over the 1609.2 digest, and over
    # neither the bare tbs (the old rule) nor a digest naming no signer
    ours = FrameSigner(cert, key).sign(uper_bsm(), generation_time_ms=NOW_MS, with_certificate=True)
    frame = decode_secured(ours)
    assert isinstance(frame, SignedFrame)
    rs = frame.signature.r + frame.signature.s
    assert vk.verify_digest(rs, _digest_1609(frame.tbs_bytes, cert), sigdecode=sigdecode_string)
    for wrong in (_sha256(frame.tbs_bytes), _digest_1609(frame.tbs_bytes, None)):
        try:
            vk.verify_digest(rs, wrong, sigdecode=sigdecode_string)
        except BadSignatureError:
            continue
        raise AssertionError("the signature also verifies under another input rule")
    # python-ecdsa (RFC 6979 nonce) -> ours: a frame signed by an independent implementation
    # of the rule passes the whole receive path
    calls: list[bytes] = []

    def theirs(tbs: bytes) -> bytes:
        digest = _digest_1609(tbs, cert)
        sig = sk.sign_digest_deterministic(
            digest, hashfunc=hashlib.sha256, sigencode=sigencode_string
        )
        calls.append(sig)
        return sig

    raw = _frame_with(cert, theirs, uper_bsm())
    again = _frame_with(cert, theirs, uper_bsm())
    assert raw == again and calls[0] == calls[1]  # deterministic: the same bytes each time
    stage = stage_from_pki(pki, policy=Policy.parse("require"))
    assert isinstance(stage.process(raw, kind="obu", now_ms=NOW_MS), Verified)
    tampered = bytearray(raw)
    tampered[10] ^= 0x01  # inside the payload the signature covers
    result = stage.process(bytes(tampered), kind="obu", now_ms=NOW_MS)
    assert not isinstance(result, Verified)


def test_pki_init_intl_chain_verifies_with_python_ecdsa_by_the_1609_2_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki_dir = tmp_path / "pki"
    args = ["pki", "init", str(pki_dir), "--profile", "intl", "--no-tls", "--devices", "obu-1"]
    assert main(args) == 0
    pki = load_pki(pki_dir)
    chain = [pki.certificate(n) for n in ("root", "pseudonym-ca", "obu-1.pseudonym")]
    issuers: list[Certificate | None] = [None, chain[0], chain[1]]
    for cert, issuer in zip(chain, issuers, strict=True):
        assert cert.signature is not None
        signing = cert if issuer is None else issuer  # root: its own key, the empty string
        vk = _ecdsa_key(signing.verification_key.point)
        rs = cert.signature.r + cert.signature.s
        assert vk.verify_digest(
            rs, _digest_1609(cert.tbs_bytes, issuer), sigdecode=sigdecode_string
        )
        wrong = _sha256(cert.tbs_bytes)  # the old rule: the bare to-be-signed bytes
        try:
            vk.verify_digest(rs, wrong, sigdecode=sigdecode_string)
        except BadSignatureError:
            continue
        raise AssertionError(f"{cert.subject_name} also verifies over the bare tbs")
    # and a frame from 'v2xcloud sign' verifies with python-ecdsa
    (tmp_path / "in.hex").write_text(uper_bsm().hex() + "\n")
    capsys.readouterr()
    assert main(["sign", "--pki", str(pki_dir), "--device", "obu-1", str(tmp_path / "in.hex")]) == 0
    frame = decode_secured(bytes.fromhex(capsys.readouterr().out.split()[0]))
    assert isinstance(frame, SignedFrame)
    signer = chain[2]
    vk = _ecdsa_key(signer.verification_key.point)
    rs = frame.signature.r + frame.signature.s
    assert vk.verify_digest(rs, _digest_1609(frame.tbs_bytes, signer), sigdecode=sigdecode_string)


def _sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _z(user_id: bytes, point: bytes) -> bytes:
    c = CURVES[SM2]
    head = (8 * len(user_id)).to_bytes(2, "big") + user_id
    return _sm3(head + b"".join(v.to_bytes(32, "big") for v in (c.a, c.b, c.gx, c.gy)) + point[1:])


def test_cn_frames_use_the_signer_certificate_hash_as_sm2_id_both_ways(
    pkis: dict[tuple[SecurityProfile, str], Pki],
) -> None:
    pki = pkis[(SecurityProfile.CN, "main")]
    cert, key = _fixed_device(pki, SM2)
    point = key.public_key
    gm = gm_sm2.CryptSM2(private_key=FIXED_SCALAR.hex(), public_key=point[1:].hex())
    ours = FrameSigner(cert, key).sign(uper_bsm(), generation_time_ms=NOW_MS, with_certificate=True)
    frame = decode_secured(ours)
    assert isinstance(frame, SignedFrame)
    rs = (frame.signature.r + frame.signature.s).hex()
    e = _sm3(_z(_sm3(cert.encoded), point) + frame.tbs_bytes)
    assert gm.verify(rs, e)
    assert not gm.verify(rs, _sm3(_z(crypto.DEFAULT_SM2_ID, point) + frame.tbs_bytes))

    def theirs(tbs: bytes) -> bytes:
        digest = _sm3(_z(_sm3(cert.encoded), point) + tbs)
        return bytes.fromhex(gm.sign(digest, "5a" * 32))

    raw = _frame_with(cert, theirs, uper_bsm())
    stage = stage_from_pki(pki, policy=Policy.parse("require"))
    assert isinstance(stage.process(raw, kind="obu", now_ms=NOW_MS), Verified)
    # the issuer's signature over a certificate: the issuer's certificate hash as the id
    ca = pki.certificate("pseudonym-ca")
    assert cert.signature is not None
    ca_point = crypto.decompress_point(SM2, ca.verification_key.point)
    gm_ca = gm_sm2.CryptSM2(private_key="", public_key=ca_point[1:].hex())
    e_cert = _sm3(_z(_sm3(ca.encoded), ca_point) + cert.tbs_bytes)
    assert gm_ca.verify((cert.signature.r + cert.signature.s).hex(), e_cert)


def test_signer_certificate_hash_is_computed_once_per_certificate(
    pkis: dict[tuple[SecurityProfile, str], Pki], monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = pkis[(SecurityProfile.INTL, "main")]
    cert = pki.certificate("obu-1.pseudonym")
    assert cert.digest is not None
    SIGNER_HASHES.pop((P256, cert.digest), None)
    hashed: list[int] = []
    real = sig_input.hash_for

    def counting(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
        hashed.append(len(data))
        return real(algorithm, data)

    monkeypatch.setattr(sig_input, "hash_for", counting)
    inputs = [signature_input(P256, bytes([i]), cert) for i in range(100)]
    assert hashed == [len(cert.encoded)]  # the certificate once, not per frame
    assert all(m.message[32:] == _sha256(cert.encoded) for m in inputs)
    assert inputs[0].message[:32] == _sha256(b"\x00")


def test_a_ca_certificate_with_fields_the_domain_type_does_not_keep_is_trusted(
    pkis: dict[tuple[SecurityProfile, str], Pki],
) -> None:
    """Real SCMS CA certificates carry an encryption key (and SSP ranges) that
    ``Certificate`` does not model; they are canonical COER all the same and must chain."""
    pki = pkis[(SecurityProfile.INTL, "main")]
    spec = schema(SecurityProfile.INTL)
    root, root_key = pki.certificate("root"), pki.signer("root")
    value = spec.decode("Certificate", pki.certificate("pseudonym-ca").encoded)
    value["toBeSigned"]["id"] = ("name", "ca-with-encryption-key")
    value["toBeSigned"]["encryptionKey"] = {
        "supportedSymmAlg": "aes128Ccm",
        "publicKey": (
            "eciesNistP256",
            ("compressed-y-0", crypto.compress_point(crypto.generate_signer(P256).public_key)[1:]),
        ),
    }
    tbs = bytes(spec.encode("ToBeSignedCertificate", value["toBeSigned"]))
    rs = sign_data(root_key, tbs, root)
    value["signature"] = ("ecdsaNistP256Signature", {"rSig": ("x-only", rs[:32]), "sSig": rs[32:]})
    cert = decode_certificate(
        bytes(spec.encode("Certificate", value)), profile=SecurityProfile.INTL
    )
    assert is_canonical_certificate(cert)
    store = pki.trust_store(link_verify({P256: crypto.Verifier(P256)}), known_devices=False)
    trusted = store.learn([cert], at_ms=NOW_MS)
    assert isinstance(trusted, Trusted) and trusted.is_ca, trusted
    # one loosely readable bit changed (the preamble's padding): same content, refused
    mutant = decode_certificate(
        bytes([cert.encoded[0] | 0x01]) + cert.encoded[1:], profile=SecurityProfile.INTL
    )
    assert not is_canonical_certificate(mutant)
