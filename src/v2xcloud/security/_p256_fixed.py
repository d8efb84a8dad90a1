"""ECDSA-P256 verification on OpenSSL's nistz256 code with a fixed-base table per hot key.

OpenSSL verifies ``u1*G + u2*Q`` with G from its built-in table and Q by a variable-base
window product, ~110 us here. A key verified many times gets its own table: the named P-256
group duplicated with Q as generator and ``EC_GROUP_precompute_mult`` run on it (nistz256's
table: ~43 ms of CPU, ~150 KB), after which ``u2*Q`` is a table product too; with the
modular inverse from GMP (``gmpy2``) a verification then takes ~50 us against ~125-145 us
for ``cryptography``'s (same run, CPU time). The table pays for itself after about 800 verifications (43 ms at
~55 us saved each), so it is built when a key reaches that count (building at the break-even
point costs at most twice what knowing the future would), on a background thread so that the
verifying loop does not stall for it; the key keeps verifying the plain way until it is ready.

Equation (FIPS 186-4 / SEC 1): ``w = s^-1``, ``u1 = e*w``, ``u2 = r*w`` mod n, accept when
``x(u1*G + u2*Q) mod n == r``; the sum is checked in Jacobian coordinates like SM2's.

Thread-safe like ``_sm2_fixed``: per-thread scratch, tables published whole.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading

from gmpy2 import invert

from v2xcloud.errors import CryptoError
from v2xcloud.security._curves import CURVES
from v2xcloud.security._openssl import _fail, _last_error, _lib
from v2xcloud.security._sm2_fixed import TableBudget, x_matches
from v2xcloud.security.types import SignatureAlgorithm

__all__ = ["P256_TABLE_BYTES", "TABLE_AFTER_USES", "P256TabledKey"]

logger = logging.getLogger(__name__)

_C = CURVES[SignatureAlgorithm.ECDSA_P256_SHA256]
_N, _FIELD_P = _C.n, _C.p
_NID_P256 = 415  # NID_X9_62_prime256v1
P256_TABLE_BYTES = 150 * 1024  # one key's nistz256 table (measured: RSS per tabled key)
TABLE_AFTER_USES = 800
"""Verifications of one key after which its table is built (the break-even count above)."""


def _declare() -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    table: dict[str, tuple[object, list[object]]] = {
        "EC_GROUP_new_by_curve_name": (p, [i]),
        "EC_GROUP_dup": (p, [p]),
        "EC_GROUP_set_generator": (i, [p, p, p, p]),
        "EC_GROUP_precompute_mult": (i, [p, p]),
        "EC_GROUP_free": (None, [p]),
        "EC_POINT_new": (p, [p]),
        "EC_POINT_free": (None, [p]),
        "EC_POINT_oct2point": (i, [p, p, ctypes.c_char_p, ctypes.c_size_t, p]),
        "EC_POINT_mul": (i, [p, p, p, p, p, p]),
        "EC_POINT_add": (i, [p, p, p, p, p]),
        "EC_POINT_get_Jprojective_coordinates_GFp": (i, [p, p, p, p, p, p]),
        "BN_CTX_new": (p, []),
        "BN_new": (p, []),
        "BN_bin2bn": (p, [ctypes.c_char_p, i, p]),
    }
    for name, (restype, argtypes) in table.items():
        fn = getattr(_lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_declare()
_GROUP = int(_lib.EC_GROUP_new_by_curve_name(_NID_P256) or 0)
if not _GROUP:
    raise _fail("EC_GROUP_new_by_curve_name(P-256)")
_ORDER = int(_lib.BN_bin2bn(_N.to_bytes(32, "big"), 32, None))
_ONE = int(_lib.BN_bin2bn(b"\x01", 1, None))
_mul, _add, _bin2bn = _lib.EC_POINT_mul, _lib.EC_POINT_add, _lib.BN_bin2bn
_jacobian, _bn2bin = _lib.EC_POINT_get_Jprojective_coordinates_GFp, _lib.BN_bn2binpad


class _Scratch(threading.local):
    def __init__(self) -> None:
        new_bn = _lib.BN_new
        self.ctx = int(_lib.BN_CTX_new())
        self.u1, self.u2, self.x, self.z = (
            int(new_bn()),
            int(new_bn()),
            int(new_bn()),
            int(new_bn()),
        )
        self.x_out, self.z_out = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
        self.sum, self.product = int(_lib.EC_POINT_new(_GROUP)), int(_lib.EC_POINT_new(_GROUP))


_scratch = _Scratch()


def _point(group: int, octets: bytes) -> int:
    point = _lib.EC_POINT_new(group)
    if not point or _lib.EC_POINT_oct2point(group, point, octets, len(octets), _scratch.ctx) != 1:
        _lib.EC_POINT_free(point)
        raise CryptoError(f"P-256 public point is not on the curve: {_last_error()}")
    return int(point)


def _table_group(point: bytes) -> int:
    """The P-256 group (nistz256 code kept) with ``point`` as generator and its table built."""
    group = _lib.EC_GROUP_dup(_GROUP)
    if not group:
        raise _fail("EC_GROUP_dup (P-256)")
    generator = 0
    try:
        generator = _point(group, point)
        if _lib.EC_GROUP_set_generator(group, generator, _ORDER, _ONE) != 1:
            raise _fail("EC_GROUP_set_generator (P-256)")
        if _lib.EC_GROUP_precompute_mult(group, _scratch.ctx) != 1:
            raise _fail("EC_GROUP_precompute_mult (P-256)")
    except CryptoError:
        _lib.EC_GROUP_free(group)
        raise
    finally:
        _lib.EC_POINT_free(generator)
    return int(group)


class _Builder:
    """One daemon thread building tables in turn (at most the budget's worth outstanding)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[P256TabledKey] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, key: P256TabledKey) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="p256-key-tables", daemon=True
                )
                self._thread.start()
        self._jobs.put(key)

    def _run(self) -> None:
        while True:
            key = self._jobs.get()
            try:
                key._build_table()
            except CryptoError as exc:  # counted in the key's budget, logged once here
                logger.warning("P-256 key table not built (key keeps the plain path): %s", exc)
            del key  # the job holds no key while waiting for the next one

    def forget_thread(self) -> None:
        """In a forked child the builder thread does not exist: start a new one on demand."""
        self._jobs = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()


