"""``v2xcloud decode`` and ``v2xcloud encode``: C-V2X frames ⇄ one JSON object per line.

``decode`` prints, per frame, the lossless CSAE JSON of the MessageFrame with a ``type`` key
(``{"type": "BSM", "bsmFrame": {...}}``), or with ``--model`` the SI model
(``{"type": "BSM", "msg_count": ..., "participant": {...}}``). A bad frame prints
``{"rejected": true, "reason": ..., "detail": ..., "where": ..., "raw": <hex>}`` and decoding
goes on; a summary per reason goes to stderr. ``encode`` turns decode's lossless lines back
into hex, one per line (a rejected line gives back its raw text), so ``decode | encode``
reproduces a hex input exactly.

Both stream: the input is read a line at a time (``bin``: one frame, read up to
``MAX_FRAME_BYTES``), so memory stays bounded whatever the input's size. A line longer than
``MAX_LINE_BYTES`` or a ``bin`` input larger than ``MAX_FRAME_BYTES`` is rejected
(``framing``) without being held whole. A rejection echoes at most ``ECHO_BYTES`` of the
frame (``raw``, hex) or ``ECHO_CHARS`` of the line (``text``); when it had to cut, the line
says so (``"raw_truncated": true`` / ``"text_truncated": true``) with the full size in bytes
(``raw_bytes`` / ``text_bytes``), and ``encode`` refuses such a line rather than give back a
different frame.

Exit status (both commands): 0 every frame or line was fine, 1 some were rejected (decode)
or could not be encoded (encode), 2 usage or configuration error (bad option, unreadable
file).

Bare secMark/moy times resolve against the capture record's timestamp, else against
``--received-at-ms`` (default 0, i.e. 1970-01-01T00:00Z, so output is reproducible).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

import msgspec

from v2xcloud.codec import (
    Decoded,
    DeploymentArea,
    MessageSet,
    Rejected,
    decode,
    encode,
    iter_capture_lines,
    iter_hex_lines,
    message_set_of,
)
from v2xcloud.errors import ConfigError, EncodeError, FramingError
from v2xcloud.model import DropReason

__all__ = ["ECHO_BYTES", "ECHO_CHARS", "MAX_FRAME_BYTES", "MAX_LINE_BYTES", "register"]

_META_KEYS = ("type", "device_id", "captured_at_ms", "hex_upper")

MAX_LINE_BYTES = 1 << 20
"""Longest input line read (1 MiB: the hex of a 512 KiB frame); longer ones are rejected."""
MAX_FRAME_BYTES = 1 << 20
"""Largest ``--format bin`` input taken as one frame (1 MiB); larger inputs are rejected."""
ECHO_BYTES = 16_384
"""Most frame bytes a rejection line echoes (as hex)."""
ECHO_CHARS = 32_768
"""Most characters of an input line a rejection line echoes."""
_CHUNK = 1 << 16


def register(sub: argparse._SubParsersAction) -> None:
    """Attach the codec subcommands."""
    dec = sub.add_parser("decode", help="decode C-V2X frames to JSON lines")
    _common(dec)
    dec.add_argument(
        "--format",
        choices=("hex", "bin", "capture"),
        default="hex",
        help="hex: one hex frame per line; bin: one raw UPER frame; capture: vendor records",
    )
    dec.add_argument(
        "--model", action="store_true", help="print the SI model instead of lossless JSON"
    )
    dec.add_argument(
        "--received-at-ms",
        type=int,
        default=0,
        help="UTC ms to resolve secMark/moy when no capture time is known (default 0)",
    )
    dec.add_argument(
        "--area",
        default=None,
        help="deployment area 'china' or 'min_lat,min_lon,max_lat,max_lon': MAP/RSI outside are rejected",
    )
    dec.set_defaults(func=run_decode)
    enc = sub.add_parser("encode", help="encode lossless JSON lines back to hex")
    _common(enc)
    enc.set_defaults(func=run_encode)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="message_set",
        default="csae2020",
        help="message set: csae2017 or csae2020 (default; includes Day-2)",
    )
    parser.add_argument("file", help="input file, or - for stdin")


@contextlib.contextmanager
def _opened(path: str) -> Iterator[BinaryIO]:
    """The input as a binary stream (``-``: stdin); ConfigError if it cannot be opened."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, errors translated first
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror}") from exc
    with handle:
        yield handle


