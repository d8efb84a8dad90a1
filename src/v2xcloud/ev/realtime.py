"""Real-time / re-sent report data unit (commands 0x02, 0x03) <-> :class:`EvReport`.

The data unit is the collection time (6 bytes, Beijing time) and a sequence of
``unit id + unit body``. Known units decode to typed model parts. Units 0x80-0xFE
(OEM-defined) carry a u16 length and are kept as raw bytes. Any other unknown id has no
self-describing length, so the parser cannot know where it ends: it keeps everything from that
id to the end of the data as one opaque ``EvRawUnit(is_tail=True)`` and stops there (in 2025
a trailing signature inside that tail is then kept raw too). A second copy of the same
known unit is rejected (``bad_unit``).
"""

from __future__ import annotations

from typing import Any

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev import units_2016 as u
from v2xcloud.ev import units_battery as b
from v2xcloud.ev._wire import Reader, fail, put, read_time_ms, time_bytes
from v2xcloud.ev.units_2025 import (
    ALARM_FLAGS_2025,
    SIGNATURE_START,
    TABLE_LAYOUTS,
    UNIT_IDS_2016,
    UNIT_IDS_2025,
    read_signature,
    read_table_unit,
    write_signature,
    write_table_unit,
)
from v2xcloud.model import DropReason
from v2xcloud.model.ev import EvRawUnit, EvReport

__all__ = ["decode_report", "encode_report"]

_CURRENT_OFFSET = {2016: -1000.0, 2025: -3000.0}


def _read_known(name: str, r: Reader, layout: int) -> Any:
    off = _CURRENT_OFFSET[layout]
    if name == "vehicle":
        return u.read_vehicle(r, current_offset_a=off, has_pedals=layout == 2016)
    if name == "motors":
        return u.read_motors(r, layout=layout)
    if name == "fuel_cell":
        return u.read_fuel_cell(r)
    if name == "engine":
        return u.read_engine(r, layout=layout)
    if name == "position":
        return u.read_position(r, layout=layout)
    if name == "extremes":
        return b.read_extremes(r)
    if name == "alarm":
        names = b.ALARM_FLAGS_2016 if layout == 2016 else ALARM_FLAGS_2025
        return b.read_alarm(r, layout=layout, names=names)
    if name == "cells":
        return b.read_cells(r, layout=layout, current_offset_a=off)
    return b.read_temps(r)


_FIELD = {"cells": "cell_voltages", "temps": "probe_temps"}


def decode_report(
    data: bytes, *, vin: str, layout: int = 2016, is_resent: bool = False, base: int = 24
) -> EvReport:
    """Decode a real-time data unit; ``base`` is its offset in the frame (for error offsets).

    Raises ``Gb32960Error`` (``truncated``, ``bad_time``, ``bad_unit``) with the byte offset.
    If the units after an OEM unit fail to parse, its u16 "length" was probably not a length
    (many 2016 terminals omit it): the decode is retried keeping that OEM unit and everything
    after it as one opaque tail, and only if that fails too is the frame rejected.
    """
    oem_at: list[int] = []
    tail_at: int | None = None
    while True:
        try:
            return _decode(data, vin, layout, is_resent, base, oem_at, tail_at)
        except Gb32960Error:
            if not oem_at or oem_at[-1] == tail_at:
                raise
            tail_at = oem_at[-1]
            oem_at.clear()


def _decode(
    data: bytes,
    vin: str,
    layout: int,
    is_resent: bool,
    base: int,
    oem_at: list[int],
    tail_at: int | None,
) -> EvReport:
    r = Reader(data, base=base)
    parts: dict[str, Any] = {"collected_at_ms": read_time_ms(r, "collection time")}
    ids = {v: k for k, v in (UNIT_IDS_2016 if layout == 2016 else UNIT_IDS_2025).items()}
    tables, raws = [], []
    while r.remaining():
        at, unit_id = r.pos, r.u8("unit id")
        name = ids.get(unit_id)
        if name is not None:
            key = _FIELD.get(name, name)
            if key in parts:
                raise fail(
                    DropReason.BAD_UNIT, f"unit 0x{unit_id:02x} ({name}) appears twice", base + at
                )
            parts[key] = _read_known(name, r, layout)
        elif layout == 2025 and unit_id in TABLE_LAYOUTS:
            tables.append(read_table_unit(r, unit_id))
        elif layout == 2025 and unit_id == SIGNATURE_START:
            parts["signature"] = read_signature(r)
            if r.remaining():
                raise fail(
                    DropReason.BAD_UNIT, f"{r.remaining()} bytes after the signature", r.offset
                )
        elif 0x80 <= unit_id <= 0xFE and r.remaining() >= 2 and at != tail_at:
            oem_at.append(at)
            raws.append(_read_oem(r, unit_id))
        else:
            tail = r.take(r.remaining(), "tail")
            raws.append(EvRawUnit(unit_id=unit_id, data=tail, is_tail=True))
    return EvReport(
        vin=vin,
        is_resent=is_resent,
        layout=layout,
        table_units=tuple(tables),
        raw_units=tuple(raws),
        **parts,
    )


def _read_oem(r: Reader, unit_id: int) -> EvRawUnit:
    length = int.from_bytes(r.data[r.pos : r.pos + 2], "big")
    if length > r.remaining() - 2:
        # Not a well-formed length: keep the rest opaque rather than guess.
        return EvRawUnit(unit_id=unit_id, data=r.take(r.remaining(), "tail"), is_tail=True)
    r.pos += 2
    return EvRawUnit(unit_id=unit_id, data=r.take(length, "OEM unit"))


def _write_known(out: bytearray, report: EvReport, layout: int) -> None:
    ids = UNIT_IDS_2016 if layout == 2016 else UNIT_IDS_2025
    off = _CURRENT_OFFSET[layout]
    steps: list[tuple[str, Any]] = [
        (
            "vehicle",
            lambda v: u.write_vehicle(out, v, current_offset_a=off, has_pedals=layout == 2016),
        ),
        ("motors", lambda v: u.write_motors(out, v, layout=layout)),
        ("fuel_cell", lambda v: u.write_fuel_cell(out, v)),
        ("engine", lambda v: u.write_engine(out, v, layout=layout)),
        ("position", lambda v: u.write_position(out, v, layout=layout)),
        ("extremes", lambda v: b.write_extremes(out, v)),
        ("alarm", lambda v: b.write_alarm(out, v, layout=layout)),
        ("cells", lambda v: b.write_cells(out, v, layout=layout, current_offset_a=off)),
        ("temps", lambda v: b.write_temps(out, v)),
    ]
    for name, write in steps:
        value = getattr(report, _FIELD.get(name, name))
        if value is None or value == () or name not in ids:
            continue
        out.append(ids[name])
        write(value)


def encode_report(report: EvReport) -> bytes:
    """The data unit for ``report``: time, known units in standard order, table units, raw units,
    and (2025) the signature. Raises ``EncodeError`` when a value does not fit its field.
    """
    out = bytearray(time_bytes(report.collected_at_ms))
    _write_known(out, report, report.layout)
    for table in report.table_units:
        out.append(table.unit_id)
        write_table_unit(out, table)
    for raw in report.raw_units:
        out.append(raw.unit_id)
        if not raw.is_tail:
            put(out, len(raw.data), 2, "OEM unit length")
        out += raw.data
    if report.signature is not None:
        write_signature(out, report.signature)
    return bytes(out)
