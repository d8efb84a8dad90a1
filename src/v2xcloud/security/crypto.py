"""Signing and verification behind one interface: ECDSA-P256-SHA256 and SM2-with-SM3.

* :class:`Signer` holds a private key: ``sign(tbs) -> r || s`` (64 bytes), its public point,
  and its serialisation (raw 32-byte scalar or PKCS#8 PEM, as a PKI directory keeps it).
* :class:`Verifier` checks ``r || s`` signatures for one algorithm. ``prepare(public_key)``
  turns a point (compressed or uncompressed, as certificates carry it) into a
  :class:`VerifyingKey` once: the native key object is built, and for SM2 the signer's
  ``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` is hashed, so verifying many
  messages of one certificate re-parses nothing. Prepared keys are cached per point (bounded).

ECDSA-P256 keys are made, serialised and sign through ``cryptography``; they verify on the
system OpenSSL 3's nistz256 code, a key verified ~800 times getting its own fixed-base table
built in the background (:mod:`v2xcloud.security._p256_fixed`, about 2.5 times
``cryptography``'s verify once built). SM2 (GB/T 32918.2, user id ``1234567812345678`` unless
given) runs through the system OpenSSL 3: signing with ``EVP_PKEY_sign`` on the digest
``e = SM3(Z || M)`` (:mod:`v2xcloud.security._openssl`), verification on OpenSSL's curve
arithmetic with fixed-base tables for G and for each hot key
(:mod:`v2xcloud.security._sm2_fixed`), about 3 times OpenSSL's own SM2 verify.

A signature that is well formed but wrong, or of the wrong length, verifies as ``False``; a
key or point that is not on the curve raises :class:`~v2xcloud.errors.CryptoError`.

>>> signer = generate_signer(SignatureAlgorithm.SM2_SM3)
>>> sig = signer.sign(b"to be signed")
>>> Verifier(SignatureAlgorithm.SM2_SM3).verify(signer.public_key, b"to be signed", sig)
True
"""

from __future__ import annotations

import base64
import hashlib
import logging
from abc import ABC, abstractmethod
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)

from v2xcloud.bounded import LruTable
from v2xcloud.errors import CryptoError
from v2xcloud.security import _openssl
from v2xcloud.security._curves import CURVES, compress_point, decompress_point
from v2xcloud.security._p256_fixed import P256_TABLE_BYTES, P256TabledKey
from v2xcloud.security._sm2_fixed import SM2_TABLE_BYTES, Sm2FixedBaseKey, TableBudget
from v2xcloud.security.types import SignatureAlgorithm

__all__ = [
    "DEFAULT_SM2_ID",
    "Signer",
    "Verifier",
    "VerifyingKey",
    "compress_point",
    "decompress_point",
    "generate_signer",
    "hash_for",
    "load_signer",
    "sha256",
    "signer_from_raw",
    "sm2_z",
    "sm3",
]

logger = logging.getLogger(__name__)

DEFAULT_SM2_ID = b"1234567812345678"
"""The SM2 signer identity of GB/T 35276 / GM/T 0009 when none is agreed."""

