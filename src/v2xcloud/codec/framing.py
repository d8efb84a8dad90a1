"""Transport framing around UPER MessageFrames: raw bytes, hex text, vendor capture records.

Vendor capture record (the Hisense tool's format, see ``reference/SOURCES.md``)::

    device id      8 bytes   (ASCII, e.g. "u_id_123")
    timestamp      8 bytes   little-endian UTC milliseconds
    then either    u16 LE length + one frame           (length == bytes left)
    or             u8 count N, N × (u16 LE length + frame)   (batched record)

The single-frame layout gives the usual 18-byte prefix. The capture's BSM line is a batched
record: count 2, then frames of 86 and 53 bytes, which is why its "prefix" looks 19 bytes long.
A record is read as single-frame if its length field matches exactly, else as batched if the
count and lengths consume it exactly, else it is a ``FramingError``.

A capture *file* may mix records with other text (the vendor tool's decoded output): the
reader takes every line whose text after an optional label (``"...："`` or ``"...:"``) is one
hex string of at least 19 bytes, and ignores all other lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import msgspec

from v2xcloud.errors import FramingError
from v2xcloud.model import DropReason

__all__ = ["CaptureFrame", "iter_capture_lines", "iter_hex_lines", "parse_capture_record"]

_PREFIX = 16
_HEX_RUN = re.compile(r"^(?:[^:：]*[:：])?\s*([0-9A-Fa-f]{38,})\s*$")


class CaptureFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One MessageFrame from a capture record, with the record's device id and time."""

    device_id: str
    timestamp_ms: int
    frame: bytes


def _frames_single(body: bytes) -> list[bytes] | None:
    if len(body) >= 2 and int.from_bytes(body[:2], "little") == len(body) - 2:
        return [body[2:]]
    return None


def _frames_batched(body: bytes) -> list[bytes] | None:
    if not body:
        return None
    count, pos, frames = body[0], 1, []
    for _ in range(count):
        if pos + 2 > len(body):
            return None
        length = int.from_bytes(body[pos : pos + 2], "little")
        pos += 2
        if length == 0 or pos + length > len(body):
            return None
        frames.append(body[pos : pos + length])
        pos += length
    return frames if frames and pos == len(body) else None


def parse_capture_record(record: bytes) -> list[CaptureFrame]:
    """Split one vendor capture record into its frames; raises ``FramingError``."""
    if len(record) < _PREFIX + 3:
        raise FramingError(
            "capture",
            DropReason.FRAMING,
            f"record of {len(record)} bytes is shorter than its prefix",
            where="byte 0",
        )
    device_id = record[:8].decode("ascii", errors="replace").rstrip("\x00")
    timestamp_ms = int.from_bytes(record[8:16], "little")
    body = record[_PREFIX:]
    frames = _frames_single(body) or _frames_batched(body)
    if frames is None:
        declared = int.from_bytes(body[:2], "little")
        raise FramingError(
            "capture",
            DropReason.FRAMING,
            f"length field says {declared} bytes but {len(body) - 2} follow, and the record is not a valid batch",
            where="byte 16",
        )
    return [CaptureFrame(device_id=device_id, timestamp_ms=timestamp_ms, frame=f) for f in frames]


def _hex(text: str, line_no: int) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise FramingError(
            "hex", DropReason.FRAMING, f"line {line_no} is not hex text", where=f"line {line_no}"
        ) from None


def _numbered(text: str | Iterable[str], first_line: int) -> Iterator[tuple[int, str]]:
    lines = text.splitlines() if isinstance(text, str) else text
    return enumerate(lines, start=first_line)


def iter_hex_lines(
    text: str | Iterable[str], *, first_line: int = 1
) -> Iterator[tuple[int, bytes | FramingError]]:
    """(line number, frame bytes or the FramingError) for every non-blank line of hex text.

    ``text`` is the whole text or any iterable of its lines (a file being streamed);
    ``first_line`` is the number of its first line.
    """
    for line_no, line in _numbered(text, first_line):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            yield line_no, _hex(stripped.replace(" ", ""), line_no)
        except FramingError as exc:
            yield line_no, exc


def iter_capture_lines(
    text: str | Iterable[str], *, first_line: int = 1
) -> Iterator[tuple[int, list[CaptureFrame] | FramingError]]:
    """(line number, frames or FramingError) for every line of a capture file holding a record.

    ``text`` and ``first_line`` as for :func:`iter_hex_lines`.
    """
    for line_no, line in _numbered(text, first_line):
        match = _HEX_RUN.match(line.strip())
        if match is None:
            continue
        try:
            yield line_no, parse_capture_record(_hex(match.group(1), line_no))
        except FramingError as exc:
            yield line_no, exc
