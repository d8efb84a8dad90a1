"""security.crypto: SM2 (native OpenSSL) and ECDSA-P256 (cryptography), cross-checked against
independent pure-Python implementations (gmssl, ecdsa), the GM/T 0003 / GB/T 32918 examples
recomputed here, serialisation round trips and the negative cases."""

from __future__ import annotations

import binascii
import gc
import hashlib
import os
import random
import threading

import pytest
from ecdsa import BadSignatureError, NIST256p, VerifyingKey
from ecdsa import SigningKey as EcdsaSigningKey
from ecdsa.util import sigdecode_string, sigencode_string
from gmssl import sm2 as gm_sm2

from _polling import until as _until
from v2xcloud.errors import CryptoError
from v2xcloud.security import _p256_fixed
from v2xcloud.security._curves import CURVES, Curve
from v2xcloud.security._openssl import sm2_public_key
from v2xcloud.security._p256_fixed import TABLE_AFTER_USES
from v2xcloud.security._sm2_fixed import x_matches
from v2xcloud.security.crypto import (
    DEFAULT_SM2_ID,
    Verifier,
    compress_point,
    decompress_point,
    generate_signer,
    load_signer,
    signer_from_raw,
    sm2_z,
    sm3,
)
from v2xcloud.security.types import SignatureAlgorithm

SM2 = SignatureAlgorithm.SM2_SM3
P256 = SignatureAlgorithm.ECDSA_P256_SHA256
MESSAGE = b"\x00\x14\x01BSM frame under test" * 3


def _h(text: str) -> int:
    return int(text.replace(" ", ""), 16)


# --- a tiny affine SM2 in Python, to recompute the standard's worked examples ---------------


def _add(
    c: Curve, p1: tuple[int, int] | None, p2: tuple[int, int] | None
) -> tuple[int, int] | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and (p1[1] + p2[1]) % c.p == 0:
        return None
    if p1 == p2:
        lam = (3 * p1[0] * p1[0] + c.a) * pow(2 * p1[1], -1, c.p) % c.p
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, c.p) % c.p
    x = (lam * lam - p1[0] - p2[0]) % c.p
    return x, (lam * (p1[0] - x) - p1[1]) % c.p


def _mul(c: Curve, k: int, pt: tuple[int, int]) -> tuple[int, int]:
    acc: tuple[int, int] | None = None
    for bit in bin(k)[2:]:
        acc = _add(c, acc, acc)
        if bit == "1":
            acc = _add(c, acc, pt)
    assert acc is not None
    return acc


def _z(c: Curve, user_id: bytes, pub: tuple[int, int]) -> bytes:
    parts = [c.a, c.b, c.gx, c.gy, pub[0], pub[1]]
    head = (8 * len(user_id)).to_bytes(2, "big") + user_id
    return sm3(head + b"".join(v.to_bytes(32, "big") for v in parts))


def _sign_with_k(c: Curve, d: int, k: int, e: int) -> tuple[int, int]:
    x1, _ = _mul(c, k, (c.gx, c.gy))
    r = (e + x1) % c.n
    s = pow(1 + d, -1, c.n) * (k - r * d) % c.n
    return r, s


