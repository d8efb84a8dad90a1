"""Drivers for UPER MessageFrames: raw bytes (``"uper"``) and hex text (``"hex"``).

Both hand the bytes to the codec's one ``decode`` (schema, constraints, wrong-version and
plausibility checks) under the device's message set, then convert to the SI model; the scene
receives exactly what the in-process path gives it.
"""

from __future__ import annotations

from v2xcloud.codec import MessageSet
from v2xcloud.codec.plausibility import DeploymentArea
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.drivers._scene import decode_uper
from v2xcloud.gateways.drivers.result import DriverOptions, Dropped, Parsed
from v2xcloud.model import DropReason

__all__ = ["hex_bytes", "parse_hex", "parse_uper"]

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_SPACE = frozenset(b" \t\r\n")
_WHITESPACE = b" \t\r\n"
_NOT_DIGITS = b"0123456789abcdefABCDEF" + _WHITESPACE  # deleted by translate: what is left is bad


def parse_uper(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is one UPER MessageFrame of the device's message set."""
    return decode_uper(frame.payload, frame, message_set=message_set, area=area, shape="uper")


def hex_bytes(text: bytes) -> bytes | Dropped:
    """Hex text (whitespace and one ``0x`` prefix allowed) → bytes, or a FRAMING drop naming
    the byte offset of the first character that is not a hex digit."""
    body = text.strip()
    start = len(text) - len(text.lstrip())
    if body[:2] in (b"0x", b"0X"):
        body, start = body[2:], start + 2
    if not body.translate(None, _NOT_DIGITS):  # only hex digits and whitespace: C-speed path
        compact = body.translate(None, _WHITESPACE)
        if compact and len(compact) % 2 == 0:
            return bytes.fromhex(compact.decode("ascii"))
    return _hex_problem(text, body, start)


def _hex_problem(text: bytes, body: bytes, start: int) -> Dropped:
    for offset, char in enumerate(body, start):
        if char not in _HEX_DIGITS and char not in _SPACE:
            return Dropped(
                reason=DropReason.FRAMING,
                detail=f"hex text holds {chr(char)!r}, not a hex digit",
                where=f"byte {offset}",
                shape="hex",
            )
    digits = len(body.translate(None, _WHITESPACE))
    if not digits:
        return Dropped(reason=DropReason.EMPTY, detail="hex text holds no digits", shape="hex")
    return Dropped(
        reason=DropReason.FRAMING,
        detail=f"hex text has an odd number of digits ({digits})",
        where=f"byte {len(text)}",
        shape="hex",
    )


def parse_hex(
    frame: InboundFrame,
    *,
    message_set: MessageSet,
    area: DeploymentArea | None = None,
    options: DriverOptions | None = None,
) -> Parsed | Dropped:
    """The payload is one UPER MessageFrame written as hex text (``"3c0a..."``)."""
    data = hex_bytes(frame.payload)
    if isinstance(data, Dropped):
        return data
    return decode_uper(data, frame, message_set=message_set, area=area, shape="hex")
