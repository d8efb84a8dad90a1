"""Message-layer throughput: decode and encode rates (messages/s, one core) per message type.

    .venv/bin/python benchmarks/codec.py [--seconds 1.0]

Frames: the real 2017 captures (BSM, MAP, SPAT, RSM, RSI, from ../shared/reference), the
captured RSM grown to 16 objects ("RSM ×16") and one Day-2 PSM, both built here. Columns:
  asn1tools   asn1tools' own UPER decode (the baseline)
  decode      v2xcloud.codec.decode: UPER → native, constraint and length checks, Decoded
  +json       decode, then the lossless CSAE JSON
  +model      decode, then the SI model
  encode      lossless JSON → UPER (with constraint checks)
For the hot messages (BSM, RSM, SPAT) the generated fast decoders (``codec.fast``) are measured
in the same run against the asn1tools path:
  fast fn     the fast decoder alone (bytes → native value, with the same checks)
  generic     ``decode`` with the fast decoders uninstalled (asn1tools path)
  fast/asn1   ratio fast fn ÷ asn1tools; dec×, model× the same ratio for ``decode`` and
              ``decode(...).to_model()`` with ÷ without the fast path
and the generated fast encoders likewise: asn1tools' encode (with constraint checks) vs the
fast encoder of the same native value, and ``encode_model`` (SI model → bytes, what the
simulator calls) with and without them.
The SI model building alone, without any UPER (the conversion functions of ``codec/bsm.py``,
``rsm.py``, ``spat.py``, ...), is timed in its own table:
  →SI         native value → SI model (``to_model`` of an already decoded frame, uncached)
  →wire       SI model → native value (the ``to_wire`` that ``encode_model`` runs first)
Run it before and after a change of the conversion functions with ``--only-model`` (quick),
e.g. against a checkout of the previous commit on ``PYTHONPATH``.
Rates are per CPU second of this process (one core); on a loaded shared machine they still
drift. They are printed, not asserted.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from v2xcloud.codec import (
    Decoded,
    MessageSet,
    bsm,
    decode,
    encode,
    encode_model,
    encode_native,
    fast,
    iter_capture_lines,
    mapdata,
    rsi,
    rsm,
    spat,
)
from v2xcloud.codec._schema import compiled
from v2xcloud.codec.model_convert import to_model

CAPTURES = (
    Path(__file__).resolve().parents[2]
    / "shared/reference/captures/csae53-2017-hisense-captures.txt"
)


def _psm() -> bytes:
    value = {
        "msgCnt": 1,
        "id": b"\x01" * 8,
        "secMark": 1000,
        "pos": {"lat": 281000000, "long": 1129000000, "elevation": 350},
        "posAccuracy": {"semiMajor": 20, "semiMinor": 20, "orientation": 0},
        "speed": 75,
        "heading": 14400,
        "accelSet": {"long": 10, "lat": 0, "vert": 0, "yaw": 0},
        "overallRadius": 5,
        "non-motorData": {"basicType": "aPEDESTRIAN"},
    }
    return encode_native(
        ("msgFrameExt", {"messageId": 15, "value": value}), message_set=MessageSet.CSAE2020
    )


def _rsm16(frame: bytes) -> bytes:
    """The captured RSM with its object repeated to 16 (the most an RSM carries), every other
    one with an acceleration set and a vehicle class, so per-object costs show."""
    _, value = compiled(MessageSet.CSAE2017).decode("MessageFrame", frame)
    first = value["participants"][0]
    objects = []
    for n in range(16):
        obj = {**first, "ptcId": n + 1}
        if n % 2:
            obj["accelSet"] = {"long": 10 * n, "lat": -5, "vert": 0, "yaw": 25}
            obj["vehicleClass"] = {"classification": 10}
        objects.append(obj)
    return encode_native(
        ("rsmFrame", {**value, "participants": objects}), message_set=MessageSet.CSAE2017
    )


def frames() -> dict[str, tuple[MessageSet, bytes]]:
    """Message type → (set, one frame)."""
    out: dict[str, tuple[MessageSet, bytes]] = {}
    text = CAPTURES.read_text(encoding="utf-8")
    for _, record in iter_capture_lines(text):
        assert not isinstance(record, Exception)
        for f in record:
            result = decode(f.frame, message_set=MessageSet.CSAE2017)
            assert isinstance(result, Decoded)
            out.setdefault(result.message_type, (MessageSet.CSAE2017, f.frame))
    out["RSM ×16"] = (MessageSet.CSAE2017, _rsm16(out["RSM"][1]))
    out["PSM (Day-2)"] = (MessageSet.CSAE2020, _psm())
    return out


def rate(fn: Callable[[], Any], seconds: float) -> float:
    """Calls per CPU second of ``fn`` (process time, so other processes on a shared machine
    distort it less than wall time), measured over about ``seconds`` of CPU time."""
    fn()
    count, start = 0, time.process_time()
    batch = 50
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(batch):
            fn()
        count += batch
    return count / elapsed


def _hot_alternative(message_set: MessageSet, frame: bytes) -> str | None:
    alternative = compiled(message_set).decode("MessageFrame", frame)[0]
    return alternative if alternative in fast.HOT_ALTERNATIVES else None


def fast_vs_generic(name: str, message_set: MessageSet, frame: bytes, seconds: float) -> None:
    """One row of the fast-decoder table: the same frame both ways, in this run."""
    alternative = _hot_alternative(message_set, frame)
    if alternative is None:
        return
    spec = compiled(message_set)
    fn = fast.build(message_set, alternative)
    asn1 = rate(lambda: spec.decode("MessageFrame", frame), seconds)
    fast_fn = rate(lambda: fn(frame), seconds)
    fast.install(message_sets=[message_set])
    dec_fast = rate(lambda: decode(frame, message_set=message_set), seconds)
    model_fast = rate(lambda: decode(frame, message_set=message_set).to_model(), seconds)
    fast.uninstall(message_sets=[message_set])
    dec_generic = rate(lambda: decode(frame, message_set=message_set), seconds)
    model_generic = rate(lambda: decode(frame, message_set=message_set).to_model(), seconds)
    fast.install(message_sets=[message_set])
    print(
        f"{name:<12} {len(frame):>5} {asn1:>9.0f} {fast_fn:>9.0f} {fast_fn / asn1:>8.1f}x"
        f" {dec_generic:>9.0f} {dec_fast:>9.0f} {dec_fast / dec_generic:>5.1f}x"
        f" {model_generic:>9.0f} {model_fast:>9.0f} {model_fast / model_generic:>5.1f}x"
    )


def fast_encode_vs_generic(
    name: str, message_set: MessageSet, frame: bytes, seconds: float
) -> None:
    """One row of the fast-encoder table."""
    alternative = _hot_alternative(message_set, frame)
    if alternative is None:
        return
    spec = compiled(message_set)
    value = spec.decode("MessageFrame", frame)
    fn = fast.build_encoder(message_set, alternative)
    assert fn(value[1]) == frame
    asn1 = rate(lambda: spec.encode("MessageFrame", value, check_constraints=True), seconds)
    fast_fn = rate(lambda: fn(value[1]), seconds)
    decoded = decode(frame, message_set=message_set, wire_only=True)
    assert isinstance(decoded, Decoded)
    model = decoded.to_model()
    fast.install(message_sets=[message_set])
    model_fast = rate(lambda: encode_model(model, message_set=message_set), seconds)
    fast.uninstall(message_sets=[message_set])
    model_generic = rate(lambda: encode_model(model, message_set=message_set), seconds)
    fast.install(message_sets=[message_set])
    print(
        f"{name:<12} {len(frame):>5} {asn1:>9.0f} {fast_fn:>9.0f} {fast_fn / asn1:>8.1f}x"
        f" {model_generic:>9.0f} {model_fast:>9.0f} {model_fast / model_generic:>5.1f}x"
    )


_TO_WIRE = {"BSM": bsm.to_wire, "RSM": rsm.to_wire, "SPAT": spat.to_wire, "RSI": rsi.to_wire}
_TO_WIRE["MAP"] = mapdata.to_wire


def model_building(name: str, message_set: MessageSet, frame: bytes, seconds: float) -> None:
    """One row of the SI-model table: native → SI and SI → native, no UPER."""
    decoded = decode(frame, message_set=message_set, wire_only=True)
    assert isinstance(decoded, Decoded)
    to_si = rate(lambda: to_model(decoded), seconds)
    row = f"{name:<12} {len(frame):>5} {to_si:>9.0f}"
    if (to_wire := _TO_WIRE.get(decoded.message_type)) is not None:
        model = to_model(decoded)
        row += f" {rate(lambda: to_wire(model), seconds):>9.0f}"
    print(row)


def model_table(table: dict[str, tuple[MessageSet, bytes]], seconds: float) -> None:
    """The SI-model building table (msg/s, one core)."""
    print("SI model building without UPER (msg/s, one core)")
    print(f"{'message':<12} {'bytes':>5} {'→SI':>9} {'→wire':>9}")
    for name, (message_set, frame) in table.items():
        model_building(name, message_set, frame, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument(
        "--only-model", action="store_true", help="only the SI-model building table"
    )
    args = parser.parse_args()
    if args.only_model:
        model_table(frames(), args.seconds)
        return
    header = f"{'message':<12} {'bytes':>5} {'asn1tools':>10} {'decode':>9} {'+json':>9} {'+model':>9} {'encode':>9}  (msg/s)"
    print(header)
    table = frames()
    for name, (message_set, frame) in table.items():
        spec = compiled(message_set)
        decoded = decode(frame, message_set=message_set)
        assert isinstance(decoded, Decoded)
        as_json = decoded.json
        figures = [
            rate(lambda: spec.decode("MessageFrame", frame), args.seconds),  # noqa: B023
            rate(lambda: decode(frame, message_set=message_set), args.seconds),  # noqa: B023
            rate(lambda: decode(frame, message_set=message_set).json, args.seconds),  # noqa: B023
            rate(lambda: decode(frame, message_set=message_set).to_model(), args.seconds),  # noqa: B023
            rate(lambda: encode(as_json, message_set=message_set), args.seconds),  # noqa: B023
        ]
        print(
            f"{name:<12} {len(frame):>5} "
            + " ".join(f"{f:>9.0f}" for f in figures).replace("  ", "  ", 1)
        )
    print()
    print("fast decoders vs the asn1tools path, same run (msg/s, one core)")
    print(
        f"{'message':<12} {'bytes':>5} {'asn1tools':>9} {'fast fn':>9} {'fast/asn1':>9}"
        f" {'generic':>9} {'decode':>9} {'dec×':>6} {'generic':>9} {'+model':>9} {'model×':>6}"
    )
    for name, (message_set, frame) in table.items():
        fast_vs_generic(name, message_set, frame, args.seconds)
    print()
    print("fast encoders vs asn1tools, same run (msg/s, one core)")
    print(
        f"{'message':<12} {'bytes':>5} {'asn1tools':>9} {'fast fn':>9} {'fast/asn1':>9}"
        f" {'model→':>9} {'fast':>9} {'enc×':>6}"
    )
    for name, (message_set, frame) in table.items():
        fast_encode_vs_generic(name, message_set, frame, args.seconds)
    print()
    model_table(table, args.seconds)
    fallbacks = fast.stats()
    print(f"fast-path hand-overs to asn1tools during the run: {fallbacks or 'none'}")


if __name__ == "__main__":
    main()
