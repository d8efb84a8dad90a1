"""GB/T 32960.3-2025 signatures: what the server asks of a signature check, and what is signed.

A 2025 real-time or re-sent report (0x02/0x03) may end with a signature block: ``0xFF``,
algorithm (1 SM2, 2 RSA, 3 ECC), u16 + r, u16 + s (``units_2025.read_signature``). A 2025
activation (0x09) carries the terminal's public key and a signature block without the 0xFF
marker. The signed bytes are the data unit from its first byte (the collection or activation
time) up to the signature block, as the public 2025 parsers delimit them; the frame header
(command, VIN) is outside.

``ev`` does not verify anything itself (it may not import ``security``): the server takes any
object with the two methods of :class:`FrameSignatureCheck` (``security.terminal_keys``
implements it; ``cli`` wires it). Each returns ``None`` when the frame may pass, else the
``DropReason`` and a sentence saying why.
"""

from __future__ import annotations

from typing import Protocol

from v2xcloud.model import DropReason
from v2xcloud.model.ev import EvSignature

__all__ = ["FrameSignatureCheck", "Refusal", "activation_signed_bytes", "report_signed_bytes"]

Refusal = tuple[DropReason, str]
"""Why a frame's signature is not accepted: the drop reason and a sentence naming the VIN."""

_HEADER = 24  # start 2, command 1, response 1, VIN 17, encryption 1, length 2


class FrameSignatureCheck(Protocol):
    """Judges the signatures of GB/T 32960-2025 frames for the server."""

    def check_report(
        self, vin: str, signature: EvSignature | None, signed: bytes
    ) -> Refusal | None:
        """A report of ``vin`` with its signature block (``None``: the report has none) over
        ``signed``: ``None`` to accept it, else why not (unsigned where required, unknown
        algorithm, no key for the VIN, bad signature)."""
        ...

    def check_activation(
        self, vin: str, public_key: bytes, signature: EvSignature, signed: bytes
    ) -> Refusal | None:
        """A 2025 activation presenting ``public_key`` for ``vin``, signed with it over
        ``signed``: ``None`` when accepted (the key may then verify the VIN's reports)."""
        ...


def _block_len(signature: EvSignature) -> int:
    return 5 + len(signature.r) + len(signature.s)  # algorithm, two u16 lengths, r, s


def report_signed_bytes(frame: bytes, signature: EvSignature) -> bytes:
    """The bytes a report's signature covers: its data unit up to the 0xFF marker.

    ``frame`` is the whole frame whose data unit decoded with ``signature`` as its last part.
    """
    data = frame[_HEADER:-1]
    return data[: len(data) - 1 - _block_len(signature)]


def activation_signed_bytes(frame: bytes, signature: EvSignature) -> bytes:
    """The bytes an activation's signature covers: time, chip id, key and VIN."""
    data = frame[_HEADER:-1]
    return data[: len(data) - _block_len(signature)]
