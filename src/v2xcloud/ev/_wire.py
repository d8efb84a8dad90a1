"""Byte cursor and writer for GB/T 32960 data units: big-endian, sentinels, scaling.

Every read checks the remaining length and raises ``Gb32960Error`` with the absolute byte
offset in the frame, so a rejection always says where it happened.
"""

from __future__ import annotations

import datetime as _dt

from v2xcloud.errors import EncodeError, Gb32960Error
from v2xcloud.model import DropReason

# Collection times are Beijing time on the wire (UTC+8); the model wants UTC ms.
_BEIJING = _dt.timezone(_dt.timedelta(hours=8))


def fail(reason: DropReason, detail: str, offset: int) -> Gb32960Error:
    """A ``Gb32960Error`` with its ``DropReason`` and ``where="byte N"``."""
    return Gb32960Error("GB32960", reason, detail, where=f"byte {offset}")


def error_offset(exc: Gb32960Error) -> int | None:
    """The byte offset recorded by :func:`fail`, or ``None``."""
    if exc.where and exc.where.startswith("byte "):
        return int(exc.where[5:])
    return None


class Reader:
    """Reads big-endian integers from ``data`` starting at ``pos``; ``base`` is added to offsets."""

    __slots__ = ("base", "data", "end", "pos")

    def __init__(self, data: bytes, *, base: int = 0, pos: int = 0, end: int | None = None):
        self.data = data
        self.base = base
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise fail(
                DropReason.TRUNCATED,
                f"{what} needs {n} bytes, {self.end - self.pos} left",
                self.offset,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        if self.pos >= self.end:
            raise fail(DropReason.TRUNCATED, f"{what} needs 1 byte, 0 left", self.offset)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "big")


def valid(raw: int, nbytes: int) -> int | None:
    """``raw`` unless it is the "abnormal" (max-1) or "invalid" (max) marker."""
    top = (1 << (8 * nbytes)) - 1
    return None if raw >= top - 1 else raw


_INVERSE = {0.1: 10, 0.01: 100, 0.001: 1000, 1e-6: 1_000_000}


def scaled(raw: int, nbytes: int, scale: float, offset: float = 0.0) -> float | None:
    """Scale a raw value to its unit; markers become ``None``.

    Dividing by 10**k gives the double nearest the decimal value (3867 -> 3.867); with an
    offset the sum is rounded to 6 decimals to drop float noise.
    """
    if raw >= (1 << (8 * nbytes)) - 2:
        return None
    if offset:
        return round(raw * scale + offset, 6)
    inverse = _INVERSE.get(scale)
    return raw / inverse if inverse else raw * scale


def unscale(value: float | None, nbytes: int, scale: float, offset: float = 0.0) -> int:
    """Inverse of :func:`scaled`; ``None`` becomes the "invalid" marker."""
    if value is None:
        return (1 << (8 * nbytes)) - 1
    return round((value - offset) / scale)


def raw_or_invalid(value: int | None, nbytes: int) -> int:
    """An integer field, ``None`` written as the "invalid" marker."""
    return (1 << (8 * nbytes)) - 1 if value is None else value


def put(out: bytearray, value: int, nbytes: int, what: str) -> None:
    """Append ``value`` big-endian; raises ``EncodeError`` when it does not fit."""
    try:
        out += value.to_bytes(nbytes, "big")
    except OverflowError as exc:
        raise EncodeError("GB32960", f"{what}={value} does not fit in {nbytes} bytes") from exc


def read_time_ms(r: Reader, what: str = "time") -> int:
    """Six bytes YY MM DD hh mm ss (Beijing time) to UTC milliseconds."""
    at = r.offset
    b = r.take(6, what)
    try:
        t = _dt.datetime(2000 + b[0], b[1], b[2], b[3], b[4], b[5], tzinfo=_BEIJING)
    except ValueError as exc:
        raise fail(DropReason.BAD_TIME, f"{what} {b.hex()} is not a date: {exc}", at) from exc
    return int(t.timestamp()) * 1000


def time_bytes(utc_ms: int) -> bytes:
    """UTC milliseconds to the six wire bytes (Beijing time, whole seconds)."""
    t = _dt.datetime.fromtimestamp(utc_ms // 1000, tz=_BEIJING)
    return bytes((t.year % 100, t.month, t.day, t.hour, t.minute, t.second))


def temp_raw(value: int | float | None) -> int:
    """A degC value as its one-byte wire form (+40); ``None`` -> 0xFF."""
    return 0xFF if value is None else int(value) + 40


def read_temps_c(r: Reader, n: int, what: str) -> tuple[int | None, ...]:
    """``n`` one-byte temperatures (degC + 40); markers -> ``None``."""
    return tuple(None if b >= 0xFE else b - 40 for b in r.take(n, what))
