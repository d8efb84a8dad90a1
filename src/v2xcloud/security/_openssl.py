"""A small ctypes binding of the system OpenSSL 3 libcrypto for SM2 (GB/T 32918) with SM3.

Only what :mod:`v2xcloud.security.crypto` needs: generate an SM2 key, load it from DER,
export its scalar and point, and sign / verify a precomputed 32-byte digest
``e = SM3(Z || M)`` through a per-key ``EVP_PKEY_CTX`` that is initialised once and reused, so
a verification is one foreign call (the provider fetch of ``EVP_DigestVerifyInit`` and the
``Z`` hash are not paid per message). Signatures cross this boundary DER-encoded, as OpenSSL
takes them.

An ``EVP_PKEY_CTX`` is not safe for two threads at once, and ctypes releases the GIL during
each call: each key's sign and verify calls go through its own lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

from v2xcloud.errors import CryptoError

__all__ = [
    "OPENSSL_VERSION",
    "Sm2Key",
    "Sm2PublicKey",
    "generate_sm2",
    "raw_to_der",
    "sm2_key_from_der",
    "sm2_public_key",
]

logger = logging.getLogger(__name__)

_EVP_PKEY_KEYPAIR = 0x87  # OSSL_KEYMGMT_SELECT_ALL: private, public and domain parameters
_EVP_PKEY_PUBLIC_KEY = 0x86  # public key and domain parameters


def _load() -> ctypes.CDLL:
    """Open libcrypto 3 (``libcrypto.so.3``) and declare the signatures used here."""
    names = ["libcrypto.so.3", ctypes.util.find_library("crypto")]
    errors: list[str] = []
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() >= 0x30000000:
            _declare(lib)
            return lib
        errors.append(f"{name}: OpenSSL {lib.OpenSSL_version_num():#x} is older than 3.0")
    raise CryptoError(
        "SM2 needs the system OpenSSL 3 libcrypto (Debian: apt-get install libssl3); "
        + "; ".join(errors or ["not found"])
    )


def _declare(lib: ctypes.CDLL) -> None:
    p, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    pp = ctypes.POINTER(ctypes.c_void_p)
    table: dict[str, tuple[object, list[object]]] = {
        "EVP_PKEY_CTX_new_from_name": (p, [p, ctypes.c_char_p, p]),
        "EVP_PKEY_CTX_new": (p, [p, p]),
        "EVP_PKEY_CTX_free": (None, [p]),
        "EVP_PKEY_free": (None, [p]),
        "EVP_PKEY_keygen_init": (i, [p]),
        "EVP_PKEY_generate": (i, [p, pp]),
        "EVP_PKEY_verify_init": (i, [p]),
        "EVP_PKEY_sign_init": (i, [p]),
        "EVP_PKEY_verify": (i, [p, ctypes.c_char_p, sz, ctypes.c_char_p, sz]),
        "EVP_PKEY_sign": (i, [p, ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz]),
        "EVP_PKEY_is_a": (i, [p, ctypes.c_char_p]),
        "EVP_PKEY_get_bn_param": (i, [p, ctypes.c_char_p, pp]),
        "EVP_PKEY_get_octet_string_param": (
            i,
            [p, ctypes.c_char_p, ctypes.c_char_p, sz, ctypes.POINTER(sz)],
        ),
        "EVP_PKEY_fromdata_init": (i, [p]),
        "EVP_PKEY_fromdata": (i, [p, pp, i, p]),
        "OSSL_PARAM_BLD_new": (p, []),
        "OSSL_PARAM_BLD_free": (None, [p]),
        "OSSL_PARAM_BLD_push_utf8_string": (i, [p, ctypes.c_char_p, ctypes.c_char_p, sz]),
        "OSSL_PARAM_BLD_push_octet_string": (i, [p, ctypes.c_char_p, ctypes.c_char_p, sz]),
        "OSSL_PARAM_BLD_to_param": (p, [p]),
        "OSSL_PARAM_free": (None, [p]),
        "BN_num_bits": (i, [p]),
        "BN_bn2binpad": (i, [p, ctypes.c_char_p, i]),
        "BN_free": (None, [p]),
        "d2i_AutoPrivateKey": (p, [pp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
        "EVP_PKEY2PKCS8": (p, [p]),
        "PKCS8_PRIV_KEY_INFO_free": (None, [p]),
        "i2d_PKCS8_PRIV_KEY_INFO": (i, [p, ctypes.POINTER(ctypes.c_char_p)]),
        "ERR_get_error": (ctypes.c_ulong, []),
        "ERR_error_string_n": (None, [ctypes.c_ulong, ctypes.c_char_p, sz]),
        "CRYPTO_free": (None, [p, ctypes.c_char_p, i]),
        "OpenSSL_version": (ctypes.c_char_p, [i]),
    }
    for name, (restype, argtypes) in table.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_lib = _load()
OPENSSL_VERSION: str = _lib.OpenSSL_version(0).decode()


def _last_error() -> str:
    """Drain OpenSSL's error queue into one sentence (empty queue: a generic note)."""
    texts = []
    while code := _lib.ERR_get_error():
        buf = ctypes.create_string_buffer(256)
        _lib.ERR_error_string_n(code, buf, len(buf))
        texts.append(buf.value.decode(errors="replace"))
    return "; ".join(texts) or "no OpenSSL error queued"