# GB/T 32918.2 (= GM/T 0003.2) Appendix A: the 256-bit example curve, ID ALICE123@YAHOO.COM
EXAMPLE_CURVE = Curve(
    name="example Fp-256",
    p=_h("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
    a=_h("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
    b=_h("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
    n=_h("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
    gx=_h("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"),
    gy=_h("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2"),
)


def test_standard_example_on_the_example_curve_recomputed() -> None:
    c = EXAMPLE_CURVE
    d = _h("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263")
    pub = _mul(c, d, (c.gx, c.gy))
    assert pub == (
        _h("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A"),
        _h("7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857"),
    )
    z = _z(c, b"ALICE123@YAHOO.COM", pub)
    assert z.hex().upper() == "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
    e = sm3(z + b"message digest")
    assert e.hex().upper() == "B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76"
    k = _h("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
    r, s = _sign_with_k(c, d, k, int.from_bytes(e, "big"))
    assert r == _h("40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1")
    assert s == _h("6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7")


# GM/T 0003.5 (= GB/T 32918.5) example: the recommended curve, default ID, "message digest"
REC_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
REC_K = _h("59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21")
REC_R = _h("F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3")
REC_S = _h("B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA")


def test_standard_example_on_the_recommended_curve_verifies_natively() -> None:
    c = CURVES[SM2]
    signer = signer_from_raw(SM2, REC_D)
    assert signer.public_key.hex().upper() == (
        "04" + "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    pub = (
        int.from_bytes(signer.public_key[1:33], "big"),
        int.from_bytes(signer.public_key[33:], "big"),
    )
    assert sm2_z(signer.public_key) == _z(c, DEFAULT_SM2_ID, pub)
    e_bytes = sm3(sm2_z(signer.public_key) + b"message digest")
    assert e_bytes.hex().upper() == (
        "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
    )
    e = int.from_bytes(e_bytes, "big")
    assert _sign_with_k(c, int.from_bytes(REC_D, "big"), REC_K, e) == (REC_R, REC_S)
    sig = REC_R.to_bytes(32, "big") + REC_S.to_bytes(32, "big")
    verifier = Verifier(SM2)
    assert verifier.verify(signer.public_key, b"message digest", sig)
    assert not verifier.verify(signer.public_key, b"message digesT", sig)
    assert not Verifier(SM2, sm2_id=b"ALICE123@YAHOO.COM").verify(
        signer.public_key, b"message digest", sig
    )


# --- cross-checks with independent implementations -----------------------------------------


def test_sm2_native_signatures_verify_with_gmssl_and_back() -> None:
    """Four keys, each way. gmssl 3.2.2 itself fails on about one random key or nonce in
    400 (a ``TypeError`` in its point arithmetic, py-gmssl issues #71 and #78, or an
    odd-length hex in its Z digest): such a round is no verdict and is drawn again, at most
    four times in all."""
    checked, crashed = 0, 0
    while checked < 4:
        i = checked
        signer = generate_signer(SM2)
        gm = gm_sm2.CryptSM2(
            private_key=signer.private_raw().hex(), public_key=signer.public_key[1:].hex()
        )
        message = MESSAGE + bytes([i]) * i
        ours = signer.sign(message)
        try:
            accepted = gm.verify_with_sm3(ours.hex(), message)
            theirs = bytes.fromhex(gm.sign_with_sm3(message))
        except (TypeError, binascii.Error):  # gmssl failing, not a rejection
            crashed += 1
            assert crashed <= 4, "gmssl failed on too many keys to cross-check anything"
            continue
        assert accepted, f"gmssl rejects native signature {i}"
        assert Verifier(SM2).verify(signer.public_key, message, theirs), f"native rejects gmssl {i}"
        assert not Verifier(SM2).verify(signer.public_key, message + b"x", theirs)
        checked += 1


def test_p256_signatures_verify_with_python_ecdsa_and_back() -> None:
    for i in range(4):
        signer = generate_signer(P256)
        other = VerifyingKey.from_string(signer.public_key, curve=NIST256p)
        message = MESSAGE + bytes([i]) * i
        ours = signer.sign(message)
        assert other.verify(ours, message, hashfunc=hashlib.sha256, sigdecode=sigdecode_string)
        sk = EcdsaSigningKey.from_string(signer.private_raw(), curve=NIST256p)
        theirs = sk.sign(message, hashfunc=hashlib.sha256, sigencode=sigencode_string)
        assert Verifier(P256).verify(signer.public_key, message, theirs)
        assert not Verifier(P256).verify(signer.public_key, message + b"x", theirs)


def test_sm2_fixed_base_tables_agree_with_openssl_own_verify() -> None:
    """The platform's SM2 path (first use interleaved, then the key's own table) against
    EVP_PKEY_verify on the same digests: valid, and with one bit of r or s flipped."""
    rng = random.Random(1320)
    signer = generate_signer(SM2)
    key = Verifier(SM2).prepare(signer.public_key)
    reference = sm2_public_key(signer.public_key)
    z = sm2_z(signer.public_key)
    for i in range(24):
        message = rng.randbytes(rng.randrange(0, 300))
        sig = signer.sign(message)
        if i % 2:
            sig = _flip(sig, rng.randrange(512))
        expected = reference.verify_digest(sm3(z + message), sig)
        assert expected is (i % 2 == 0), f"message {i}: OpenSSL says {expected}"
        assert key.verify(message, sig) is expected, f"message {i} (seed 1320)"
    assert key._key.has_table  # type: ignore[attr-defined]  # the hot path was exercised


def test_p256_key_table_is_built_in_the_background_and_agrees_with_python_ecdsa() -> None:
    rng = random.Random(256)
    signer = generate_signer(P256)
    other = VerifyingKey.from_string(signer.public_key, curve=NIST256p)
    verifier = Verifier(P256)
    key = verifier.prepare(signer.public_key)
    sig_of_message = signer.sign(MESSAGE)
    for _ in range(TABLE_AFTER_USES):
        assert key.verify(MESSAGE, sig_of_message)
    assert _until(lambda: key._key.has_table, 20.0), "no table 20 s after the hot count"  # type: ignore[attr-defined]
    assert verifier.table_budget.used == 1
    for i in range(24):
        message = rng.randbytes(rng.randrange(0, 300))
        sig = signer.sign(message)
        if i % 2:
            sig = _flip(sig, rng.randrange(512))
        try:
            expected = other.verify(
                sig, message, hashfunc=hashlib.sha256, sigdecode=sigdecode_string
            )
        except BadSignatureError:
            expected = False
        assert expected is (i % 2 == 0)
        assert key.verify(message, sig) is expected, f"message {i} (seed 256)"
    tiny = Verifier(P256, table_memory_mb=0.1)  # less than one table: keys stay plain
    plain = tiny.prepare(signer.public_key)
    for _ in range(TABLE_AFTER_USES):
        assert plain.verify(MESSAGE, sig_of_message)
    assert tiny.table_budget.declined == 1 and not plain._key.has_table  # type: ignore[attr-defined]


def test_a_forked_child_builds_its_own_p256_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder thread does not survive fork(): a child must start its own."""
    monkeypatch.setattr(_p256_fixed, "TABLE_AFTER_USES", 5)
    signer = generate_signer(P256)
    sig = signer.sign(MESSAGE)
    parent = Verifier(P256).prepare(signer.public_key)
    for _ in range(6):  # the parent's builder thread runs before the fork
        parent.verify(MESSAGE, sig)
    assert _until(lambda: parent._key.has_table, 20.0)  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a hot key gets its table and still verifies
        code = 1
        try:
            key = Verifier(P256).prepare(signer.public_key)
            for _ in range(6):
                key.verify(MESSAGE, sig)
            ok = _until(lambda: key._key.has_table, 10.0)  # type: ignore[attr-defined]
            code = 0 if ok and key.verify(MESSAGE, sig) and not key.verify(b"x", sig) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_verification_from_several_threads_at_once_stays_exact(
    algorithm: SignatureAlgorithm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctypes releases the GIL in every OpenSSL call: four threads verify the same hot keys
    (tables built mid-run: P-256's hot count lowered to 10 here) and fresh ones, valid and
    forged, and every verdict is right."""
    monkeypatch.setattr(_p256_fixed, "TABLE_AFTER_USES", 10)
    signers = [generate_signer(algorithm) for _ in range(3)]
    verifier = Verifier(algorithm)
    cases = []
    for i in range(60):
        signer = signers[i % 3]
        message = MESSAGE + i.to_bytes(2, "big")
        sig = signer.sign(message)
        cases.append((signer.public_key, message, sig if i % 4 else _flip(sig, i), i % 4 != 0))
    wrong: list[int] = []

    def run(offset: int) -> None:
        for j in range(len(cases)):
            key, message, sig, expected = cases[(j + offset) % len(cases)]
            if verifier.verify(key, message, sig) is not expected:
                wrong.append(j)

    threads = [threading.Thread(target=run, args=(k * 15,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads) and wrong == []
    assert _until(lambda: verifier.table_budget.used == 3, 20.0)  # each hot key got its table
    run(0)
    assert wrong == []


def test_sm2_x_check_in_jacobian_coordinates_covers_both_residues() -> None:
    """The affine x1 is c or c + n (p < 2n); the check compares X with c * Z^2 mod p."""
    c_curve = CURVES[SM2]
    p, n = c_curve.p, c_curve.n
    rng = random.Random(7)
    for _ in range(20):
        z = rng.randrange(1, p)
        c = rng.randrange(0, p - n)  # so that c + n < p: both residues are field elements
        for x1 in (c, c + n):
            assert x_matches(x1 * z * z % p, z, c)
        assert not x_matches((c + 1) * z * z % p, z, c)
        assert not x_matches(c * z * z % p, 0, c)  # Z = 0: the point at infinity


# --- negatives --------------------------------------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_a_flipped_bit_anywhere_fails(algorithm: SignatureAlgorithm) -> None:
    signer = generate_signer(algorithm)
    other = generate_signer(algorithm)
    verifier = Verifier(algorithm)
    sig = signer.sign(MESSAGE)
    assert verifier.verify(signer.public_key, MESSAGE, sig)
    for bit in (0, 7, 100, len(MESSAGE) * 8 - 1):
        assert not verifier.verify(signer.public_key, _flip(MESSAGE, bit), sig), bit
    for bit in (0, 255, 256, 511):
        assert not verifier.verify(signer.public_key, MESSAGE, _flip(sig, bit)), bit
    assert not verifier.verify(other.public_key, MESSAGE, sig)
    assert not verifier.verify(signer.public_key, MESSAGE, sig[:63])
    assert not verifier.verify(signer.public_key, MESSAGE, b"\0" * 64)
    # a flipped bit in the key: mostly off the curve (an error), else simply another key
    for bit in (8, 300, 519):
        try:
            assert not verifier.verify(_flip(signer.public_key, bit), MESSAGE, sig)
        except CryptoError as exc:
            assert "curve" in str(exc)


def test_sm2_wrong_user_id_fails_and_matching_id_passes() -> None:
    signer = generate_signer(SM2, sm2_id=b"obu-1@v2xcloud")
    sig = signer.sign(MESSAGE)
    assert Verifier(SM2, sm2_id=b"obu-1@v2xcloud").verify(signer.public_key, MESSAGE, sig)
    assert not Verifier(SM2).verify(signer.public_key, MESSAGE, sig)
    gm = gm_sm2.CryptSM2(private_key=None, public_key=signer.public_key[1:].hex())
    assert not gm.verify_with_sm3(sig.hex(), MESSAGE)  # gmssl hashes the default id


def test_sm2_signature_with_r_or_s_out_of_range_fails() -> None:
    signer = generate_signer(SM2)
    n = CURVES[SM2].n.to_bytes(32, "big")
    sig = signer.sign(MESSAGE)
    assert not Verifier(SM2).verify(signer.public_key, MESSAGE, n + sig[32:])
    assert not Verifier(SM2).verify(signer.public_key, MESSAGE, sig[:32] + n)
    assert not Verifier(SM2).verify(signer.public_key, MESSAGE, b"\xff" * 64)


# --- keys and points -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_private_keys_round_trip_pem_and_raw(algorithm: SignatureAlgorithm) -> None:
    signer = generate_signer(algorithm)
    pem = signer.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    again = load_signer(pem)
    assert again.algorithm is algorithm
    assert again.public_key == signer.public_key
    assert signer_from_raw(algorithm, signer.private_raw()).public_key == signer.public_key
    assert Verifier(algorithm).verify(signer.public_key, MESSAGE, again.sign(MESSAGE))


def test_bad_private_keys_are_errors() -> None:
    with pytest.raises(CryptoError, match="PEM"):
        load_signer(b"not a key")
    with pytest.raises(CryptoError, match=r"\[1, n-1\]"):
        signer_from_raw(SM2, b"\0" * 32)
    with pytest.raises(CryptoError, match=r"\[1, n-1\]"):
        signer_from_raw(P256, CURVES[P256].n.to_bytes(32, "big"))


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_points_compress_and_decompress(algorithm: SignatureAlgorithm) -> None:
    for _ in range(6):
        point = generate_signer(algorithm).public_key
        small = compress_point(point)
        assert len(small) == 33 and small[0] in (2, 3)
        assert decompress_point(algorithm, small) == point
        assert decompress_point(algorithm, point) == point
    with pytest.raises(CryptoError, match="not on the curve"):
        decompress_point(algorithm, b"\x04" + b"\x01" * 64)
    with pytest.raises(CryptoError, match="33 bytes"):
        decompress_point(algorithm, b"\x05" + b"\x01" * 32)


def test_sm2_tables_are_bounded_and_given_back() -> None:
    verifier = Verifier(SM2, cache_size=3, table_memory_mb=2 * 80 / 1024)
    signers = [generate_signer(SM2) for _ in range(4)]
    for s in signers[:3]:
        sig = s.sign(MESSAGE)
        for _ in range(3):
            assert verifier.verify(s.public_key, MESSAGE, sig)
        assert not verifier.verify(s.public_key, MESSAGE + b"!", sig)
    budget = verifier.table_budget
    assert (budget.used, budget.declined) == (2, 1)
    keys = [verifier.prepare(s.public_key)._key for s in signers[:3]]  # type: ignore[attr-defined]
    assert [k.has_table for k in keys] == [True, True, False]
    del keys
    s = signers[3]  # a fourth key evicts the first (cache of 3), whose table is given back
    assert verifier.verify(s.public_key, MESSAGE, s.sign(MESSAGE))
    gc.collect()
    assert budget.used == 1
    assert verifier.verify(s.public_key, MESSAGE, s.sign(MESSAGE))
    assert budget.used == 2 and verifier.prepare(s.public_key)._key.has_table  # type: ignore[attr-defined]


def test_verifier_prepares_once_and_bounds_its_cache() -> None:
    verifier = Verifier(SM2, cache_size=2)
    signers = [generate_signer(SM2) for _ in range(3)]
    first = verifier.prepare(signers[0].public_key)
    assert verifier.prepare(signers[0].public_key) is first
    for s in signers:
        assert verifier.verify(s.public_key, MESSAGE, s.sign(MESSAGE))
    assert len(verifier.cache) == 2 and verifier.cache.evicted == 1
