"""``v2xcloud decode`` and ``v2xcloud encode``: C-V2X frames ⇄ one JSON object per line.

``decode`` prints, per frame, the lossless CSAE JSON of the MessageFrame with a ``type`` key
(``{"type": "BSM", "bsmFrame": {...}}``), or with ``--model`` the SI model
(``{"type": "BSM", "msg_count": ..., "participant": {...}}``). A bad frame prints
``{"rejected": true, "reason": ..., "detail": ..., "where": ..., "raw": <hex>}`` and decoding
goes on; a summary per reason goes to stderr. ``encode`` turns decode's lossless lines back
into hex, one per line (a rejected line gives back its raw text), so ``decode | encode``
reproduces a hex input exactly.

Bare secMark/moy times resolve against the capture record's timestamp, else against
``--received-at-ms`` (default 0, i.e. 1970-01-01T00:00Z, so output is reproducible).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

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
from v2xcloud.errors import ConfigError, DecodeError, EncodeError, FramingError
from v2xcloud.model import DropReason

__all__ = ["register"]

_META_KEYS = ("type", "device_id", "captured_at_ms", "hex_upper")


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


def _read(path: str) -> bytes:
    if path == "-":
        stream: BinaryIO = sys.stdin.buffer
        return stream.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror}") from exc


def _frames(
    args: argparse.Namespace, data: bytes
) -> Iterator[tuple[bytes | FramingError, dict[str, Any]]]:
    if args.format == "bin":
        yield data, {}
        return
    text = data.decode("utf-8", errors="replace")
    if args.format == "hex":
        lines = text.splitlines()
        for line_no, frame in iter_hex_lines(text):
            original = lines[line_no - 1].strip()
            meta = {"hex_upper": True} if original != original.lower() else {}
            yield frame, {"line_text": original, **meta}
        return
    for _, record in iter_capture_lines(text):
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
        return {**out, "text": meta.get("line_text")}
    line = result.to_json()
    if meta.get("hex_upper"):
        line["raw"] = line["raw"].upper()
    return line


def run_decode(args: argparse.Namespace) -> int:
    """Decode every frame of the input; one JSON line each; returns 0."""
    message_set = message_set_of(args.message_set)
    area = DeploymentArea.parse(args.area) if args.area else None
    counts: Counter[str] = Counter()
    out = sys.stdout
    for frame, meta in _frames(args, _read(args.file)):
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
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"v2xcloud decode: {summary or 'no frames'}", file=sys.stderr)
    return 0


def _line(result: Decoded | Rejected, meta: dict[str, Any], as_model: bool) -> dict[str, Any]:
    if isinstance(result, Rejected):
        return _reject_line(result, meta)
    try:
        return _decoded_line(result, meta, as_model)
    except DecodeError as exc:  # e.g. a nested absolute position marked unavailable
        rejected = Rejected(raw=result.raw, reason=exc.reason, detail=exc.detail, where=exc.where)
        return _reject_line(rejected, meta)


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
    for line_no, text in enumerate(_read(args.file).decode("utf-8").splitlines(), start=1):
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
        raise ValueError("expected a JSON object")
    if obj.get("rejected"):
        return str(obj.get("raw") or obj.get("text") or "")
    frame = {k: v for k, v in obj.items() if k not in _META_KEYS}
    hex_text = encode(frame, message_set=message_set).hex()
    return hex_text.upper() if obj.get("hex_upper") else hex_text
