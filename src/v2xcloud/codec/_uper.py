"""The UPER decoding step with the checks asn1tools leaves out: whole bytes used, zero
padding, value constraints. Bad input becomes ``Reject`` with a reason and a place."""

from __future__ import annotations

from typing import Any

from v2xcloud.codec._schema import compiled
from v2xcloud.codec.message_set import FRAME_MESSAGES, MessageSet
from v2xcloud.model import DropReason

_ROOT_ORDER = list(FRAME_MESSAGES)  # MessageFrame root alternatives, in index order


class Reject(Exception):
    """Internal signal: this frame becomes ``Rejected(reason, detail, where)``."""

    def __init__(self, reason: DropReason, detail: str, where: str | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.where = reason, detail, where


def split_error(exc: Exception) -> tuple[str | None, str]:
    """asn1tools' ``"a.b.c: what"`` → (``"$.a.b.c"``, ``"what"``)."""
    text = str(exc) or type(exc).__name__
    head, sep, tail = text.partition(": ")
    if sep and " " not in head:
        return "$." + head, tail
    return None, text


def decode_type(message_set: MessageSet, type_name: str, data: bytes, where: str) -> Any:
    """Decode ``data`` as one ``type_name``; raises ``Reject`` for anything not exactly one."""
    compiled_type = compiled(message_set)._types[type_name]
    # imported here, after ``compiled`` did: importing the codec does not import asn1tools
    from asn1tools.codecs import uper as _uper

    decoder = _uper.Decoder(bytearray(data))
    try:
        value = compiled_type._type.decode(decoder)
    except Exception as exc:  # asn1tools raises DecodeError, but also IndexError/ValueError
        location, text = split_error(exc)
        raise Reject(DropReason.MALFORMED, f"{type_name}: {text}", location or where) from exc
    used_bits = decoder.number_of_read_bits()
    used_bytes = (used_bits + 7) // 8
    if used_bytes < len(data):
        raise Reject(
            DropReason.TRAILING_BYTES,
            f"{type_name} ends at byte {used_bytes} of {len(data)}",
            f"byte {used_bytes}",
        )
    if used_bits % 8 and data[-1] & (0xFF >> (used_bits % 8)):
        # UPER pads the last octet with zeros; anything else is not a frame we could re-create
        raise Reject(
            DropReason.MALFORMED, f"{type_name}: non-zero padding bits", f"byte {used_bytes - 1}"
        )
    try:
        compiled_type.check_constraints(value)
    except Exception as exc:
        location, text = split_error(exc)
        raise Reject(DropReason.CONSTRAINT, f"{type_name}: {text}", location or where) from exc
    return value


def peek_alternative(data: bytes) -> str | None:
    """The MessageFrame root alternative named by the first 4 bits (no full decode)."""
    first = data[0]
    if first & 0x80:
        return None  # extension alternative (Day-2)
    index = (first >> 4) & 0x7
    return _ROOT_ORDER[index] if index < len(_ROOT_ORDER) else None