_SM2_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301 (curve sm2p256v1)
_P256_OID_DER = bytes.fromhex("06082a8648ce3d030107")  # 1.2.840.10045.3.1.7 (prime256v1)


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905) of ``data`` (32 bytes), through OpenSSL via ``hashlib``."""
    return hashlib.new("sm3", data).digest()


def hash_for(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    """The hash that goes with ``algorithm`` (SHA-256 or SM3) over ``data``."""
    return sm3(data) if algorithm is SignatureAlgorithm.SM2_SM3 else sha256(data)


def sm2_z(point: bytes, user_id: bytes = DEFAULT_SM2_ID) -> bytes:
    """``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` for an uncompressed point.

    Raises:
        CryptoError: the id is longer than 8191 bytes (ENTL is 16 bits of bit length).
    """
    if len(user_id) > 0x1FFF:
        raise CryptoError(f"SM2 user id is {len(user_id)} bytes; at most 8191 fit ENTL")
    c = CURVES[SignatureAlgorithm.SM2_SM3]
    fields = (c.a, c.b, c.gx, c.gy)
    head = (8 * len(user_id)).to_bytes(2, "big") + user_id
    return sm3(head + b"".join(v.to_bytes(32, "big") for v in fields) + point[1:])


def _der_to_raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(label: str, der: bytes) -> str:
    text = base64.encodebytes(der).decode().replace("\n", "")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(pem: bytes) -> bytes:
    lines = pem.decode("ascii", errors="replace").strip().splitlines()
    if (
        len(lines) < 3
        or not lines[0].startswith("-----BEGIN ")
        or not lines[-1].startswith("-----END ")
    ):
        raise CryptoError("private key is not PEM (expected -----BEGIN PRIVATE KEY-----)")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise CryptoError(f"private key PEM body is not base64: {exc}") from exc


# --- the interface -----------------------------------------------------------------------


class Signer(ABC):
    """A private key that signs: ``sign(tbs)`` returns ``r || s``, 64 bytes."""

    algorithm: SignatureAlgorithm
    public_key: bytes
    """The public point, uncompressed (``04 || x || y``, 65 bytes)."""

    @abstractmethod
    def sign(self, tbs: bytes, *, sm2_id: bytes | None = None) -> bytes:
        """Sign ``tbs`` (hashed inside): ``r || s``, 64 bytes. ``sm2_id``: the SM2 user id
        hashed into ``Z`` for this signature (``None``: the signer's own; ECDSA ignores it).
        What ``tbs`` is for a frame or certificate is ``security.sig_input``'s rule."""

    @abstractmethod
    def private_raw(self) -> bytes:
        """The private scalar, 32 bytes big-endian (keep it secret)."""

    @abstractmethod
    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``)."""

    def public_key_compressed(self) -> bytes:
        """The public point compressed (``02|03 || x``, 33 bytes)."""
        return compress_point(self.public_key)


class VerifyingKey(ABC):
    """One public key made ready to verify (native key object built, SM2 ``Z`` hashed)."""

    algorithm: SignatureAlgorithm
    public_key: bytes
    """The public point, uncompressed (65 bytes)."""

    @abstractmethod
    def verify(self, tbs: bytes, signature: bytes) -> bool:
        """True when ``signature`` (``r || s``, 64 bytes) signs ``tbs`` with this key."""


class Verifier:
    """Verifies ``r || s`` signatures of one algorithm; prepared keys are cached per point.

    ``cache_size`` bounds the prepared keys (least recently prepared evicted and counted in
    ``cache.evicted``); ``sm2_id`` is the signer identity hashed into SM2's ``Z``. Hot keys
    get their own fixed-base table inside OpenSSL (SM2: on the second verification, ~80 KB;
    P-256: after ~800, ~150 KB); the tables of one verifier hold at most ``table_memory_mb``,
    keys past it keep the plain path (``table_budget.declined`` counts them), and an evicted
    key's table is freed. Safe to share between threads.

    Raises (from :meth:`prepare` and :meth:`verify`):
        CryptoError: the public key is not a point on the algorithm's curve.
    """

    def __init__(
        self,
        algorithm: SignatureAlgorithm,
        *,
        sm2_id: bytes = DEFAULT_SM2_ID,
        cache_size: int = 4096,
        table_memory_mb: float = 96.0,
    ) -> None:
        self.algorithm = SignatureAlgorithm(algorithm)
        self.sm2_id = sm2_id
        self._is_sm2 = self.algorithm is SignatureAlgorithm.SM2_SM3
        per_table = (
            SM2_TABLE_BYTES if self.algorithm is SignatureAlgorithm.SM2_SM3 else P256_TABLE_BYTES
        )
        self.table_budget = TableBudget(int(table_memory_mb * 2**20) // per_table)
        self.cache: LruTable[bytes, VerifyingKey] = LruTable(
            limit=cache_size, name=f"prepared {self.algorithm} keys"
        )

    def prepare(self, public_key: bytes, *, sm2_id: bytes | None = None) -> VerifyingKey:
        """The ready key for ``public_key`` (33-byte compressed or 65-byte uncompressed);
        ``sm2_id`` the SM2 user id of its ``Z`` (``None``: the verifier's ``sm2_id``)."""
        entry = public_key if sm2_id is None or not self._is_sm2 else public_key + sm2_id
        key = self.cache.get(entry)
        if key is None:
            key = self._build(public_key, self.sm2_id if sm2_id is None else sm2_id)
            self.cache[entry] = key
        return key

    def verify(
        self, public_key: bytes, tbs: bytes, signature: bytes, *, sm2_id: bytes | None = None
    ) -> bool:
        """True when ``signature`` (``r || s``) signs ``tbs`` under ``public_key``;
        ``sm2_id`` as in :meth:`prepare` (what it is for a frame: ``security.sig_input``)."""
        entry = public_key if sm2_id is None or not self._is_sm2 else public_key + sm2_id
        key = self.cache.get(entry)
        if key is None:
            key = self.prepare(public_key, sm2_id=sm2_id)
        return key.verify(tbs, signature)

    def _build(self, public_key: bytes, sm2_id: bytes) -> VerifyingKey:
        point = decompress_point(self.algorithm, public_key)
        if self._is_sm2:
            return _Sm2VerifyingKey(point, sm2_id, self.table_budget)
        return _P256VerifyingKey(point, self.table_budget)


def generate_signer(algorithm: SignatureAlgorithm, *, sm2_id: bytes = DEFAULT_SM2_ID) -> Signer:
    """A fresh key pair for ``algorithm`` from the native library's random generator."""
    if SignatureAlgorithm(algorithm) is SignatureAlgorithm.SM2_SM3:
        return _Sm2Signer(_openssl.generate_sm2(), sm2_id)
    return _P256Signer(ec.generate_private_key(ec.SECP256R1()))


def signer_from_raw(
    algorithm: SignatureAlgorithm, scalar: bytes, *, sm2_id: bytes = DEFAULT_SM2_ID
) -> Signer:
    """The signer of a 32-byte private scalar (the public point is derived).

    Raises:
        CryptoError: the scalar is not 32 bytes or not in ``[1, n-1]``.
    """
    algorithm = SignatureAlgorithm(algorithm)
    n = CURVES[algorithm].n
    if len(scalar) != 32 or not 0 < int.from_bytes(scalar, "big") < n:
        raise CryptoError(f"{algorithm} private scalar must be 32 bytes in [1, n-1]")
    if algorithm is SignatureAlgorithm.SM2_SM3:
        # SEC1 ECPrivateKey { version 1, privateKey, [0] sm2p256v1 }: OpenSSL derives the point
        body = b"\x02\x01\x01\x04\x20" + scalar + b"\xa0\x0a" + _SM2_OID_DER
        return _Sm2Signer(_openssl.sm2_key_from_der(b"\x30" + bytes((len(body),)) + body), sm2_id)
    return _P256Signer(ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1()))


def load_signer(pem: bytes, *, sm2_id: bytes = DEFAULT_SM2_ID) -> Signer:
    """The signer of a PKCS#8 (or SEC1) PEM private key; the curve picks the algorithm.

    Raises:
        CryptoError: not PEM, not a private key, or a curve other than P-256 and SM2.
    """
    der = _unpem(pem)
    if _SM2_OID_DER in der:
        return _Sm2Signer(_openssl.sm2_key_from_der(der), sm2_id)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"private key does not load: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CryptoError("private key is neither SM2 nor ECDSA P-256")
    return _P256Signer(key)


# --- ECDSA P-256 through cryptography --------------------------------------------------------

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


class _P256Signer(Signer):
    algorithm = SignatureAlgorithm.ECDSA_P256_SHA256

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, tbs: bytes, *, sm2_id: bytes | None = None) -> bytes:
        return _der_to_raw(self._key.sign(tbs, _ECDSA_SHA256))

    def private_raw(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class _P256VerifyingKey(VerifyingKey):
    algorithm = SignatureAlgorithm.ECDSA_P256_SHA256

    def __init__(self, point: bytes, budget: TableBudget) -> None:
        self.public_key = point
        self._key = P256TabledKey(point, budget)

    def verify(self, tbs: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        return self._key.verify(hashlib.sha256(tbs).digest(), signature)


# --- SM2 with SM3 through OpenSSL 3 ----------------------------------------------------------


class _Sm2Signer(Signer):
    algorithm = SignatureAlgorithm.SM2_SM3

    def __init__(self, key: _openssl.Sm2Key, user_id: bytes) -> None:
        self._key = key
        self.public_key = key.point
        self._user_id = user_id
        self._z = hashlib.new("sm3", sm2_z(key.point, user_id))
        self._other: tuple[bytes, Any] | None = None  # the last other user id and its Z

    def sign(self, tbs: bytes, *, sm2_id: bytes | None = None) -> bytes:
        if sm2_id is None or sm2_id == self._user_id:
            h = self._z.copy()
        else:
            if self._other is None or self._other[0] != sm2_id:
                self._other = (sm2_id, hashlib.new("sm3", sm2_z(self.public_key, sm2_id)))
            h = self._other[1].copy()
        h.update(tbs)
        return _der_to_raw(self._key.sign_digest(h.digest()))

    def private_raw(self) -> bytes:
        return self._key.scalar()

    def private_pem(self) -> bytes:
        return _pem("PRIVATE KEY", self._key.pkcs8_der()).encode()


class _Sm2VerifyingKey(VerifyingKey):
    algorithm = SignatureAlgorithm.SM2_SM3

    def __init__(self, point: bytes, user_id: bytes, budget: TableBudget) -> None:
        self.public_key = point
        self._key = Sm2FixedBaseKey(point, budget)
        self._z: Any = hashlib.new("sm3", sm2_z(point, user_id))

    def verify(self, tbs: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        h = self._z.copy()
        h.update(tbs)
        return self._key.verify(h.digest(), signature)
