"""Data units of the non-report commands: logins, logouts, time sync, 2025 activation, key sync.

Layouts (times are 6 bytes, Beijing time, held as UTC ms):

- vehicle login 0x01: time, login serial u16, ICCID (20 ASCII), subsystem count n u8; 2016:
  code length m u8 + n codes of m ASCII; 2025: n u8 pack counts, then 24-ASCII pack codes.
- vehicle logout 0x04, platform logout 0x06: time, serial u16.
- platform login 0x05: time, serial u16, user (12 ASCII), password (20 ASCII), encryption u8.
- heartbeat 0x07: empty. Time sync 0x08: empty request; the response carries the time.
- 2025 activation 0x09: time, security chip id (16 ASCII), u16 + public key, VIN (17),
  signature (algorithm, u16 + r, u16 + s). Activation response 0x0A: result u8, info u8.
- 2025 key sync 0x0B: encryption u8, u16 + key, start time, end time.
- Responses (flag != 0xFE): the first 6 bytes, if present, are the time of the request.
"""

from __future__ import annotations

import msgspec

from v2xcloud.ev._wire import Reader, fail, put, read_time_ms, time_bytes
from v2xcloud.ev.units_2025 import read_signature
from v2xcloud.model import DropReason
from v2xcloud.model.ev import EvSignature

__all__ = [
    "Ack",
    "Activation",
    "ActivationResult",
    "KeySync",
    "Logout",
    "PlatformLogin",
    "VehicleLogin",
    "read_body",
    "write_body",
]


class VehicleLogin(msgspec.Struct, frozen=True, kw_only=True):
    """Vehicle login: ``serial`` counts logins per day; ``pack_codes`` per subsystem."""

    at_ms: int
    serial: int
    iccid: str
    pack_codes: tuple[tuple[str, ...], ...] = ()


class Logout(msgspec.Struct, frozen=True, kw_only=True):
    """Vehicle or platform logout, echoing the login serial."""

    at_ms: int
    serial: int


class PlatformLogin(msgspec.Struct, frozen=True, kw_only=True):
    """Platform login (a forwarding platform logs in to another platform)."""

    at_ms: int
    serial: int
    user: str
    password: str
    encryption: int


class Activation(msgspec.Struct, frozen=True, kw_only=True):
    """2025 terminal activation: security chip, public key, VIN, signature."""

    at_ms: int
    chip_id: str
    public_key: bytes
    vin: str
    signature: EvSignature


class ActivationResult(msgspec.Struct, frozen=True, kw_only=True):
    """2025 activation response: result 1 ok / 2 failed, info 1 ok / 2 chip used / 3 VIN dup."""

    result: int
    info: int


class KeySync(msgspec.Struct, frozen=True, kw_only=True):
    """2025 data-key synchronisation: algorithm, key, validity window (UTC ms)."""

    encryption: int
    key: bytes
    valid_from_ms: int
    valid_to_ms: int


class Ack(msgspec.Struct, frozen=True, kw_only=True):
    """A response frame's data: the request time when present, plus any further bytes."""

    at_ms: int | None
    rest: bytes = b""


Body = VehicleLogin | Logout | PlatformLogin | Activation | ActivationResult | KeySync | Ack | None


def _ascii(r: Reader, n: int, what: str) -> str:
    at = r.offset
    raw = r.take(n, what)
    try:
        return raw.decode("ascii").rstrip("\x00 ")
    except UnicodeDecodeError as exc:
        raise fail(DropReason.BAD_TEXT, f"{what} {raw.hex()} is not ASCII", at) from exc


def _login(r: Reader, layout: int) -> VehicleLogin:
    at, serial, iccid = read_time_ms(r), r.u16("login serial"), _ascii(r, 20, "ICCID")
    n = r.u8("subsystem count")
    codes: tuple[tuple[str, ...], ...]
    if layout == 2016:
        m = r.u8("code length")
        codes = tuple((_ascii(r, m, "pack code"),) for _ in range(n))
    else:
        counts = r.take(n, "pack counts")
        codes = tuple(tuple(_ascii(r, 24, "pack code") for _ in range(c)) for c in counts)
    return VehicleLogin(at_ms=at, serial=serial, iccid=iccid, pack_codes=codes)