_builder = _Builder()
os.register_at_fork(after_in_child=_builder.forget_thread)


class P256TabledKey:
    """One P-256 public key verifying SHA-256 digests; its table is built once it is hot.

    Raises:
        CryptoError: the point is not on the curve (at construction).
    """

    __slots__ = ("_budget", "_point", "_table", "_uses", "point")

    def __init__(self, point: bytes, budget: TableBudget) -> None:
        self.point = bytes(point)
        self._budget = budget
        self._point = _point(_GROUP, self.point)
        self._table = 0
        self._uses = 0

    @property
    def has_table(self) -> bool:
        """Whether this key's own table is built."""
        return bool(self._table)

    def verify(self, digest: bytes, signature: bytes) -> bool:
        """True when ``signature`` (``r || s``) is valid for the SHA-256 ``digest``."""
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _N and 0 < s < _N):
            return False
        w = int(invert(s, _N))  # GMP: ~2 us; Python's pow(s, -1, n) takes ~25 us here
        u1 = int.from_bytes(digest, "big") * w % _N
        u2 = r * w % _N
        scratch = _scratch
        ctx, total = scratch.ctx, scratch.sum
        b1 = _bin2bn(u1.to_bytes(32, "big"), 32, scratch.u1)
        b2 = _bin2bn(u2.to_bytes(32, "big"), 32, scratch.u2)
        table = self._table
        if table:
            ok = (
                _mul(_GROUP, total, b1, None, None, ctx) == 1
                and _mul(table, scratch.product, b2, None, None, ctx) == 1
                and _add(_GROUP, total, total, scratch.product, ctx) == 1
            )
        else:
            ok = _mul(_GROUP, total, b1, self._point, b2, ctx) == 1
            self._count_use()
        if not ok or _jacobian(_GROUP, total, scratch.x, None, scratch.z, ctx) != 1:
            raise _fail("EC_POINT_mul/add (P-256 verify)")
        _bn2bin(scratch.x, scratch.x_out, 32)
        _bn2bin(scratch.z, scratch.z_out, 32)
        return x_matches(
            int.from_bytes(scratch.x_out.raw, "big"),
            int.from_bytes(scratch.z_out.raw, "big"),
            r,
            p=_FIELD_P,
            n=_N,
        )

    def _count_use(self) -> None:
        self._uses += 1
        if self._uses == TABLE_AFTER_USES and self._budget.take():
            _builder.submit(self)

    def _build_table(self) -> None:
        try:
            table = _table_group(self.point)
        except CryptoError:
            self._budget.give_back()
            raise
        self._table = table  # published whole: verify reads it once per call

    def __del__(self) -> None:
        _lib.EC_POINT_free(self._point)
        if self._table:
            _lib.EC_GROUP_free(self._table)
            self._budget.give_back()