def _skip_rest(stream: BinaryIO, total: int, *, to_line_end: bool) -> int:
    """Read and drop the rest of an overlong line (or of the input); returns the full size."""
    while chunk := (stream.readline(_CHUNK) if to_line_end else stream.read(_CHUNK)):
        total += len(chunk)
        if to_line_end and chunk.endswith(b"\n"):
            break
    return total


class _Echo(NamedTuple):
    """What a rejection line may repeat of an input line: at most ``ECHO_CHARS`` of its
    stripped text, and the line's full size in bytes when that had to be cut."""

    text: str
    cut_from_bytes: int | None = None


def _echo(text: str, size_bytes: int) -> _Echo:
    stripped = text.strip()
    if len(stripped) <= ECHO_CHARS:
        return _Echo(stripped)
    return _Echo(stripped[:ECHO_CHARS], size_bytes)


def _lines(stream: BinaryIO) -> Iterator[tuple[int, str | FramingError, _Echo]]:
    """(line number, text or a FramingError for an overlong line, what to echo of it)."""
    line_no = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        line_no += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            total = _skip_rest(stream, len(line), to_line_end=True)
            error = FramingError(
                "hex",
                DropReason.FRAMING,
                f"line {line_no} is {total} bytes long, more than the {MAX_LINE_BYTES} read "
                "per line",
                where=f"line {line_no}",
            )
            head = line[:ECHO_CHARS].decode("utf-8", errors="replace").strip()
            yield line_no, error, _Echo(head[:ECHO_CHARS], total)
            continue
        text = line.decode("utf-8", errors="replace")
        yield line_no, text, _echo(text, len(line))


def _frames(
    args: argparse.Namespace, stream: BinaryIO
) -> Iterator[tuple[bytes | FramingError, dict[str, Any]]]:
    if args.format == "bin":
        data = stream.read(MAX_FRAME_BYTES + 1)
        if len(data) <= MAX_FRAME_BYTES:
            yield data, {}
            return
        total = _skip_rest(stream, len(data), to_line_end=False)
        detail = f"input is {total} bytes, more than one frame can be ({MAX_FRAME_BYTES})"
        yield (
            FramingError("bin", DropReason.FRAMING, detail, where="byte 0"),
            {"raw": data, "raw_bytes": total},
        )
        return
    for line_no, text, echo in _lines(stream):
        if isinstance(text, FramingError):
            yield text, {"line_text": echo}
            continue
        if args.format == "hex":
            for _, frame in iter_hex_lines((text,), first_line=line_no):
                meta = {"hex_upper": True} if echo.text != echo.text.lower() else {}
                yield frame, {"line_text": echo, **meta}
            continue
        for _, record in iter_capture_lines((text,), first_line=line_no):
            if isinstance(record, FramingError):
                yield record, {}
                continue
            for f in record:
                yield f.frame, {"device_id": f.device_id, "captured_at_ms": f.timestamp_ms}


def _reject_line(result: Rejected | FramingError, meta: dict[str, Any]) -> dict[str, Any]:
    if isinstance(result, FramingError):
        out = {
            "rejected": True,
            "reason": DropReason.FRAMING.value,
            "detail": result.detail,
            "where": result.where,
        }
        if "raw" in meta:  # a bin input too large to be a frame: its head only
            head: bytes = meta["raw"][:ECHO_BYTES]
            return {**out, "raw": head.hex(), "raw_truncated": True, "raw_bytes": meta["raw_bytes"]}
        echo: _Echo | None = meta.get("line_text")
        if echo is None:
            return {**out, "text": None}
        if echo.cut_from_bytes is None:
            return {**out, "text": echo.text}
        return {**out, "text": echo.text, "text_truncated": True, "text_bytes": echo.cut_from_bytes}
    raw_bytes = len(result.raw)
    if raw_bytes > ECHO_BYTES:
        result = Rejected(
            raw=result.raw[:ECHO_BYTES],
            reason=result.reason,
            detail=result.detail,
            where=result.where,
        )
    line = result.to_json()
    if raw_bytes > ECHO_BYTES:
        line["raw_truncated"] = True
        line["raw_bytes"] = raw_bytes
    if meta.get("hex_upper"):
        line["raw"] = line["raw"].upper()
    return line


