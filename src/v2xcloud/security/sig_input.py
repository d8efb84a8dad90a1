"""The signature input rule of each profile: what exactly a signer signs and a verifier checks.

Every signature of the security package — a frame's over its ``ToBeSignedData``, an issuer's
over a ``ToBeSignedCertificate`` — goes through :func:`sign_data` / :func:`verify_data`
here, so signer and verifier cannot disagree. In both rules the "signer" of data is the
certificate whose key signs it: the frame's signing certificate, or for a certificate its
issuer's certificate; ``None`` for a self-signed (root) certificate.

``intl`` (IEEE 1609.2 §5.3.1, "data input"; ETSI TS 103 097 alike): the ECDSA-P256-SHA256
signature covers ``SHA-256(tbs COER) || SHA-256(signer certificate COER)``, the second
hash over the empty string for a self-signed certificate (ECDSA then hashes these 64
bytes with SHA-256 again, as the standard's ``Hash(Hash(data) || Hash(signer))``).

``cn`` (YD/T 3957-2021 / GB/T 45112-2024, SM2 with SM3): the SM2 signature (GB/T 32918.2)
covers the ``tbs`` COER bytes themselves, and the SM2 user id hashed into ``Z`` is the
SM3 hash of the signer certificate's COER (32 bytes), not GM/T 0009's default
``1234567812345678``: ``e = SM3(Z || tbs)``, ``Z = SM3(ENTL || SM3(cert) || a || b || xG ||
yG || xA || yA)``. This is established from the published test vector of the standard's
"SM2 verification process" (private key, signer certificate SM3 hash, ToBeSignedData, Z,
``SM3(Z || data input)``, r, s: https://const.net.cn/tag/SM3/), which verifies under exactly
this rule and under none of the 1609.2-style compositions (tests: ``test_sig_input``). What the
rule is for a *self-signed* (root) certificate is not in that vector nor in anything else
found: there the default user id ``1234567812345678`` is kept, as before, and named here as
not established. A root certificate made by other equipment may therefore not verify here.

The hash of a signer's certificate is computed once per certificate digest and kept in a
bounded table (``SIGNER_HASHES``), not per frame.

>>> from v2xcloud.security.crypto import generate_signer, Verifier
>>> key = generate_signer(SignatureAlgorithm.ECDSA_P256_SHA256)
>>> sig = sign_data(key, b"tbs", None)
>>> verify_data(Verifier(key.algorithm), key.public_key, b"tbs", sig, None)
True
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol

from v2xcloud.bounded import LruTable
from v2xcloud.errors import CryptoError
from v2xcloud.security.crypto import DEFAULT_SM2_ID, Signer, hash_for, sha256
from v2xcloud.security.types import Certificate, HashedId8, SignatureAlgorithm

__all__ = [
    "SIGNER_HASHES",
    "SignatureInput",
    "SignatureVerifier",
    "sign_data",
    "signature_input",
    "signer_hash",
    "verify_data",
]

#: the hash of each signer certificate met (SHA-256 or SM3 of its COER), by its digest
SIGNER_HASHES: LruTable[tuple[SignatureAlgorithm, HashedId8], bytes] = LruTable(
    limit=65_536, name="signer certificate hashes"
)
_EMPTY_SHA256 = sha256(b"")
_WRITE = threading.Lock()  # verifiers are shared between threads; the table's writes are not atomic


class SignatureInput(NamedTuple):
    """What goes into the signature primitive: ``message`` (hashed inside the primitive) and,
    for SM2, the user id of ``Z`` (``None`` for ECDSA)."""

    message: bytes
    sm2_id: bytes | None


class SignatureVerifier(Protocol):
    """``security.crypto.Verifier``'s face: ``verify(point, message, r||s, sm2_id=...)``."""

    def verify(
        self, public_key: bytes, tbs: bytes, signature: bytes, *, sm2_id: bytes | None = None
    ) -> bool:
        """True when the signature is valid."""
        ...


def signer_hash(algorithm: SignatureAlgorithm, cert: Certificate) -> bytes:
    """The hash of ``algorithm`` (SHA-256 / SM3) over ``cert``'s COER bytes, cached per digest.

    Raises:
        CryptoError: the certificate has no encoded bytes (a draft, not a decoded one).
    """
    if cert.digest is None or not cert.encoded:
        raise CryptoError("a signer certificate must be a decoded one (its COER bytes kept)")
    key = (algorithm, cert.digest)
    found = SIGNER_HASHES.get(key)
    if found is None:
        found = hash_for(algorithm, cert.encoded)
        with _WRITE:
            SIGNER_HASHES[key] = found
    return found


def signature_input(
    algorithm: SignatureAlgorithm, tbs: bytes, signer: Certificate | None
) -> SignatureInput:
    """The input of a signature by ``signer``'s key over ``tbs`` (module docstring)."""
    if algorithm is SignatureAlgorithm.ECDSA_P256_SHA256:
        second = _EMPTY_SHA256 if signer is None else signer_hash(algorithm, signer)
        return SignatureInput(sha256(tbs) + second, None)
    if signer is None:  # not established for the cn profile: the default id kept
        return SignatureInput(tbs, DEFAULT_SM2_ID)
    return SignatureInput(tbs, signer_hash(algorithm, signer))


def sign_data(key: Signer, tbs: bytes, signer: Certificate | None) -> bytes:
    """``r || s`` of ``key`` over ``tbs`` by the rule; ``signer`` is the certificate of
    ``key`` (``None`` when signing a self-signed certificate)."""
    message, sm2_id = signature_input(key.algorithm, tbs, signer)
    return key.sign(message, sm2_id=sm2_id)


def verify_data(
    verifier: SignatureVerifier,
    public_key: bytes,
    tbs: bytes,
    signature: bytes,
    signer: Certificate | None,
    *,
    algorithm: SignatureAlgorithm | None = None,
) -> bool:
    """Whether ``signature`` (``r || s``) by ``public_key`` (the key of ``signer``, or of the
    self-signed certificate itself) covers ``tbs`` by the rule. ``algorithm`` defaults to the
    verifier's own (``verifier.algorithm``)."""
    alg = algorithm if algorithm is not None else getattr(verifier, "algorithm", None)
    if not isinstance(alg, SignatureAlgorithm):
        raise CryptoError("verify_data needs the signature algorithm")
    message, sm2_id = signature_input(alg, tbs, signer)
    return verifier.verify(public_key, message, signature, sm2_id=sm2_id)