def _fail(what: str) -> CryptoError:
    return CryptoError(f"OpenSSL {what} failed: {_last_error()}")


def _ctx_for(pkey: int, *, sign: bool) -> int:
    """A context bound to ``pkey`` and initialised once for raw-digest sign or verify."""
    ctx = _lib.EVP_PKEY_CTX_new(pkey, None)
    if not ctx:
        raise _fail("EVP_PKEY_CTX_new")
    init = _lib.EVP_PKEY_sign_init if sign else _lib.EVP_PKEY_verify_init
    if init(ctx) != 1:
        _lib.EVP_PKEY_CTX_free(ctx)
        raise _fail("EVP_PKEY_sign_init" if sign else "EVP_PKEY_verify_init")
    return int(ctx)


class Sm2PublicKey:
    """An SM2 public key held by OpenSSL, with its verify context set up once.

    ``verify_digest(e, r || s)`` is OpenSSL's own SM2 verification (``EVP_PKEY_verify``): the
    platform verifies through :mod:`._sm2_fixed` (faster); this one is its reference in the
    tests and its baseline in the benchmark.
    """

    __slots__ = ("_ctx", "_lock", "_pkey", "_verify", "point")

    def __init__(self, pkey: int, point: bytes) -> None:
        self._lock = threading.Lock()
        self._pkey = pkey
        self._ctx = _ctx_for(pkey, sign=False)
        self._verify = _lib.EVP_PKEY_verify
        self.point = point

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        """True when ``signature`` (``r || s``, 64 bytes) signs the 32-byte ``digest``."""
        der = raw_to_der(signature)
        with self._lock:
            ok = self._verify(self._ctx, der, len(der), digest, 32) == 1
        if not ok:
            _last_error()  # a failed verification queues an error; keep the queue empty
        return bool(ok)

    def __del__(self) -> None:
        _lib.EVP_PKEY_CTX_free(self._ctx)
        _lib.EVP_PKEY_free(self._pkey)


class Sm2Key(Sm2PublicKey):
    """An SM2 key pair held by OpenSSL: signs a 32-byte digest, exports scalar and PKCS#8."""

    __slots__ = ("_sign_ctx",)

    def __init__(self, pkey: int) -> None:
        super().__init__(pkey, _point_of(pkey))
        self._sign_ctx = _ctx_for(pkey, sign=True)

    def sign_digest(self, digest: bytes) -> bytes:
        """A DER signature SEQUENCE{r, s} of the 32-byte ``digest`` (fresh random k)."""
        buf = ctypes.create_string_buffer(80)
        size = ctypes.c_size_t(len(buf))
        with self._lock:
            ok = _lib.EVP_PKEY_sign(self._sign_ctx, buf, ctypes.byref(size), digest, len(digest))
        if ok != 1:
            raise _fail("EVP_PKEY_sign (SM2)")
        return buf.raw[: size.value]

    def scalar(self) -> bytes:
        """The private scalar d, 32 bytes big-endian."""
        bn = ctypes.c_void_p()
        if _lib.EVP_PKEY_get_bn_param(self._pkey, b"priv", ctypes.byref(bn)) != 1:
            raise _fail("EVP_PKEY_get_bn_param(priv)")
        try:
            out = ctypes.create_string_buffer(32)
            if _lib.BN_bn2binpad(bn, out, 32) != 32:
                raise _fail("BN_bn2binpad")
            return out.raw
        finally:
            _lib.BN_free(bn)

    def pkcs8_der(self) -> bytes:
        """The key as unencrypted PKCS#8 DER (OpenSSL's own encoder)."""
        info = _lib.EVP_PKEY2PKCS8(self._pkey)
        if not info:
            raise _fail("EVP_PKEY2PKCS8")
        try:
            out = ctypes.c_char_p()
            size = _lib.i2d_PKCS8_PRIV_KEY_INFO(info, ctypes.byref(out))
            if size <= 0:
                raise _fail("i2d_PKCS8_PRIV_KEY_INFO")
            try:
                return ctypes.string_at(out, size)
            finally:
                _lib.CRYPTO_free(out, None, 0)
        finally:
            _lib.PKCS8_PRIV_KEY_INFO_free(info)

    def __del__(self) -> None:
        _lib.EVP_PKEY_CTX_free(self._sign_ctx)
        super().__del__()