def run_decode(args: argparse.Namespace) -> int:
    """Decode every frame of the input; one JSON line each; returns 1 if any was rejected."""
    message_set = message_set_of(args.message_set)
    area = DeploymentArea.parse(args.area) if args.area else None
    with _opened(args.file) as stream:
        counts = _decode_stream(args, stream, message_set, area)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"v2xcloud decode: {summary or 'no frames'}", file=sys.stderr)
    return 1 if sum(counts.values()) > counts["decoded"] else 0


def _decode_stream(
    args: argparse.Namespace,
    stream: BinaryIO,
    message_set: MessageSet,
    area: DeploymentArea | None,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    out = sys.stdout
    for frame, meta in _frames(args, stream):
        if isinstance(frame, FramingError):
            line = _reject_line(frame, meta)
        else:
            reference = meta.get("captured_at_ms", args.received_at_ms)
            result = decode(
                frame,
                message_set=message_set,
                received_at_ms=reference,
                area=area,
                wire_only=not args.model,  # lossless JSON keeps every frame valid on the wire
            )
            line = _line(result, meta, args.model)
        counts[line["reason"] if line.get("rejected") else "decoded"] += 1
        out.write(msgspec.json.encode(line).decode() + "\n")
    out.flush()
    return counts


def _line(result: Decoded | Rejected, meta: dict[str, Any], as_model: bool) -> dict[str, Any]:
    if isinstance(result, Rejected):
        return _reject_line(result, meta)
    return _decoded_line(result, meta, as_model)  # a Decoded's model cannot fail (validity stage)


def _decoded_line(result: Any, meta: dict[str, Any], as_model: bool) -> dict[str, Any]:
    head: dict[str, Any] = {"type": result.message_type}
    head.update({k: meta[k] for k in ("device_id", "captured_at_ms", "hex_upper") if k in meta})
    if as_model:
        return {**head, **msgspec.to_builtins(result.to_model(), order="deterministic")}
    return {**head, **result.json}


def run_encode(args: argparse.Namespace) -> int:
    """Encode each JSON line to a hex line; returns 1 if any line could not be encoded."""
    message_set: MessageSet = message_set_of(args.message_set)
    status = 0
    with _opened(args.file) as stream:
        for line_no, text, _ in _lines(stream):
            if isinstance(text, FramingError):
                print(f"v2xcloud encode: {text.detail}", file=sys.stderr)
                status = 1
                continue
            if not text.strip():
                continue
            try:
                print(_encode_line(msgspec.json.decode(text), message_set))
            except (msgspec.DecodeError, EncodeError, ValueError) as exc:
                print(f"v2xcloud encode: line {line_no}: {exc}", file=sys.stderr)
                status = 1
    return status


def _encode_line(obj: Any, message_set: MessageSet) -> str:
    if not isinstance(obj, dict):
        raise EncodeError("MessageFrame", "expected a JSON object", where="$")
    if obj.get("rejected"):
        if obj.get("raw_truncated") or obj.get("text_truncated"):
            detail = "the rejected frame was echoed cut short; its bytes are not all here"
            raise EncodeError("MessageFrame", detail, where="$.raw")
        return str(obj.get("raw") or obj.get("text") or "")
    frame = {k: v for k, v in obj.items() if k not in _META_KEYS}
    hex_text = encode(frame, message_set=message_set).hex()
    return hex_text.upper() if obj.get("hex_upper") else hex_text
