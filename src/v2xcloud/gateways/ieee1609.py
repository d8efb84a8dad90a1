"""The wrappers US-style roadside equipment puts around a UPER message: IEEE 1609.3 WSMP and
IEEE 1609.2 ``Ieee1609Dot2Data``, parsed from the standards' structure and stripped.

**WSMP** (IEEE 1609.3-2016, WAVE Short Message), version 3::

    N-Header  octet 0      subtype (bits 7..4) | option indicator (bit 3) | version = 3 (2..0)
              [option]     count, then count × (element id: 1 octet, length, contents)
              1 octet      TPID: 0 PSID | 1 PSID + extensions | 2 ports | 3 ports + extensions
    T-Header  PSID         p-encoded, 1..4 octets (0b0…, 0b10…, 0b110…, 0b1110… first octet)
              or ports     source and destination port, 2 octets each (TPID 2, 3)
              [extensions] count, then elements as above (TPID 1, 3)
              length       the WSM data length
    data      length octets

Counts and lengths are 1 octet for 0..127 (first bit 0) or 2 octets for 128..16383 (first
bits 0b10, 14-bit value).

**1609.2** (IEEE 1609.2, canonical OER)::

    Ieee1609Dot2Data ::= SEQUENCE { protocolVersion Uint8 (3), content Ieee1609Dot2Content }
    Ieee1609Dot2Content ::= CHOICE { unsecuredData Opaque, signedData SignedData,
                                     encryptedData EncryptedData,
                                     signedCertificateRequest Opaque, ... }

In COER the version is one octet (3), the CHOICE tag one octet (``0x80 | index``), and an
``Opaque`` (OCTET STRING) a length determinant — one octet below 128, else ``0x80 | n``
followed by n length octets — then its bytes. ``unsecuredData`` is the UPER frame itself.
Signed data is not opened here: with no verifier configured it is dropped as
``SIGNED_UNVERIFIED`` (the bytes kept in the dead letter), with one (``keep_signed``) it is
handed on whole for the security stage; encrypted data and certificate
requests have no stage that can read them (``UNSUPPORTED_MESSAGE``).

``unwrap(datagram, framing=...)`` returns the inner UPER bytes (``Unwrapped``) or a
``WrapDrop`` naming the reason and the byte offset where the header went wrong.

>>> wsm = bytes([0x03, 0x00, 0x20, 0x05]) + bytes([0x03, 0x80, 0x02, 0xAB, 0xCD])
>>> u = unwrap(wsm + b"", framing="auto")
>>> u.payload.hex(), u.psid, u.layers
('abcd', 32, ('wsmp', '1609.2'))
>>> unwrap(wsm[:3], framing="wsmp").where
'byte 3'
"""

from __future__ import annotations

from typing import Literal

import msgspec

from v2xcloud.errors import ConfigError, EncodeError
from v2xcloud.model import DropReason

__all__ = [
    "FRAMINGS",
    "Framing",
    "Unwrapped",
    "WrapDrop",
    "encode_psid",
    "unwrap",
    "unwrap_1609dot2",
    "unwrap_wsmp",
]

Framing = Literal["auto", "raw", "wsmp", "1609.2"]
FRAMINGS: tuple[str, ...] = ("auto", "raw", "wsmp", "1609.2")

_WSMP_VERSION = 3
_DOT2_VERSION = 3
_CONTENT = {0: "unsecuredData", 1: "signedData", 2: "encryptedData", 3: "signedCertificateRequest"}


class Unwrapped(msgspec.Struct, frozen=True, kw_only=True):
    """The inner payload, the WSMP PSID (None without WSMP) and the layers stripped;
    ``is_signed``: the payload is a whole signed ``Ieee1609Dot2Data`` kept for the security
    stage (``keep_signed``), not a UPER frame."""

    payload: bytes
    psid: int | None = None
    layers: tuple[str, ...] = ()
    is_signed: bool = False


class WrapDrop(msgspec.Struct, frozen=True, kw_only=True):
    """A datagram whose wrapper cannot be used: why, where (``byte N``), a sentence."""

    reason: DropReason
    detail: str
    where: str | None = None


