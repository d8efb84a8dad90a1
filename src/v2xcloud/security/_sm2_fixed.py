"""SM2 verification on OpenSSL's EC arithmetic with fixed-base tables for G and for hot keys.

OpenSSL 3.0 verifies SM2 on its generic prime-curve code: ``s*G + t*P`` as one interleaved
wNAF product, 256 doublings with no table for either point. A verifier sees the same few
public keys again and again (a certificate signs ten BSMs a second), so here both halves are
fixed-base products: ``s*G`` on a group whose generator table is precomputed once per
process, ``t*P`` on a group built per public key with ``P`` as its generator and its own table
(built on the key's second verification, ~1.3 ms, about 80 KB held by OpenSSL). A key seen
once uses the interleaved product with G's table. The sum stays in Jacobian coordinates: the
x check is ``X == c * Z^2 (mod p)`` in Python, sparing the field inversion (~40 us) of an affine
conversion. Same-run measurement (benchmarks/security_crypto.py): about 3x the verifications
per second of ``EVP_PKEY_verify``.

The equation is GB/T 32918.2's: ``t = (r + s) mod n``, ``(x1, y1) = s*G + t*P``, accept when
``(e + x1) mod n == r``, with ``r, s`` in ``[1, n-1]`` and ``t != 0``.

Safe from several threads (ctypes releases the GIL during each OpenSSL call, and the platform
verifies on its gateway loop and its tick thread): the groups and tables are only read once
built (a key's table is built under a lock and published whole), and the scratch numbers and
points a verification writes are per thread.
"""

from __future__ import annotations

import ctypes
import logging
import threading

from v2xcloud.errors import CryptoError
from v2xcloud.security._curves import CURVES
from v2xcloud.security._openssl import _fail, _last_error, _lib
from v2xcloud.security.types import SignatureAlgorithm

__all__ = ["SM2_TABLE_BYTES", "Sm2FixedBaseKey", "TableBudget", "x_matches"]

logger = logging.getLogger(__name__)

_C = CURVES[SignatureAlgorithm.SM2_SM3]
_N = _C.n
_G = b"\x04" + _C.gx.to_bytes(32, "big") + _C.gy.to_bytes(32, "big")
_TABLE_AFTER_USES = 2  # a key's own table is built on its second verification
SM2_TABLE_BYTES = 80 * 1024  # one key's table inside OpenSSL (measured: RSS per tabled key)