def _activation(r: Reader) -> Activation:
    at, chip = read_time_ms(r), _ascii(r, 16, "security chip id")
    key = r.take(r.u16("public key length"), "public key")
    vin = _ascii(r, 17, "VIN")
    return Activation(at_ms=at, chip_id=chip, public_key=key, vin=vin, signature=read_signature(r))


def read_body(command: int, response: int, data: bytes, *, layout: int, base: int = 24) -> Body:
    """Decode the data unit of a non-report command (see the module docstring for layouts)."""
    r = Reader(data, base=base)
    if response != 0xFE and command != 0x0A:
        return Ack(at_ms=read_time_ms(r) if len(data) >= 6 else None, rest=data[6:])
    if command == 0x01:
        body: Body = _login(r, layout)
    elif command in (0x04, 0x06):
        body = Logout(at_ms=read_time_ms(r), serial=r.u16("login serial"))
    elif command == 0x05:
        at, serial = read_time_ms(r), r.u16("login serial")
        user, password = _ascii(r, 12, "user"), _ascii(r, 20, "password")
        body = PlatformLogin(
            at_ms=at, serial=serial, user=user, password=password, encryption=r.u8("encryption")
        )
    elif command in (0x07, 0x08, 0x80, 0x81, 0x82):
        body = None if not data else Ack(at_ms=None, rest=data)
    elif command == 0x09 and layout == 2025:
        body = _activation(r)
    elif command == 0x0A and layout == 2025:
        body = ActivationResult(result=r.u8("activation result"), info=r.u8("activation info"))
    elif command == 0x0B and layout == 2025:
        enc, key = r.u8("encryption"), r.take(r.u16("key length"), "key")
        body = KeySync(
            encryption=enc, key=key, valid_from_ms=read_time_ms(r), valid_to_ms=read_time_ms(r)
        )
    else:
        raise fail(
            DropReason.BAD_COMMAND,
            f"command 0x{command:02x} is not defined in the {layout} layout",
            2,
        )
    if r.remaining():
        raise fail(
            DropReason.LENGTH_MISMATCH,
            f"{r.remaining()} bytes left after command 0x{command:02x}",
            r.offset,
        )
    return body


def _text(out: bytearray, text: str, n: int) -> None:
    out += text.encode("ascii").ljust(n, b"\x00")[:n]


def write_body(body: Body, *, layout: int = 2016) -> bytes:
    """Inverse of :func:`read_body`."""
    out = bytearray()
    if isinstance(body, VehicleLogin):
        out += time_bytes(body.at_ms)
        put(out, body.serial, 2, "login serial")
        _text(out, body.iccid, 20)
        put(out, len(body.pack_codes), 1, "subsystem count")
        if layout == 2016:
            m = max((len(c[0]) for c in body.pack_codes if c), default=0)
            put(out, m, 1, "code length")
            for codes in body.pack_codes:
                _text(out, codes[0] if codes else "", m)
        else:
            out += bytes(len(c) for c in body.pack_codes)
            for codes in body.pack_codes:
                for code in codes:
                    _text(out, code, 24)
    elif isinstance(body, Logout):
        out += time_bytes(body.at_ms)
        put(out, body.serial, 2, "login serial")
    elif isinstance(body, PlatformLogin):
        out += time_bytes(body.at_ms)
        put(out, body.serial, 2, "login serial")
        _text(out, body.user, 12)
        _text(out, body.password, 20)
        put(out, body.encryption, 1, "encryption")
    elif isinstance(body, Activation):
        out += time_bytes(body.at_ms)
        _text(out, body.chip_id, 16)
        put(out, len(body.public_key), 2, "public key length")
        out += body.public_key
        _text(out, body.vin, 17)
        put(out, body.signature.algorithm, 1, "algorithm")
        for part in (body.signature.r, body.signature.s):
            put(out, len(part), 2, "signature length")
            out += part
    elif isinstance(body, ActivationResult):
        out += bytes((body.result, body.info))
    elif isinstance(body, KeySync):
        put(out, body.encryption, 1, "encryption")
        put(out, len(body.key), 2, "key length")
        out += body.key + time_bytes(body.valid_from_ms) + time_bytes(body.valid_to_ms)
    elif isinstance(body, Ack):
        out += (b"" if body.at_ms is None else time_bytes(body.at_ms)) + body.rest
    return bytes(out)
