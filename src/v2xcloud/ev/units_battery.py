"""Battery data units of GB/T 32960.3: extremes, alarms, cell voltages, probe temperatures.

Shared by both layouts; the differences are arguments: 2025 has no extremes unit, adds a
``(bit, level)`` general-alarm list to the alarm unit and drops the "frame start cell" of the
cell-voltage unit (u16 cell count instead). Cell voltages are 0.001 V; temperatures degC + 40.
"""

from __future__ import annotations

import struct

from v2xcloud.errors import EncodeError
from v2xcloud.ev._wire import (
    Reader,
    put,
    raw_or_invalid,
    read_temps_c,
    scaled,
    temp_raw,
    unscale,
    valid,
)
from v2xcloud.model.ev import EvAlarm, EvCellVoltages, EvExtremes, EvProbeTemps

__all__ = [
    "ALARM_FLAGS_2016",
    "alarm_flag_names",
    "read_alarm",
    "read_cells",
    "read_extremes",
    "read_temps",
    "write_alarm",
    "write_cells",
    "write_extremes",
    "write_temps",
]

ALARM_FLAGS_2016: tuple[str, ...] = (
    "temperature_difference",
    "battery_high_temperature",
    "storage_over_voltage",
    "storage_under_voltage",
    "soc_low",
    "cell_over_voltage",
    "cell_under_voltage",
    "soc_high",
    "soc_jump",
    "storage_mismatch",
    "cell_poor_consistency",
    "insulation",
    "dcdc_temperature",
    "brake_system",
    "dcdc_state",
    "motor_controller_temperature",
    "high_voltage_interlock",
    "motor_temperature",
    "storage_over_charge",
)


