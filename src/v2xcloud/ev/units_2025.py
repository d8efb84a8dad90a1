"""The GB/T 32960.3-2025 layout table: renumbered units, new units, signature block.

Verified against a public 2025 parser and the reference ``$$`` frame (unit ids 0x01-0x08,
whole vehicle without pedals and with current offset -3000 A, drive motors of 10 bytes with
a u32 torque, position with a coordinate-system byte, alarm unit with a trailing
``(bit, level)`` general-alarm list, cell voltages with a u16 cell count and no frame start,
engine with crankshaft speed only, OEM units with a u16 length, signature ``0xFF`` +
algorithm + u16-prefixed r + u16-prefixed s).

NOT verified (no public text could be checked): the field layouts of the 2025 fuel-cell unit
(0x03), fuel-cell stacks (0x30), super-capacitors (0x31) and super-capacitor extremes (0x32).
They are decoded from :data:`TABLE_LAYOUTS` below, the one place to correct them; each field
is ``(name, bytes, scale, offset)`` and decodes to ``raw * scale + offset`` (markers ->
``None``).
"""

from __future__ import annotations

from typing import NamedTuple

from v2xcloud.ev._wire import Reader, put, scaled, unscale
from v2xcloud.ev.units_battery import ALARM_FLAGS_2016
from v2xcloud.model.ev import EvSignature, EvTableUnit

__all__ = [
    "ALARM_FLAGS_2025",
    "SIGNATURE_START",
    "TABLE_LAYOUTS",
    "UNIT_IDS_2016",
    "UNIT_IDS_2025",
    "Field",
    "TableLayout",
    "read_signature",
    "read_table_unit",
    "write_signature",
    "write_table_unit",
]

SIGNATURE_START = 0xFF

UNIT_IDS_2016 = {
    "vehicle": 0x01,
    "motors": 0x02,
    "fuel_cell": 0x03,
    "engine": 0x04,
    "position": 0x05,
    "extremes": 0x06,
    "alarm": 0x07,
    "cells": 0x08,
    "temps": 0x09,
}
UNIT_IDS_2025 = {
    "vehicle": 0x01,
    "motors": 0x02,
    "engine": 0x04,
    "position": 0x05,
    "alarm": 0x06,
    "cells": 0x07,
    "temps": 0x08,
}

ALARM_FLAGS_2025: tuple[str, ...] = (
    *ALARM_FLAGS_2016,
    "motor_over_speed",
    "motor_over_current",
    "supercap_over_temperature",
    "supercap_over_pressure",
    "battery_thermal_event",
    "hydrogen_leak",
    "hydrogen_pressure_abnormal",
    "hydrogen_temperature_abnormal",
    "fuel_cell_stack_over_temperature",
)


class Field(NamedTuple):
    """One scalar field of a table layout: ``raw * scale + offset``."""

    name: str
    nbytes: int
    scale: float = 1.0
    offset: float = 0.0


class TableLayout(NamedTuple):
    """Scalar ``head`` fields, then (if ``item``) a u8 count of ``item`` records."""

    name: str
    head: tuple[Field, ...]
    item: tuple[Field, ...] = ()


TABLE_LAYOUTS: dict[int, TableLayout] = {
    0x03: TableLayout(
        "fuel_cell",
        (
            Field("voltage_v", 2, 0.1),
            Field("current_a", 2, 0.1),
            Field("h2_consumption_kg_per_100km", 2, 0.01),
            Field("max_h2_temp_c", 2, 0.1, -40),
            Field("max_h2_concentration_ppm", 2),
            Field("max_h2_pressure_mpa", 2, 0.1),
            Field("dcdc_state", 1),
        ),
    ),
    0x30: TableLayout(
        "fuel_cell_stacks",
        (),
        (
            Field("seq", 1),
            Field("voltage_v", 2, 0.1),
            Field("current_a", 2, 0.1),
            Field("h2_inlet_pressure_kpa", 2, 0.1),
            Field("air_inlet_pressure_kpa", 2, 0.1),
            Field("coolant_outlet_temp_c", 1, 1.0, -40),
        ),
    ),
    0x31: TableLayout(
        "super_capacitors",
        (),
        (
            Field("seq", 1),
            Field("voltage_v", 2, 0.1),
            Field("current_a", 2, 0.1, -3000),
            Field("max_temp_c", 1, 1.0, -40),
        ),
    ),
    0x32: TableLayout(
        "super_capacitor_extremes",
        (
            Field("max_voltage_cell", 2),
            Field("max_cell_voltage_v", 2, 0.001),
            Field("min_voltage_cell", 2),
            Field("min_cell_voltage_v", 2, 0.001),
            Field("max_temp_probe", 2),
            Field("max_temp_c", 1, 1.0, -40),
            Field("min_temp_probe", 2),
            Field("min_temp_c", 1, 1.0, -40),
        ),
    ),
}


def _read_fields(r: Reader, fields: tuple[Field, ...]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for f in fields:
        raw = r.take(f.nbytes, f.name)
        out[f.name] = scaled(int.from_bytes(raw, "big"), f.nbytes, f.scale, f.offset)
    return out


def read_table_unit(r: Reader, unit_id: int) -> EvTableUnit:
    """Decode a unit described by :data:`TABLE_LAYOUTS`."""
    layout = TABLE_LAYOUTS[unit_id]
    head = _read_fields(r, layout.head)
    items: tuple[dict[str, float | None], ...] = ()
    if layout.item:
        n = r.u8(f"{layout.name} count")
        items = tuple(_read_fields(r, layout.item) for _ in range(n))
    return EvTableUnit(unit_id=unit_id, name=layout.name, fields=head, items=items)


def _write_fields(
    out: bytearray, fields: tuple[Field, ...], values: dict[str, float | None]
) -> None:
    for f in fields:
        put(out, unscale(values.get(f.name), f.nbytes, f.scale, f.offset), f.nbytes, f.name)


def write_table_unit(out: bytearray, unit: EvTableUnit) -> None:
    """Inverse of :func:`read_table_unit` (without the unit id)."""
    layout = TABLE_LAYOUTS[unit.unit_id]
    _write_fields(out, layout.head, unit.fields)
    if layout.item:
        put(out, len(unit.items), 1, f"{layout.name} count")
        for item in unit.items:
            _write_fields(out, layout.item, item)


def read_signature(r: Reader) -> EvSignature:
    """Signature after the 0xFF marker: algorithm u8, u16 + r bytes, u16 + s bytes."""
    algorithm = r.u8("signature algorithm")
    sig_r = r.take(r.u16("signature r length"), "signature r")
    sig_s = r.take(r.u16("signature s length"), "signature s")
    return EvSignature(algorithm=algorithm, r=sig_r, s=sig_s)


def write_signature(out: bytearray, sig: EvSignature) -> None:
    """Inverse of :func:`read_signature`, including the 0xFF marker."""
    out.append(SIGNATURE_START)
    put(out, sig.algorithm, 1, "signature algorithm")
    put(out, len(sig.r), 2, "signature r length")
    out += sig.r
    put(out, len(sig.s), 2, "signature s length")
    out += sig.s