def _declare() -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    table: dict[str, tuple[object, list[object]]] = {
        "BN_CTX_new": (p, []),
        "BN_new": (p, []),
        "BN_bin2bn": (p, [ctypes.c_char_p, i, p]),
        "EC_GROUP_new_curve_GFp": (p, [p, p, p, p]),
        "EC_GROUP_set_generator": (i, [p, p, p, p]),
        "EC_GROUP_precompute_mult": (i, [p, p]),
        "EC_GROUP_free": (None, [p]),
        "EC_POINT_new": (p, [p]),
        "EC_POINT_free": (None, [p]),
        "EC_POINT_oct2point": (i, [p, p, ctypes.c_char_p, ctypes.c_size_t, p]),
        "EC_POINT_mul": (i, [p, p, p, p, p, p]),
        "EC_POINT_add": (i, [p, p, p, p, p]),
        "EC_POINT_get_Jprojective_coordinates_GFp": (i, [p, p, p, p, p, p]),
    }
    for name, (restype, argtypes) in table.items():
        fn = getattr(_lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_declare()


class _Scratch(threading.local):
    """What one verification writes: a ``BN_CTX``, numbers, two points, two out buffers."""

    def __init__(self) -> None:
        new_bn = _lib.BN_new
        self.ctx = int(_lib.BN_CTX_new())
        self.s, self.t, self.x, self.z = int(new_bn()), int(new_bn()), int(new_bn()), int(new_bn())
        self.x_out, self.z_out = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
        self.sum = self.product = 0  # points of _GROUP_G, made once the group exists

    def points(self) -> _Scratch:
        if not self.sum:
            self.sum = int(_lib.EC_POINT_new(_GROUP_G))
            self.product = int(_lib.EC_POINT_new(_GROUP_G))  # compatible with every table group
        return self


_scratch = _Scratch()
_BUILD_LOCK = threading.Lock()


def _bn(value: int) -> int:
    bn = _lib.BN_bin2bn(value.to_bytes(32, "big"), 32, None)
    if not bn:
        raise _fail("BN_bin2bn")
    return int(bn)


_P, _A, _B, _ORDER, _ONE, _ZERO = (_bn(v) for v in (_C.p, _C.a, _C.b, _N, 1, 0))


def _point(group: int, octets: bytes) -> int:
    point = _lib.EC_POINT_new(group)
    ctx = _scratch.ctx
    if not point or _lib.EC_POINT_oct2point(group, point, octets, len(octets), ctx) != 1:
        _lib.EC_POINT_free(point)
        raise CryptoError(f"SM2 public point is not on the curve: {_last_error()}")
    return int(point)


def _table_group(generator: bytes) -> int:
    """The SM2 curve as a group with ``generator`` as base point and its table precomputed."""
    ctx = _scratch.ctx
    group = _lib.EC_GROUP_new_curve_GFp(_P, _A, _B, ctx)
    if not group:
        raise _fail("EC_GROUP_new_curve_GFp (SM2)")
    gen = 0
    try:
        gen = _point(group, generator)
        if _lib.EC_GROUP_set_generator(group, gen, _ORDER, _ONE) != 1:
            raise _fail("EC_GROUP_set_generator")
        if _lib.EC_GROUP_precompute_mult(group, ctx) != 1:
            raise _fail("EC_GROUP_precompute_mult")
    except CryptoError:
        _lib.EC_GROUP_free(group)
        raise
    finally:
        _lib.EC_POINT_free(gen)
    return int(group)


_GROUP_G = _table_group(_G)
_DUMMY_G = _point(_GROUP_G, _G)  # multiplied by zero: keeps EC_POINT_mul off the slow ladder
_mul, _add, _bin2bn = _lib.EC_POINT_mul, _lib.EC_POINT_add, _lib.BN_bin2bn
_jacobian, _bn2bin = _lib.EC_POINT_get_Jprojective_coordinates_GFp, _lib.BN_bn2binpad
_FIELD_P = _C.p


def x_matches(x: int, z: int, c: int, *, p: int = _FIELD_P, n: int = _N) -> bool:
    """Whether the affine x of the Jacobian point ``(x : . : z)`` over GF(p) is ``c`` mod n.

    The affine x is ``x / z^2`` in [0, p), and p < 2n for both curves, so it is ``c`` or
    ``c + n``: compared as ``x == c * z^2 (mod p)``, which spares the field inversion of an
    affine conversion. ``z == 0`` is the point at infinity: no signature.
    """
    if z == 0:
        return False
    z2 = z * z % p
    return (c * z2 - x) % p == 0 or (c + n < p and ((c + n) * z2 - x) % p == 0)


class TableBudget:
    """How many keys may hold their own table at once (each ~80 KB inside OpenSSL).

    A hot key past the budget keeps verifying on the interleaved product (G's table only,
    about 0.6x the speed), counted in ``declined``; a key's table is given back when the key
    is dropped (evicted from its verifier's cache and collected).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.declined = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """One table's worth, if the budget has it."""
        with self._lock:
            if self.used >= self.limit:
                self.declined += 1
                return False
            self.used += 1
            return True

    def give_back(self) -> None:
        """A table was freed."""
        with self._lock:
            self.used -= 1


class Sm2FixedBaseKey:
    """One SM2 public key ready to verify precomputed digests ``e = SM3(Z || M)``.

    ``budget`` bounds how many keys build their own table (see :class:`TableBudget`).

    Raises:
        CryptoError: the point is not on the SM2 curve (at construction).
    """

    __slots__ = ("_budget", "_dummy_p", "_in_g", "_table", "_uses", "point")

    def __init__(self, point: bytes, budget: TableBudget) -> None:
        self._budget = budget
        self.point = bytes(point)
        self._in_g = _point(_GROUP_G, self.point)
        self._table = 0  # the key's own group with its table, once hot (published last)
        self._dummy_p = 0  # P in that group, multiplied by zero (see _DUMMY_G)
        self._uses = 0

    def verify(self, digest: bytes, signature: bytes) -> bool:
        """True when ``signature`` (``r || s``, 64 bytes) is valid for the 32-byte ``digest``."""
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        t = (r + s) % _N
        if not (0 < r < _N and 0 < s < _N and t):
            return False
        w = _scratch.points()
        ctx, total = w.ctx, w.sum
        bs = _bin2bn(signature[32:], 32, w.s)
        bt = _bin2bn(t.to_bytes(32, "big"), 32, w.t)
        table = self._table
        if table:
            ok = (
                _mul(_GROUP_G, total, bs, _DUMMY_G, _ZERO, ctx) == 1
                and _mul(table, w.product, bt, self._dummy_p, _ZERO, ctx) == 1
                and _add(_GROUP_G, total, total, w.product, ctx) == 1
            )
        else:
            ok = _mul(_GROUP_G, total, bs, self._in_g, bt, ctx) == 1
        if not ok or _jacobian(_GROUP_G, total, w.x, None, w.z, ctx) != 1:
            raise _fail("EC_POINT_mul/add (SM2 verify)")
        _bn2bin(w.x, w.x_out, 32)
        _bn2bin(w.z, w.z_out, 32)
        if not table and self._uses < _TABLE_AFTER_USES:
            self._uses += 1
            if self._uses == _TABLE_AFTER_USES and self._budget.take():
                self._build_table()
        return x_matches(
            int.from_bytes(w.x_out.raw, "big"),
            int.from_bytes(w.z_out.raw, "big"),
            (r - int.from_bytes(digest, "big")) % _N,
        )

    @property
    def has_table(self) -> bool:
        """Whether this key's own fixed-base table is built (after its second verification)."""
        return bool(self._table)

    def _build_table(self) -> None:
        with _BUILD_LOCK:
            if self._table:
                self._budget.give_back()  # another thread built it meanwhile
                return
            try:
                table = _table_group(self.point)
                self._dummy_p = _point(table, self.point)
            except CryptoError:
                self._budget.give_back()
                raise
            self._table = table  # published last: a reader seeing it sees _dummy_p too

    def __del__(self) -> None:
        _lib.EC_POINT_free(self._in_g)
        if self._table:
            _lib.EC_POINT_free(self._dummy_p)
            _lib.EC_GROUP_free(self._table)
            self._budget.give_back()