def raw_to_der(signature: bytes) -> bytes:
    """``r || s`` (64 bytes) as DER ``SEQUENCE { INTEGER r, INTEGER s }``."""
    r = signature[:32].lstrip(b"\0") or b"\0"
    s = signature[32:].lstrip(b"\0") or b"\0"
    if r[0] & 0x80:
        r = b"\0" + r
    if s[0] & 0x80:
        s = b"\0" + s
    body = b"\x02" + bytes((len(r),)) + r + b"\x02" + bytes((len(s),)) + s
    return b"\x30" + bytes((len(body),)) + body


def _point_of(pkey: int) -> bytes:
    buf = ctypes.create_string_buffer(65)
    size = ctypes.c_size_t()
    ok = _lib.EVP_PKEY_get_octet_string_param(pkey, b"pub", buf, 65, ctypes.byref(size))
    if ok != 1 or size.value != 65:
        raise _fail("EVP_PKEY_get_octet_string_param(pub)")
    return buf.raw


def generate_sm2() -> Sm2Key:
    """A fresh SM2 key pair from OpenSSL's DRBG."""
    ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise _fail("EVP_PKEY_CTX_new_from_name(SM2)")
    try:
        pkey = ctypes.c_void_p()
        if (
            _lib.EVP_PKEY_keygen_init(ctx) != 1
            or _lib.EVP_PKEY_generate(ctx, ctypes.byref(pkey)) != 1
        ):
            raise _fail("SM2 key generation")
        return Sm2Key(int(pkey.value or 0))
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)


def sm2_key_from_der(der: bytes) -> Sm2Key:
    """Load an SM2 private key from PKCS#8 or SEC1 DER (the public point is derived if absent).

    Raises:
        CryptoError: the DER does not parse, or the key is not on the SM2 curve.
    """
    data = ctypes.c_char_p(der)
    pkey = _lib.d2i_AutoPrivateKey(None, ctypes.byref(data), len(der))
    if not pkey:
        raise _fail("d2i_AutoPrivateKey (SM2 private key)")
    if _lib.EVP_PKEY_is_a(pkey, b"SM2") != 1:
        _lib.EVP_PKEY_free(pkey)
        raise CryptoError("private key is not an SM2 key (curve 1.2.156.10197.1.301 expected)")
    return Sm2Key(int(pkey))


def sm2_public_key(point: bytes) -> Sm2PublicKey:
    """An OpenSSL SM2 public key from the 65-byte uncompressed point ``04 || x || y``.

    Raises:
        CryptoError: the point is not on the SM2 curve.
    """
    bld = _lib.OSSL_PARAM_BLD_new()
    params = None
    ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    try:
        if not (bld and ctx):
            raise _fail("SM2 public key set-up")
        if (
            _lib.OSSL_PARAM_BLD_push_utf8_string(bld, b"group", b"SM2", 0) != 1
            or _lib.OSSL_PARAM_BLD_push_octet_string(bld, b"pub", point, len(point)) != 1
        ):
            raise _fail("OSSL_PARAM_BLD_push")
        params = _lib.OSSL_PARAM_BLD_to_param(bld)
        pkey = ctypes.c_void_p()
        if (
            not params
            or _lib.EVP_PKEY_fromdata_init(ctx) != 1
            or _lib.EVP_PKEY_fromdata(ctx, ctypes.byref(pkey), _EVP_PKEY_PUBLIC_KEY, params) != 1
        ):
            raise CryptoError(f"SM2 public point is not on the curve: {_last_error()}")
        return Sm2PublicKey(int(pkey.value or 0), bytes(point))
    finally:
        _lib.OSSL_PARAM_free(params)
        _lib.OSSL_PARAM_BLD_free(bld)
        _lib.EVP_PKEY_CTX_free(ctx)