def alarm_flag_names(flags: int, names: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the set bits of ``flags`` (bit 0 first); unnamed bits become ``bit_N``."""
    return tuple(
        names[bit] if bit < len(names) else f"bit_{bit}" for bit in range(32) if flags >> bit & 1
    )


def read_extremes(r: Reader) -> EvExtremes:
    """2016 extremes unit (14 bytes)."""
    u8 = [valid(r.u8("extreme id"), 1) for _ in range(2)]
    vmax = scaled(r.u16("max cell voltage"), 2, 0.001)
    v8 = [valid(r.u8("extreme id"), 1) for _ in range(2)]
    vmin = scaled(r.u16("min cell voltage"), 2, 0.001)
    t = [valid(r.u8("extreme temp field"), 1) for _ in range(6)]
    return EvExtremes(
        max_voltage_subsystem=u8[0],
        max_voltage_cell=u8[1],
        max_cell_voltage_v=vmax,
        min_voltage_subsystem=v8[0],
        min_voltage_cell=v8[1],
        min_cell_voltage_v=vmin,
        max_temp_subsystem=t[0],
        max_temp_probe=t[1],
        max_temp_c=None if t[2] is None else t[2] - 40,
        min_temp_subsystem=t[3],
        min_temp_probe=t[4],
        min_temp_c=None if t[5] is None else t[5] - 40,
    )


def write_extremes(out: bytearray, x: EvExtremes) -> None:
    """Inverse of :func:`read_extremes`."""
    for value in (x.max_voltage_subsystem, x.max_voltage_cell):
        put(out, raw_or_invalid(value, 1), 1, "extreme id")
    put(out, unscale(x.max_cell_voltage_v, 2, 0.001), 2, "max cell voltage")
    for value in (x.min_voltage_subsystem, x.min_voltage_cell):
        put(out, raw_or_invalid(value, 1), 1, "extreme id")
    put(out, unscale(x.min_cell_voltage_v, 2, 0.001), 2, "min cell voltage")
    put(out, raw_or_invalid(x.max_temp_subsystem, 1), 1, "extreme id")
    put(out, raw_or_invalid(x.max_temp_probe, 1), 1, "extreme id")
    put(out, temp_raw(x.max_temp_c), 1, "max temp")
    put(out, raw_or_invalid(x.min_temp_subsystem, 1), 1, "extreme id")
    put(out, raw_or_invalid(x.min_temp_probe, 1), 1, "extreme id")
    put(out, temp_raw(x.min_temp_c), 1, "min temp")


def _codes(r: Reader, what: str) -> tuple[int, ...]:
    n = r.u8(f"{what} count")
    raw = r.take(4 * n, f"{what} codes")
    return tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(0, 4 * n, 4))


def read_alarm(r: Reader, *, layout: int, names: tuple[str, ...]) -> EvAlarm:
    """Alarm unit: level, u32 flags, four fault lists [2025: general alarm list]."""
    level = valid(r.u8("alarm level"), 1)
    flags = r.u32("alarm flags")
    lists = [_codes(r, w) for w in ("battery fault", "motor fault", "engine fault", "other fault")]
    general: tuple[tuple[int, int], ...] = ()
    if layout == 2025:
        n = r.u8("general alarm count")
        raw = r.take(2 * n, "general alarm list")
        general = tuple((raw[i], raw[i + 1]) for i in range(0, 2 * n, 2))
    return EvAlarm(
        max_level=level,
        flags=flags,
        flag_names=alarm_flag_names(flags, names),
        battery_faults=lists[0],
        motor_faults=lists[1],
        engine_faults=lists[2],
        other_faults=lists[3],
        general_alarms=general,
    )


def write_alarm(out: bytearray, a: EvAlarm, *, layout: int) -> None:
    """Inverse of :func:`read_alarm`."""
    put(out, raw_or_invalid(a.max_level, 1), 1, "alarm level")
    put(out, a.flags, 4, "alarm flags")
    for codes in (a.battery_faults, a.motor_faults, a.engine_faults, a.other_faults):
        put(out, len(codes), 1, "fault count")
        for code in codes:
            put(out, code, 4, "fault code")
    if layout == 2025:
        put(out, len(a.general_alarms), 1, "general alarm count")
        for bit, level in a.general_alarms:
            out += bytes((bit, level))


def read_cells(r: Reader, *, layout: int, current_offset_a: float) -> tuple[EvCellVoltages, ...]:
    """Cell voltages per subsystem (2016: with frame start cell; 2025: u16 cell count)."""
    packs = []
    for _ in range(r.u8("subsystem count")):
        sub = r.u8("subsystem")
        voltage = scaled(r.u16("subsystem voltage"), 2, 0.1)
        current = scaled(r.u16("subsystem current"), 2, 0.1, current_offset_a)
        if layout == 2016:
            total, first, n = r.u16("cell total"), r.u16("first cell"), r.u8("frame cells")
        else:
            total = n = r.u16("cell count")
            first = 1
        raw = r.take(2 * n, "cell voltages")
        # one struct call for all cells: v / 1000 is the double nearest to the mV decimal
        cells = tuple(None if v >= 0xFFFE else v / 1000 for v in struct.unpack(f">{n}H", raw))
        packs.append(
            EvCellVoltages(
                subsystem=sub,
                voltage_v=voltage,
                current_a=current,
                cell_count=total,
                first_cell=first,
                cell_voltages_v=cells,
            )
        )
    return tuple(packs)


def write_cells(
    out: bytearray, packs: tuple[EvCellVoltages, ...], *, layout: int, current_offset_a: float
) -> None:
    """Inverse of :func:`read_cells`."""
    put(out, len(packs), 1, "subsystem count")
    for p in packs:
        put(out, p.subsystem, 1, "subsystem")
        put(out, unscale(p.voltage_v, 2, 0.1), 2, "subsystem voltage")
        put(out, unscale(p.current_a, 2, 0.1, current_offset_a), 2, "subsystem current")
        if layout == 2016:
            put(out, p.cell_count, 2, "cell total")
            put(out, p.first_cell, 2, "first cell")
            put(out, len(p.cell_voltages_v), 1, "frame cells")
        else:
            put(out, len(p.cell_voltages_v), 2, "cell count")
        raw = [0xFFFF if v is None else round(v * 1000) for v in p.cell_voltages_v]
        try:
            out += struct.pack(f">{len(raw)}H", *raw)
        except struct.error as exc:
            raise EncodeError(
                "GB32960", f"cell voltage out of 0-65.535 V in pack {p.subsystem}"
            ) from exc


def read_temps(r: Reader) -> tuple[EvProbeTemps, ...]:
    """Probe temperatures per subsystem: id, u16 count, one byte per probe (degC + 40)."""
    packs = []
    for _ in range(r.u8("subsystem count")):
        sub = r.u8("subsystem")
        packs.append(
            EvProbeTemps(subsystem=sub, temps_c=read_temps_c(r, r.u16("probe count"), "probes"))
        )
    return tuple(packs)


def write_temps(out: bytearray, packs: tuple[EvProbeTemps, ...]) -> None:
    """Inverse of :func:`read_temps`."""
    put(out, len(packs), 1, "subsystem count")
    for p in packs:
        put(out, p.subsystem, 1, "subsystem")
        put(out, len(p.temps_c), 2, "probe count")
        out += bytes(temp_raw(t) for t in p.temps_c)
