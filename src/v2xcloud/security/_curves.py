"""The two curves' domain parameters and point (de)compression (SEC 1, section 2.3.3).

P-256 from FIPS 186-4 D.1.2.3; SM2's recommended curve from GB/T 32918.5-2017, keyed by the
``SignatureAlgorithm`` that uses them. Both primes are 3 mod 4, so a square root is one
exponentiation.
"""

from __future__ import annotations

from typing import NamedTuple

from v2xcloud.errors import CryptoError
from v2xcloud.security.types import SignatureAlgorithm

__all__ = ["CURVES", "Curve", "compress_point", "decompress_point"]


class Curve(NamedTuple):
    """Short Weierstrass curve y^2 = x^3 + ax + b over GF(p), base point G of prime order n."""

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int


_P256_P = 0xFFFFFFFF_00000001_00000000_00000000_00000000_FFFFFFFF_FFFFFFFF_FFFFFFFF
_SM2_P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF

CURVES: dict[SignatureAlgorithm, Curve] = {
    SignatureAlgorithm.ECDSA_P256_SHA256: Curve(
        name="P-256",
        p=_P256_P,
        a=_P256_P - 3,
        b=0x5AC635D8_AA3A93E7_B3EBBD55_769886BC_651D06B0_CC53B0F6_3BCE3C3E_27D2604B,
        n=0xFFFFFFFF_00000000_FFFFFFFF_FFFFFFFF_BCE6FAAD_A7179E84_F3B9CAC2_FC632551,
        gx=0x6B17D1F2_E12C4247_F8BCE6E5_63A440F2_77037D81_2DEB33A0_F4A13945_D898C296,
        gy=0x4FE342E2_FE1A7F9B_8EE7EB4A_7C0F9E16_2BCE3357_6B315ECE_CBB64068_37BF51F5,
    ),
    SignatureAlgorithm.SM2_SM3: Curve(
        name="SM2",
        p=_SM2_P,
        a=_SM2_P - 3,
        b=0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93,
        n=0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123,
        gx=0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
        gy=0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0,
    ),
}


def _rhs(c: Curve, x: int) -> int:
    return (pow(x, 3, c.p) + c.a * x + c.b) % c.p


def decompress_point(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    """The uncompressed point ``04 || x || y`` of a 33-byte compressed or 65-byte point.

    Raises:
        CryptoError: wrong length or prefix, a coordinate not below p, or not on the curve.
    """
    c = CURVES[algorithm]
    if len(data) == 65 and data[0] == 4:
        x, y = int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")
        if x >= c.p or y >= c.p or y * y % c.p != _rhs(c, x):
            raise CryptoError(f"{c.name} public point is not on the curve")
        return bytes(data)
    if len(data) == 33 and data[0] in (2, 3):
        x = int.from_bytes(data[1:], "big")
        rhs = _rhs(c, x) if x < c.p else -1
        y = pow(rhs, (c.p + 1) // 4, c.p) if rhs >= 0 else 0
        if rhs < 0 or y * y % c.p != rhs:
            raise CryptoError(f"{c.name} compressed point has no y on the curve")
        if y & 1 != data[0] & 1:
            y = c.p - y
        return b"\x04" + data[1:] + y.to_bytes(32, "big")
    raise CryptoError(
        f"{c.name} public key must be 33 bytes (02/03 || x) or 65 bytes (04 || x || y), "
        f"got {len(data)} bytes starting {data[:1].hex() or 'empty'}"
    )


def compress_point(point: bytes) -> bytes:
    """``02|03 || x`` (33 bytes) of an uncompressed 65-byte point (parity of y in the prefix).

    Raises:
        CryptoError: the input is not a 65-byte ``04 || x || y``.
    """
    if len(point) != 65 or point[0] != 4:
        raise CryptoError(f"expected an uncompressed 65-byte point, got {len(point)} bytes")
    return bytes((2 | (point[64] & 1),)) + point[1:33]
