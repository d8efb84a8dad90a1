"""The EV fleet as operators see it: per-vehicle status, recent series, alarms, charging.

These are the shapes the live EV monitor (``ev.monitor``) keeps and the ``/api/ev`` routes
return. Units as in :mod:`v2xcloud.model.ev` (GB/T 32960's own: volts, amperes, degrees
Celsius, km/h, percent); times are integer UTC milliseconds. Charging verdicts and plans
(``ev.charging``, ``ev.scheduler``) live here too, so every layer names them the same way.
"""

from __future__ import annotations

import msgspec

from v2xcloud.model.ev import EvOperatorAlarm

__all__ = [
    "ChargePlan",
    "Charger",
    "ChargingWarning",
    "EvAlarmEntry",
    "EvChargingOverview",
    "EvFleet",
    "EvSeries",
    "EvVehicleDetail",
    "EvVehicleStatus",
    "PlannedCharge",
]


class Charger(msgspec.Struct, frozen=True, kw_only=True):
    """A charging station: position, power per port (kW) and number of ports."""

    id: str
    lat_deg: float
    lon_deg: float
    power_kw: float
    ports: int = 1


class ChargingWarning(msgspec.Struct, frozen=True, kw_only=True):
    """Whether one vehicle's energy reaches the nearest suitable charger, with the numbers.

    ``level``: ``critical`` (out of reach), ``warning`` (reachable with less than the
    reserve), ``advise`` (low SOC) or ``ok``; ``reason`` says it in words.
    """

    vin: str
    level: str
    soc_pct: int
    energy_kwh: float
    range_km: float
    charger_id: str | None
    distance_km: float | None
    energy_needed_kwh: float | None
    reason: str


class PlannedCharge(msgspec.Struct, frozen=True, kw_only=True):
    """Where one vehicle charges in a plan and what it costs it (km; seconds from the plan)."""

    vin: str
    charger_id: str
    road_km: float
    detour_km: float
    arrive_s: float
    wait_s: float
    charge_s: float


class ChargePlan(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduling strategy's outcome: assignments, unserved VINs and summary figures."""

    strategy: str
    assignments: tuple[PlannedCharge, ...]
    unserved: tuple[str, ...]
    mean_wait_s: float
    max_wait_s: float
    mean_done_s: float
    mean_detour_km: float


class EvVehicleStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One vehicle's latest state.

    ``is_online``: a live GB/T 32960 session holds the VIN (without a server to ask: a
    report within the monitor's offline timeout). ``last_seen_ms``: when its newest report
    was received; ``collected_at_ms``: when that report was collected. Cell values are over
    all subsystems (``cell_spread_v`` = highest cell - lowest cell); temperatures are the
    hottest and coolest probe. ``vehicle_alarm_level`` is what the vehicle itself reports
    (0-3, GB/T 32960 unit 0x07); ``alarm_level`` is the highest of that and the operator
    alarms still active for it (``active_alarms``).
    """

    vin: str
    is_online: bool
    last_seen_ms: int
    collected_at_ms: int
    reports: int
    soc_pct: int | None = None
    speed_kmh: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    pack_voltage_v: float | None = None
    pack_current_a: float | None = None
    cell_max_v: float | None = None
    cell_min_v: float | None = None
    cell_spread_v: float | None = None
    temp_max_c: float | None = None
    temp_min_c: float | None = None
    vehicle_alarm_level: int | None = None
    alarm_flags: tuple[str, ...] = ()
    alarm_level: int = 0
    active_alarms: int = 0
    charging_level: str | None = None


class EvSeries(msgspec.Struct, frozen=True, kw_only=True):
    """A vehicle's recent values as columns, oldest first (``None``: not reported).

    ``source`` is ``"memory"`` (the monitor's bounded recent history) or ``"store"`` (the
    history store, for windows older than what the monitor keeps).
    """

    source: str
    t_ms: list[int]
    soc_pct: list[float | None]
    speed_kmh: list[float | None]
    pack_voltage_v: list[float | None]
    pack_current_a: list[float | None]
    cell_max_v: list[float | None]
    cell_min_v: list[float | None]
    cell_spread_v: list[float | None]
    temp_max_c: list[float | None]
    temp_min_c: list[float | None]


class EvAlarmEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An operator alarm and whether it is still active (raised again recently: the monitor
    re-raises a lasting condition; one not raised again within the active window is over)."""

    alarm: EvOperatorAlarm
    is_active: bool


class EvFleet(msgspec.Struct, frozen=True, kw_only=True):
    """The vehicles matching a query (``vehicles``) and the fleet-wide counts."""

    vehicles: list[EvVehicleStatus]
    total: int
    online: int
    alarmed: int
    evicted: int
    max_vehicles: int


class EvVehicleDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One vehicle: its status, recent series, alarms (newest first), charging verdict and its
    newest cell voltages and probe temperatures (all subsystems, in order).
    ``cell_spread_limit_v``: the spread above which the battery checks raise an anomaly (the
    charts' threshold line), when the monitor knows the checks' settings."""

    status: EvVehicleStatus
    series: EvSeries
    alarms: list[EvAlarmEntry]
    charging: ChargingWarning | None
    cell_voltages_v: list[float | None]
    probe_temps_c: list[int | None]
    cell_spread_limit_v: float | None = None


class EvChargingOverview(msgspec.Struct, frozen=True, kw_only=True):
    """Charging warnings (worst first) and the scheduler's plan for the vehicles needing charge.

    ``is_enabled`` is false when the platform has no chargers configured; ``plan`` is the
    balanced schedule, ``baseline`` nearest-station-first for the same vehicles (to compare
    waiting times); ``planned_at_ms`` when they were computed.
    """

    is_enabled: bool
    chargers: list[Charger]
    warnings: list[ChargingWarning]
    plan: ChargePlan | None
    baseline: ChargePlan | None
    planned_at_ms: int | None
