"""Electric-vehicle telemetry in SI-style units: one GB/T 32960.3 real-time report.

Every field is already scaled: volts, amperes, degrees Celsius, km/h, km, percent. A field the
vehicle marked "abnormal" (0xFE, 0xFFFE, ...) or "invalid" (0xFF, 0xFFFF, ...) is ``None``.
Times are integer UTC milliseconds. The model knows no wire format; ``ev.units_2016`` and
``ev.units_2025`` do the conversion.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "EvAlarm",
    "EvCellVoltages",
    "EvEngine",
    "EvExtremes",
    "EvFuelCell",
    "EvMotor",
    "EvOperatorAlarm",
    "EvPosition",
    "EvProbeTemps",
    "EvRawUnit",
    "EvReport",
    "EvSignature",
    "EvTableUnit",
    "EvVehicle",
]


class EvVehicle(msgspec.Struct, frozen=True, kw_only=True):
    """Whole-vehicle unit. States are the standard's codes (1 started, 2 off, 3 other, ...)."""

    vehicle_state: int | None
    charge_state: int | None
    run_mode: int | None
    speed_kmh: float | None
    odometer_km: float | None
    total_voltage_v: float | None
    total_current_a: float | None
    soc_pct: int | None
    dcdc_state: int | None
    gear: int
    insulation_kohm: int | None
    accelerator_pct: int | None = None
    brake_pct: int | None = None


class EvMotor(msgspec.Struct, frozen=True, kw_only=True):
    """One drive motor; controller voltage/current exist only in the 2016 layout."""

    seq: int
    state: int | None
    controller_temp_c: int | None
    speed_rpm: int | None
    torque_nm: float | None
    temp_c: int | None
    controller_voltage_v: float | None = None
    controller_current_a: float | None = None


class EvFuelCell(msgspec.Struct, frozen=True, kw_only=True):
    """Fuel-cell unit (2016 layout)."""

    voltage_v: float | None
    current_a: float | None
    consumption_kg_per_100km: float | None
    probe_temps_c: tuple[int | None, ...]
    max_h2_temp_c: float | None
    max_h2_temp_probe: int | None
    max_h2_concentration_ppm: int | None
    max_h2_concentration_sensor: int | None
    max_h2_pressure_mpa: float | None
    max_h2_pressure_sensor: int | None
    dcdc_state: int | None


class EvEngine(msgspec.Struct, frozen=True, kw_only=True):
    """Engine unit; the 2025 layout carries only the crankshaft speed."""

    crank_speed_rpm: int | None
    state: int | None = None
    fuel_consumption_l_per_100km: float | None = None


class EvPosition(msgspec.Struct, frozen=True, kw_only=True):
    """GNSS position, signed (south and west negative). ``coordinate_system`` is 2025 only."""

    is_valid: bool
    lat_deg: float | None
    lon_deg: float | None
    coordinate_system: int | None = None


class EvExtremes(msgspec.Struct, frozen=True, kw_only=True):
    """Extreme values (2016 unit 0x06): which cell/probe holds the max and min."""

    max_voltage_subsystem: int | None
    max_voltage_cell: int | None
    max_cell_voltage_v: float | None
    min_voltage_subsystem: int | None
    min_voltage_cell: int | None
    min_cell_voltage_v: float | None
    max_temp_subsystem: int | None
    max_temp_probe: int | None
    max_temp_c: int | None
    min_temp_subsystem: int | None
    min_temp_probe: int | None
    min_temp_c: int | None


class EvAlarm(msgspec.Struct, frozen=True, kw_only=True):
    """Alarm unit: highest level 0-3, the general alarm bits and the fault-code lists.

    ``flag_names`` spells out the set bits of ``flags`` (e.g. ``"temperature_difference"``).
    ``general_alarms`` (2025 only) lists ``(bit, level)`` pairs.
    """

    max_level: int | None
    flags: int
    flag_names: tuple[str, ...]
    battery_faults: tuple[int, ...] = ()
    motor_faults: tuple[int, ...] = ()
    engine_faults: tuple[int, ...] = ()
    other_faults: tuple[int, ...] = ()
    general_alarms: tuple[tuple[int, int], ...] = ()


class EvCellVoltages(msgspec.Struct, frozen=True, kw_only=True):
    """Cell voltages of one energy-storage subsystem; ``first_cell`` is 1-based."""

    subsystem: int
    voltage_v: float | None
    current_a: float | None
    cell_count: int
    first_cell: int
    cell_voltages_v: tuple[float | None, ...]


class EvProbeTemps(msgspec.Struct, frozen=True, kw_only=True):
    """Probe temperatures of one energy-storage subsystem, in degrees Celsius."""

    subsystem: int
    temps_c: tuple[int | None, ...]


class EvTableUnit(msgspec.Struct, frozen=True, kw_only=True):
    """A unit decoded from a configurable layout table (2025 fuel-cell stacks, super-caps).

    ``fields`` holds the scalar fields, ``items`` one mapping per repeated record.
    """

    unit_id: int
    name: str
    fields: dict[str, float | None]
    items: tuple[dict[str, float | None], ...] = ()


class EvRawUnit(msgspec.Struct, frozen=True, kw_only=True):
    """A unit kept as bytes: OEM-defined (0x80-0xFE) or unknown.

    ``is_tail`` is true when the unit's length was not known, so everything from its id to
    the end of the data was kept opaque.
    """

    unit_id: int
    data: bytes
    is_tail: bool = False


class EvSignature(msgspec.Struct, frozen=True, kw_only=True):
    """2025 signature block: algorithm (1 SM2, 2 RSA, 3 ECC) and the r and s values."""

    algorithm: int
    r: bytes
    s: bytes


class EvReport(msgspec.Struct, frozen=True, kw_only=True):
    """One real-time (or re-sent) report of one vehicle at ``collected_at_ms`` (UTC ms)."""

    vin: str
    collected_at_ms: int
    is_resent: bool = False
    layout: int = 2016
    vehicle: EvVehicle | None = None
    motors: tuple[EvMotor, ...] = ()
    fuel_cell: EvFuelCell | None = None
    engine: EvEngine | None = None
    position: EvPosition | None = None
    extremes: EvExtremes | None = None
    alarm: EvAlarm | None = None
    cell_voltages: tuple[EvCellVoltages, ...] = ()
    probe_temps: tuple[EvProbeTemps, ...] = ()
    table_units: tuple[EvTableUnit, ...] = ()
    raw_units: tuple[EvRawUnit, ...] = ()
    signature: EvSignature | None = None


class EvOperatorAlarm(msgspec.Struct, frozen=True, kw_only=True):
    """An alarm raised to operators: the vehicle's own level-3 alarm or a detected anomaly.

    ``kind`` is ``"vehicle_alarm"`` or ``"anomaly:<check>"``; ``reason`` explains it with the
    numbers. Times are UTC ms: when the data was collected, received, and the alarm raised.
    """

    vin: str
    kind: str
    level: int
    reason: str
    collected_at_ms: int
    received_at_ms: int
    raised_at_ms: int
