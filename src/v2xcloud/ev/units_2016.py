"""Real-time data units of GB/T 32960.3-2016, with the 2025 variations passed as parameters.

Each unit has a ``read_*`` (bytes -> model, scaled, markers -> ``None``) and a ``write_*``
(model -> bytes, ``None`` -> the "invalid" marker). Layout differences in 2025 (current
offset -3000 A, no pedals, drive motors without controller voltage, renumbered units) are
arguments here; the 2025 table lives in ``ev.units_2025``.

Scaling (2016): speed 0.1 km/h; odometer 0.1 km; voltage 0.1 V; current 0.1 A - 1000 A;
temperatures 1 degC - 40; motor speed 1 rpm - 20000; torque 0.1 N·m - 2000; cell voltage
0.001 V; lat/lon 1e-6 degree.
"""

from __future__ import annotations

import struct

from v2xcloud.errors import EncodeError
from v2xcloud.ev._wire import Reader, put, raw_or_invalid, scaled, unscale, valid
from v2xcloud.model.ev import (
    EvAlarm,
    EvCellVoltages,
    EvEngine,
    EvExtremes,
    EvFuelCell,
    EvMotor,
    EvPosition,
    EvProbeTemps,
    EvVehicle,
)

__all__ = [
    "ALARM_FLAGS_2016",
    "alarm_flag_names",
    "read_alarm",
    "read_cells",
    "read_engine",
    "read_extremes",
    "read_fuel_cell",
    "read_motors",
    "read_position",
    "read_temps",
    "read_vehicle",
    "write_alarm",
    "write_cells",
    "write_engine",
    "write_extremes",
    "write_fuel_cell",
    "write_motors",
    "write_position",
    "write_temps",
    "write_vehicle",
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


def read_vehicle(r: Reader, *, current_offset_a: float, has_pedals: bool) -> EvVehicle:
    """Whole-vehicle unit (20 bytes in 2016, 18 in 2025: no pedal positions)."""
    states = [valid(r.u8("vehicle state"), 1) for _ in range(3)]
    speed = scaled(r.u16("speed"), 2, 0.1)
    odometer = scaled(r.u32("odometer"), 4, 0.1)
    voltage = scaled(r.u16("total voltage"), 2, 0.1)
    current = scaled(r.u16("total current"), 2, 0.1, current_offset_a)
    soc, dcdc, gear = valid(r.u8("SOC"), 1), valid(r.u8("DC-DC state"), 1), r.u8("gear")
    insulation = valid(r.u16("insulation resistance"), 2)
    pedals = [valid(r.u8("pedal"), 1) for _ in range(2)] if has_pedals else [None, None]
    return EvVehicle(
        vehicle_state=states[0],
        charge_state=states[1],
        run_mode=states[2],
        speed_kmh=speed,
        odometer_km=odometer,
        total_voltage_v=voltage,
        total_current_a=current,
        soc_pct=soc,
        dcdc_state=dcdc,
        gear=gear,
        insulation_kohm=insulation,
        accelerator_pct=pedals[0],
        brake_pct=pedals[1],
    )


def write_vehicle(
    out: bytearray, v: EvVehicle, *, current_offset_a: float, has_pedals: bool
) -> None:
    """Inverse of :func:`read_vehicle`."""
    for value in (v.vehicle_state, v.charge_state, v.run_mode):
        put(out, raw_or_invalid(value, 1), 1, "state")
    put(out, unscale(v.speed_kmh, 2, 0.1), 2, "speed")
    put(out, unscale(v.odometer_km, 4, 0.1), 4, "odometer")
    put(out, unscale(v.total_voltage_v, 2, 0.1), 2, "total voltage")
    put(out, unscale(v.total_current_a, 2, 0.1, current_offset_a), 2, "total current")
    put(out, raw_or_invalid(v.soc_pct, 1), 1, "SOC")
    put(out, raw_or_invalid(v.dcdc_state, 1), 1, "DC-DC state")
    put(out, v.gear, 1, "gear")
    put(out, raw_or_invalid(v.insulation_kohm, 2), 2, "insulation")
    if has_pedals:
        put(out, raw_or_invalid(v.accelerator_pct, 1), 1, "accelerator")
        put(out, raw_or_invalid(v.brake_pct, 1), 1, "brake")


def read_motors(r: Reader, *, layout: int) -> tuple[EvMotor, ...]:
    """Drive motors: count, then 12 bytes (2016) or 10 bytes (2025) per motor."""
    motors = []
    for _ in range(r.u8("motor count")):
        seq, state, ctrl = r.u8("motor seq"), valid(r.u8("motor state"), 1), r.u8("ctrl temp")
        if layout == 2016:
            speed, torque = valid(r.u16("motor speed"), 2), scaled(r.u16("torque"), 2, 0.1, -2000)
            speed_off = -20000
        else:
            speed, torque = valid(r.u16("motor speed"), 2), scaled(r.u32("torque"), 4, 0.1, -20000)
            speed_off = -32000
        temp = valid(r.u8("motor temp"), 1)
        extra: dict[str, float | None] = {}
        if layout == 2016:
            extra["controller_voltage_v"] = scaled(r.u16("ctrl voltage"), 2, 0.1)
            extra["controller_current_a"] = scaled(r.u16("ctrl current"), 2, 0.1, -1000)
        motors.append(
            EvMotor(
                seq=seq,
                state=state,
                controller_temp_c=None if valid(ctrl, 1) is None else ctrl - 40,
                speed_rpm=None if speed is None else speed + speed_off,
                torque_nm=torque,
                temp_c=None if temp is None else temp - 40,
                **extra,
            )
        )
    return tuple(motors)


def _temp_raw(value: int | float | None, nbytes: int = 1) -> int:
    return raw_or_invalid(None if value is None else int(value) + 40, nbytes)


def write_motors(out: bytearray, motors: tuple[EvMotor, ...], *, layout: int) -> None:
    """Inverse of :func:`read_motors`."""
    put(out, len(motors), 1, "motor count")
    for m in motors:
        put(out, m.seq, 1, "motor seq")
        put(out, raw_or_invalid(m.state, 1), 1, "motor state")
        put(out, _temp_raw(m.controller_temp_c), 1, "ctrl temp")
        speed_off = 20000 if layout == 2016 else 32000
        put(
            out,
            raw_or_invalid(None if m.speed_rpm is None else m.speed_rpm + speed_off, 2),
            2,
            "speed",
        )
        if layout == 2016:
            put(out, unscale(m.torque_nm, 2, 0.1, -2000), 2, "torque")
        else:
            put(out, unscale(m.torque_nm, 4, 0.1, -20000), 4, "torque")
        put(out, _temp_raw(m.temp_c), 1, "motor temp")
        if layout == 2016:
            put(out, unscale(m.controller_voltage_v, 2, 0.1), 2, "ctrl voltage")
            put(out, unscale(m.controller_current_a, 2, 0.1, -1000), 2, "ctrl current")


def _temps(r: Reader, n: int, what: str) -> tuple[int | None, ...]:
    raw = r.take(n, what)
    return tuple(None if b >= 0xFE else b - 40 for b in raw)


def read_fuel_cell(r: Reader) -> EvFuelCell:
    """2016 fuel-cell unit: V, A, consumption, probe temperatures, hydrogen maxima."""
    voltage = scaled(r.u16("fc voltage"), 2, 0.1)
    current = scaled(r.u16("fc current"), 2, 0.1)
    consumption = scaled(r.u16("fc consumption"), 2, 0.01)
    probes = _temps(r, r.u16("fc probe count"), "fc probe temperatures")
    return EvFuelCell(
        voltage_v=voltage,
        current_a=current,
        consumption_kg_per_100km=consumption,
        probe_temps_c=probes,
        max_h2_temp_c=scaled(r.u16("h2 max temp"), 2, 0.1, -40),
        max_h2_temp_probe=valid(r.u8("h2 temp probe"), 1),
        max_h2_concentration_ppm=valid(r.u16("h2 concentration"), 2),
        max_h2_concentration_sensor=valid(r.u8("h2 concentration sensor"), 1),
        max_h2_pressure_mpa=scaled(r.u16("h2 pressure"), 2, 0.1),
        max_h2_pressure_sensor=valid(r.u8("h2 pressure sensor"), 1),
        dcdc_state=valid(r.u8("fc dcdc state"), 1),
    )


def write_fuel_cell(out: bytearray, f: EvFuelCell) -> None:
    """Inverse of :func:`read_fuel_cell`."""
    put(out, unscale(f.voltage_v, 2, 0.1), 2, "fc voltage")
    put(out, unscale(f.current_a, 2, 0.1), 2, "fc current")
    put(out, unscale(f.consumption_kg_per_100km, 2, 0.01), 2, "fc consumption")
    put(out, len(f.probe_temps_c), 2, "fc probe count")
    out += bytes(_temp_raw(t) for t in f.probe_temps_c)
    put(out, unscale(f.max_h2_temp_c, 2, 0.1, -40), 2, "h2 max temp")
    put(out, raw_or_invalid(f.max_h2_temp_probe, 1), 1, "h2 temp probe")
    put(out, raw_or_invalid(f.max_h2_concentration_ppm, 2), 2, "h2 concentration")
    put(out, raw_or_invalid(f.max_h2_concentration_sensor, 1), 1, "h2 sensor")
    put(out, unscale(f.max_h2_pressure_mpa, 2, 0.1), 2, "h2 pressure")
    put(out, raw_or_invalid(f.max_h2_pressure_sensor, 1), 1, "h2 pressure sensor")
    put(out, raw_or_invalid(f.dcdc_state, 1), 1, "fc dcdc state")


def read_engine(r: Reader, *, layout: int) -> EvEngine:
    """Engine unit: state, crankshaft speed, fuel use (2016); crankshaft speed only (2025)."""
    if layout == 2025:
        return EvEngine(crank_speed_rpm=valid(r.u16("crank speed"), 2))
    state = valid(r.u8("engine state"), 1)
    crank = valid(r.u16("crank speed"), 2)
    return EvEngine(
        state=state,
        crank_speed_rpm=crank,
        fuel_consumption_l_per_100km=scaled(r.u16("fuel consumption"), 2, 0.01),
    )


def write_engine(out: bytearray, e: EvEngine, *, layout: int) -> None:
    """Inverse of :func:`read_engine`."""
    if layout == 2016:
        put(out, raw_or_invalid(e.state, 1), 1, "engine state")
    put(out, raw_or_invalid(e.crank_speed_rpm, 2), 2, "crank speed")
    if layout == 2016:
        put(out, unscale(e.fuel_consumption_l_per_100km, 2, 0.01), 2, "fuel consumption")


def read_position(r: Reader, *, layout: int) -> EvPosition:
    """Position: status bits (0 invalid, 1 south, 2 west), [2025: coordinate system], lon, lat."""
    status = r.u8("position status")
    system = valid(r.u8("coordinate system"), 1) if layout == 2025 else None
    lon = scaled(r.u32("longitude"), 4, 1e-6)
    lat = scaled(r.u32("latitude"), 4, 1e-6)
    if lat is not None and status & 0b010:
        lat = -lat
    if lon is not None and status & 0b100:
        lon = -lon
    return EvPosition(is_valid=not status & 1, lat_deg=lat, lon_deg=lon, coordinate_system=system)


def write_position(out: bytearray, p: EvPosition, *, layout: int) -> None:
    """Inverse of :func:`read_position`."""
    status = (0 if p.is_valid else 1) | (2 if (p.lat_deg or 0) < 0 else 0)
    status |= 4 if (p.lon_deg or 0) < 0 else 0
    put(out, status, 1, "position status")
    if layout == 2025:
        put(out, raw_or_invalid(p.coordinate_system, 1), 1, "coordinate system")
    lon = None if p.lon_deg is None else abs(p.lon_deg)
    lat = None if p.lat_deg is None else abs(p.lat_deg)
    put(out, unscale(lon, 4, 1e-6), 4, "longitude")
    put(out, unscale(lat, 4, 1e-6), 4, "latitude")


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
    put(out, _temp_raw(x.max_temp_c), 1, "max temp")
    put(out, raw_or_invalid(x.min_temp_subsystem, 1), 1, "extreme id")
    put(out, raw_or_invalid(x.min_temp_probe, 1), 1, "extreme id")
    put(out, _temp_raw(x.min_temp_c), 1, "min temp")


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
        packs.append(EvProbeTemps(subsystem=sub, temps_c=_temps(r, r.u16("probe count"), "probes")))
    return tuple(packs)


def write_temps(out: bytearray, packs: tuple[EvProbeTemps, ...]) -> None:
    """Inverse of :func:`read_temps`."""
    put(out, len(packs), 1, "subsystem count")
    for p in packs:
        put(out, p.subsystem, 1, "subsystem")
        put(out, len(p.temps_c), 2, "probe count")
        out += bytes(_temp_raw(t) for t in p.temps_c)
