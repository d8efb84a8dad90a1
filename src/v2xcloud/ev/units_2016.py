"""Real-time data units of GB/T 32960.3-2016 (vehicle, motors, fuel cell, engine, position).

Each unit has a ``read_*`` (bytes -> model, scaled, markers -> ``None``) and a ``write_*``
(model -> bytes, ``None`` -> the "invalid" marker). Layout differences in 2025 (current
offset -3000 A, no pedals, drive motors without controller voltage, position with a
coordinate system) are arguments here; the 2025 table lives in ``ev.units_2025`` and the
battery units (extremes, alarms, cells, probes) in ``ev.units_battery``.

Scaling (2016): speed 0.1 km/h; odometer 0.1 km; voltage 0.1 V; current 0.1 A - 1000 A;
temperatures 1 degC - 40; motor speed 1 rpm - 20000; torque 0.1 N·m - 2000; lat/lon 1e-6 degree.
"""

from __future__ import annotations

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
from v2xcloud.model.ev import EvEngine, EvFuelCell, EvMotor, EvPosition, EvVehicle

__all__ = [
    "read_engine",
    "read_fuel_cell",
    "read_motors",
    "read_position",
    "read_vehicle",
    "write_engine",
    "write_fuel_cell",
    "write_motors",
    "write_position",
    "write_vehicle",
]


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


def write_motors(out: bytearray, motors: tuple[EvMotor, ...], *, layout: int) -> None:
    """Inverse of :func:`read_motors`."""
    put(out, len(motors), 1, "motor count")
    for m in motors:
        put(out, m.seq, 1, "motor seq")
        put(out, raw_or_invalid(m.state, 1), 1, "motor state")
        put(out, temp_raw(m.controller_temp_c), 1, "ctrl temp")
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
        put(out, temp_raw(m.temp_c), 1, "motor temp")
        if layout == 2016:
            put(out, unscale(m.controller_voltage_v, 2, 0.1), 2, "ctrl voltage")
            put(out, unscale(m.controller_current_a, 2, 0.1, -1000), 2, "ctrl current")


def read_fuel_cell(r: Reader) -> EvFuelCell:
    """2016 fuel-cell unit: V, A, consumption, probe temperatures, hydrogen maxima."""
    voltage = scaled(r.u16("fc voltage"), 2, 0.1)
    current = scaled(r.u16("fc current"), 2, 0.1)
    consumption = scaled(r.u16("fc consumption"), 2, 0.01)
    probes = read_temps_c(r, r.u16("fc probe count"), "fc probe temperatures")
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
    out += bytes(temp_raw(t) for t in f.probe_temps_c)
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
