"""GB/T 32960.3-2025 terminal signatures: SM2 over the data unit, against the VIN's own key.

:class:`TerminalSignatures` is the signature check the GB/T 32960 server takes (it satisfies
``ev.signature.FrameSignatureCheck`` structurally; ``security`` does not import ``ev``). Each
terminal's public key is registered per VIN: from a keys file (:func:`load_terminal_keys`) or,
when ``register_on_activation`` is set, by the terminal's 2025 activation (0x09), whose
signature must verify under the key it presents (proof of possession). An activation for a
VIN whose registered key differs is refused (``identity_mismatch``).

A report's verdict:

- no signature block: accepted unless ``require`` (then ``unsigned``);
- algorithm other than 1 (SM2): ``unknown_algorithm`` (RSA and ECC are not verified: the
  standard leaves their key format to the manufacturer);
- no key for the VIN: ``unknown_signer``;
- r or s longer than 32 bytes (after leading zeros) or a signature that does not verify over
  the signed bytes with SM3 and the SM2 user id (default ``1234567812345678``):
  ``bad_signature``.

The keys are bounded (``max_terminals``, least recently registered evicted and counted).
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from v2xcloud.bounded import LruTable
from v2xcloud.errors import ConfigError, CryptoError
from v2xcloud.model import DropReason
from v2xcloud.security._curves import CURVES
from v2xcloud.security.crypto import (
    DEFAULT_SM2_ID,
    Signer,
    Verifier,
    decompress_point,
    signer_from_raw,
    sm3,
)
from v2xcloud.security.types import SignatureAlgorithm

__all__ = [
    "SM2_ALGORITHM",
    "TerminalSignatures",
    "lab_terminal_keys_toml",
    "lab_terminal_signer",
    "load_terminal_keys",
    "terminal_point",
]

logger = logging.getLogger(__name__)

SM2_ALGORITHM = 1
"""The signature algorithm byte of SM2 in GB/T 32960.3-2025 (2 RSA, 3 ECC)."""

_NAMES = {1: "SM2", 2: "RSA", 3: "ECC"}
Refusal = tuple[DropReason, str]


def terminal_point(public_key: bytes) -> bytes:
    """A terminal's SM2 key as the uncompressed point: 64 bytes ``x || y`` (as terminals send
    it), 65 bytes ``04 || x || y`` or 33 bytes compressed.

    Raises:
        CryptoError: another length, or not a point on the SM2 curve.
    """
    if len(public_key) == 64:
        public_key = b"\x04" + public_key
    return decompress_point(SignatureAlgorithm.SM2_SM3, public_key)


def _scalar(value: bytes) -> bytes | None:
    value = value.lstrip(b"\0")
    return value.rjust(32, b"\0") if len(value) <= 32 else None


class TerminalSignatures:
    """Verifies GB/T 32960-2025 report and activation signatures (see the module docstring).

    ``keys`` maps VIN -> public key (64, 65 or 33 bytes). ``stats`` counts verdicts:
    ``verified``, ``unsigned_accepted``, ``refused:<reason>``, ``registered``.

    Raises:
        CryptoError: a key in ``keys`` is not an SM2 point (naming the VIN).
    """

    def __init__(
        self,
        keys: Mapping[str, bytes] | None = None,
        *,
        require: bool = False,
        register_on_activation: bool = False,
        max_terminals: int = 100_000,
        sm2_id: bytes = DEFAULT_SM2_ID,
    ) -> None:
        self.require = require
        self.register_on_activation = register_on_activation
        self.stats: Counter[str] = Counter()
        self._keys: LruTable[str, bytes] = LruTable(
            limit=max_terminals, name="GB/T 32960 terminal keys (VINs)"
        )
        self._verifier = Verifier(
            SignatureAlgorithm.SM2_SM3, sm2_id=sm2_id, cache_size=min(max_terminals, 4096)
        )
        for vin, key in (keys or {}).items():
            try:
                self._keys[vin] = terminal_point(key)
            except CryptoError as exc:
                raise CryptoError(f"terminal key of {vin}: {exc}") from exc

    def key_of(self, vin: str) -> bytes | None:
        """The registered public point of ``vin`` (uncompressed), if any."""
        return self._keys.get(vin)

    def check_report(self, vin: str, signature: Any, signed: bytes) -> Refusal | None:
        """Verdict on a report of ``vin``: ``None`` to accept, else (reason, sentence).

        ``signature`` is the report's ``EvSignature`` (algorithm, r, s) or ``None``.
        """
        if signature is None:
            if self.require:
                return self._refuse(DropReason.UNSIGNED, f"{vin}: report carries no signature")
            self.stats["unsigned_accepted"] += 1
            return None
        refusal = self._algorithm(vin, signature.algorithm)
        if refusal is not None:
            return refusal
        key = self._keys.get(vin)
        if key is None:
            return self._refuse(DropReason.UNKNOWN_SIGNER, f"{vin}: no public key registered")
        return self._verify(vin, key, signature, signed, "report")

    def check_activation(
        self, vin: str, public_key: bytes, signature: Any, signed: bytes
    ) -> Refusal | None:
        """Verdict on a 2025 activation of ``vin`` presenting ``public_key``, signed with it."""
        refusal = self._algorithm(vin, signature.algorithm)
        if refusal is not None:
            return refusal
        try:
            point = terminal_point(public_key)
        except CryptoError as exc:
            return self._refuse(DropReason.BAD_SIGNATURE, f"{vin}: activation key: {exc}")
        refusal = self._verify(vin, point, signature, signed, "activation")
        if refusal is not None:
            return refusal
        registered = self._keys.get(vin)
        if registered is not None and registered != point:
            return self._refuse(
                DropReason.IDENTITY_MISMATCH,
                f"{vin}: activation presents another key than the one registered",
            )
        if registered is None:
            if not self.register_on_activation:
                return self._refuse(
                    DropReason.UNKNOWN_SIGNER,
                    f"{vin}: no key registered and activation does not register keys here",
                )
            self._keys[vin] = point
            self.stats["registered"] += 1
            self.stats["keys_evicted"] = self._keys.evicted
        return None

    def _algorithm(self, vin: str, algorithm: int) -> Refusal | None:
        if algorithm == SM2_ALGORITHM:
            return None
        name = _NAMES.get(algorithm, f"0x{algorithm:02x}")
        return self._refuse(
            DropReason.UNKNOWN_ALGORITHM,
            f"{vin}: signature algorithm {name}; only SM2 (1) is verified",
        )

    def _verify(
        self, vin: str, key: bytes, signature: Any, signed: bytes, what: str
    ) -> Refusal | None:
        r, s = _scalar(signature.r), _scalar(signature.s)
        if r is None or s is None:
            return self._refuse(
                DropReason.BAD_SIGNATURE,
                f"{vin}: {what} signature r/s of {len(signature.r)}/{len(signature.s)} bytes "
                "(SM2 takes 32)",
            )
        if not self._verifier.verify(key, signed, r + s):
            return self._refuse(
                DropReason.BAD_SIGNATURE, f"{vin}: {what} SM2 signature does not verify"
            )
        self.stats["verified"] += 1
        return None

    def _refuse(self, reason: DropReason, detail: str) -> Refusal:
        self.stats[f"refused:{reason.value}"] += 1
        logger.debug("GB/T 32960 signature refused (%s): %s", reason.value, detail)
        return reason, detail


def load_terminal_keys(path: str | Path) -> dict[str, bytes]:
    """VIN -> public key from a TOML or JSON file: a table ``terminal_keys`` of VIN = hex.

    ::

        [terminal_keys]
        LTEST000000000001 = "04 6f...": 64 (x||y), 65 (04||x||y) or 33 bytes in hex

    Raises:
        ConfigError: unreadable file, no ``terminal_keys`` table, a value not hex, or a key
        that is not an SM2 point; the message names the file and the VIN.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"terminal keys file {path}: {exc}") from exc
    table = data.get("terminal_keys") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"terminal keys file {path}: needs a table 'terminal_keys' of VIN = hex")
    keys: dict[str, bytes] = {}
    for vin, text_key in table.items():
        try:
            key = bytes.fromhex(str(text_key))
            terminal_point(key)
        except (ValueError, CryptoError) as exc:
            raise ConfigError(f"terminal keys file {path}: key of {vin}: {exc}") from exc
        keys[vin] = key
    return keys


def lab_terminal_signer(vin: str, seed: str) -> Signer:
    """The SM2 signer of a lab terminal, derived from ``seed`` and its VIN.

    For test labs and the fleet simulator only: whoever knows the seed holds every such key.
    The scalar is ``SM3("v2xcloud lab terminal|seed|vin|i")`` for the first ``i`` that gives a
    value in ``[1, n-1]``.
    """
    n = CURVES[SignatureAlgorithm.SM2_SM3].n
    i = 0
    while True:
        d = sm3(f"v2xcloud lab terminal|{seed}|{vin}|{i}".encode())
        if 0 < int.from_bytes(d, "big") < n:
            return signer_from_raw(SignatureAlgorithm.SM2_SM3, d)
        i += 1


def lab_terminal_keys_toml(vins: list[str], seed: str) -> str:
    """A keys file (:func:`load_terminal_keys`) for the lab terminals ``vins`` of ``seed``."""
    lines = [
        "# lab terminal keys derived from a seed: for tests and simulators only",
        "[terminal_keys]",
    ]
    lines += [f'{vin} = "{lab_terminal_signer(vin, seed).public_key.hex()}"' for vin in vins]
    return "\n".join(lines) + "\n"