class _Bad(Exception):
    def __init__(self, reason: DropReason, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.drop = WrapDrop(reason=reason, detail=detail, where=f"byte {offset}")


class _Reader:
    """Cursor over a datagram; every short read is a TRUNCATED complaint at its offset."""

    def __init__(self, data: bytes, layer: str) -> None:
        self.data = data
        self.pos = 0
        self.layer = layer

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise _Bad(
                DropReason.TRUNCATED,
                f"{self.layer}: {what} needs {n} byte(s), {len(self.data) - self.pos} left",
                self.pos,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def var_number(self, what: str) -> int:
        """1609.3 length/count: 1 octet (0b0…) or 2 octets (0b10…, 14 bits)."""
        start = self.pos
        first = self.octet(what)
        if first < 0x80:
            return first
        if first & 0xC0 != 0x80:
            raise _Bad(DropReason.FRAMING, f"{self.layer}: {what} starts 0b11", start)
        return ((first & 0x3F) << 8) | self.octet(what)

    def elements(self, what: str) -> None:
        """Skip a WAVE Information Element Extension: count, then id + length + contents."""
        for _ in range(self.var_number(f"{what} count")):
            self.octet(f"{what} element id")
            self.take(self.var_number(f"{what} element length"), f"{what} element")


def _decode_psid(reader: _Reader) -> int:
    """Read a p-encoded PSID (IEEE 1609.3 / 1609.12): 1 to 4 octets, length in the prefix."""
    start = reader.pos
    first = reader.octet("PSID")
    if first < 0x80:
        return first
    if first < 0xC0:
        return (((first & 0x3F) << 8) | reader.octet("PSID")) + 0x80
    if first < 0xE0:
        rest = reader.take(2, "PSID")
        return (((first & 0x1F) << 16) | int.from_bytes(rest, "big")) + 0x4080
    if first < 0xF0:
        rest = reader.take(3, "PSID")
        return (((first & 0x0F) << 24) | int.from_bytes(rest, "big")) + 0x204080
    raise _Bad(DropReason.FRAMING, f"WSMP: PSID prefix 0x{first:02x} is not p-encoding", start)


def encode_psid(psid: int) -> bytes:
    """A PSID in p-encoding (as the WSMP T-Header carries it); EncodeError past 0x1020407F."""
    if psid < 0x80:
        return bytes([psid])
    if psid < 0x4080:
        return (0x8000 | (psid - 0x80)).to_bytes(2, "big")
    if psid < 0x204080:
        return (0xC00000 | (psid - 0x4080)).to_bytes(3, "big")
    if psid <= 0x1020407F:
        return (0xE0000000 | (psid - 0x204080)).to_bytes(4, "big")
    raise EncodeError("PSID", f"{psid} is beyond p-encoding (at most 0x1020407F)")


def _wsmp(data: bytes) -> tuple[bytes, int | None]:
    r = _Reader(data, "WSMP")
    first = r.octet("N-Header")
    if first & 0x07 != _WSMP_VERSION:
        raise _Bad(DropReason.WRONG_VERSION, f"WSMP: version {first & 0x07}, expected 3", 0)
    if first & 0x08:
        r.elements("N-Header extension")
    tpid_at = r.pos
    tpid = r.octet("TPID")
    psid: int | None = None
    if tpid in (0, 1):
        psid = _decode_psid(r)
    elif tpid in (2, 3):
        r.take(4, "source and destination ports")
    else:
        raise _Bad(DropReason.FRAMING, f"WSMP: TPID {tpid} is not supported (0..3)", tpid_at)
    if tpid in (1, 3):
        r.elements("T-Header extension")
    length = r.var_number("WSM length")
    body = r.take(length, "WSM data")
    if r.pos != len(data):
        raise _Bad(
            DropReason.TRAILING_BYTES,
            f"WSMP: {len(data) - r.pos} byte(s) after the {length}-byte WSM data",
            r.pos,
        )
    return body, psid


def _coer_length(r: _Reader, what: str) -> int:
    start = r.pos
    first = r.octet(f"{what} length")
    if first < 0x80:
        return first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise _Bad(DropReason.FRAMING, f"1609.2: {what} length of {count} octets", start)
    return int.from_bytes(r.take(count, f"{what} length"), "big")


class _Signed(Exception):
    """Signed data, kept whole for a security stage (``keep_signed``)."""


def _dot2(data: bytes, offset: int, keep_signed: bool = False) -> bytes:
    r = _Reader(data, "1609.2")
    version = r.octet("protocolVersion")
    if version != _DOT2_VERSION:
        raise _Bad(
            DropReason.WRONG_VERSION, f"1609.2: protocolVersion {version}, expected 3", offset
        )
    tag_at = r.pos
    tag = r.octet("content tag")
    index = tag & 0x3F if tag & 0xC0 == 0x80 else None
    name = _CONTENT.get(index) if index is not None else None
    if name is None:
        raise _Bad(DropReason.MALFORMED, f"1609.2: content tag 0x{tag:02x}", offset + tag_at)
    if name == "signedData":
        if keep_signed:
            raise _Signed
        raise _Bad(
            DropReason.SIGNED_UNVERIFIED,
            "1609.2 signedData: no verifier is configured, kept unverified",
            offset + tag_at,
        )
    if name != "unsecuredData":
        raise _Bad(
            DropReason.UNSUPPORTED_MESSAGE, f"1609.2 {name}: no stage reads it", offset + tag_at
        )
    try:
        length = _coer_length(r, "unsecuredData")
        body = r.take(length, "unsecuredData")
    except _Bad as exc:  # offsets inside this layer → offsets in the datagram
        inner = int((exc.drop.where or "byte 0").split()[1])
        raise _Bad(exc.drop.reason, exc.drop.detail, offset + inner) from None
    if r.pos != len(data):
        raise _Bad(
            DropReason.TRAILING_BYTES,
            f"1609.2: {len(data) - r.pos} byte(s) after unsecuredData",
            offset + r.pos,
        )
    return body


def _looks_dot2(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == _DOT2_VERSION and data[1] & 0xFC == 0x80


def _looks_signed(data: bytes) -> bool:
    """``03 81``, a HashAlgorithm (sha256, sha384, sm3) and the SignedDataPayload preamble
    (extension and two presence bits, five zero padding bits): what a signed message starts
    with, and what a raw UPER frame beginning ``03 81`` rarely does as well."""
    return len(data) >= 4 and data[1] == 0x81 and data[2] <= 2 and data[3] & 0x1F == 0


def unwrap_wsmp(data: bytes, *, keep_signed: bool = False) -> Unwrapped | WrapDrop:
    """Strip a WSMP header; the WSM data is then a 1609.2 wrapper (stripped too) or UPER."""
    try:
        body, psid = _wsmp(data)
    except _Bad as exc:
        return exc.drop
    return _after_wsmp(body, psid, len(data) - len(body), keep_signed)


def _after_wsmp(
    body: bytes, psid: int | None, header: int, keep_signed: bool = False
) -> Unwrapped | WrapDrop:
    if _looks_dot2(body):
        inner = _strict_dot2(body, header, keep_signed)
        if isinstance(inner, WrapDrop):
            return inner
        if inner is None:
            return Unwrapped(payload=body, psid=psid, layers=("wsmp",), is_signed=True)
        return Unwrapped(payload=inner, psid=psid, layers=("wsmp", "1609.2"))
    return Unwrapped(payload=body, psid=psid, layers=("wsmp",))


def _strict_dot2(data: bytes, offset: int, keep_signed: bool = False) -> bytes | WrapDrop | None:
    """The unsecured payload, the drop, or None for signed data kept whole (``keep_signed``)."""
    try:
        return _dot2(data, offset, keep_signed)
    except _Bad as exc:
        return exc.drop
    except _Signed:
        return None


def unwrap_1609dot2(data: bytes, *, keep_signed: bool = False) -> Unwrapped | WrapDrop:
    """Strip an ``Ieee1609Dot2Data`` wrapper (no WSMP around it); signed data is a
    ``SIGNED_UNVERIFIED`` drop, or with ``keep_signed`` kept whole (``is_signed``)."""
    inner = _strict_dot2(data, 0, keep_signed)
    if isinstance(inner, WrapDrop):
        return inner
    if inner is None:
        return Unwrapped(payload=data, is_signed=True)
    return Unwrapped(payload=inner, layers=("1609.2",))


def unwrap(
    data: bytes, *, framing: str = "auto", keep_signed: bool = False
) -> Unwrapped | WrapDrop:
    """The UPER payload inside a datagram.

    ``"raw"``: the datagram is the payload. ``"wsmp"`` / ``"1609.2"``: that wrapper is
    required, and a header that does not parse is a drop naming the byte. ``"auto"``: a WSMP
    header is taken if the whole datagram parses as one (version 3, lengths exact), else a
    1609.2 wrapper if it parses as one, else the datagram is raw UPER — a CSAE MessageFrame
    may begin with the same octets, so only a complete, exact parse counts; signed data
    (which is not opened) is recognised by its first four octets. Encrypted data and anything
    else unclear is left to the UPER decoder, which says what is wrong with it.

    ``keep_signed``: signed data is not a ``SIGNED_UNVERIFIED`` drop but kept whole
    (``Unwrapped.is_signed``, the WSMP header still stripped) for the security stage to open
    and verify — what the UDP gateway does when the platform has one.
    """
    if framing == "raw":
        return Unwrapped(payload=data)
    if framing == "wsmp":
        return unwrap_wsmp(data, keep_signed=keep_signed)
    if framing == "1609.2":
        return unwrap_1609dot2(data, keep_signed=keep_signed)
    if framing != "auto":
        raise ConfigError(f"framing {framing!r}; choose one of {FRAMINGS}")
    if data[:1] and data[0] & 0x07 == _WSMP_VERSION:
        try:
            body, psid = _wsmp(data)
        except _Bad:
            pass  # not an exact WSMP header: maybe 1609.2, else raw
        else:  # an exact WSMP header: what it carries is judged as such
            return _after_wsmp(body, psid, len(data) - len(body), keep_signed)
    if _looks_dot2(data):
        dot2 = unwrap_1609dot2(data, keep_signed=keep_signed)
        if isinstance(dot2, Unwrapped) and dot2.is_signed:
            return dot2 if _looks_signed(data) else Unwrapped(payload=data)
        if isinstance(dot2, Unwrapped) or (
            dot2.reason is DropReason.SIGNED_UNVERIFIED and _looks_signed(data)
        ):
            return dot2
    return Unwrapped(payload=data)
