"""Charging warning: is the energy left enough to reach the nearest suitable charger?

Energy left = SOC × usable battery capacity. Energy needed = road distance to the charger
(great-circle distance × ``detour_factor``) × consumption per km. Levels:

- ``critical``: the nearest suitable charger is out of reach;
- ``warning``: reachable, but with less than ``reserve_kwh`` to spare;
- ``advise``: SOC below ``advise_soc_pct``;
- ``ok`` otherwise.

Chargers come from a JSON file (a list of objects with ``id``, ``lat_deg``, ``lon_deg``,
``power_kw`` and optionally ``ports``) or from code.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from v2xcloud.errors import ConfigError
from v2xcloud.model.ev import EvReport
from v2xcloud.model.ev_fleet import Charger, ChargingWarning

__all__ = [
    "Charger",
    "ChargingWarning",
    "VehicleEnergy",
    "charging_warning",
    "distances_km",
    "load_chargers",
]

EARTH_RADIUS_KM = 6371.0088


class VehicleEnergy(msgspec.Struct, frozen=True, kw_only=True):
    """Per-vehicle energy settings (defaults suit a mid-size passenger EV)."""

    battery_kwh: float = 60.0
    consumption_kwh_per_km: float = 0.16
    detour_factor: float = 1.3
    reserve_kwh: float = 3.0
    advise_soc_pct: float = 20.0
    min_power_kw: float = 0.0


def load_chargers(path: str | Path) -> list[Charger]:
    """Read chargers from a JSON file; raises ``ConfigError`` saying what is wrong."""
    try:
        chargers = msgspec.json.decode(Path(path).read_bytes(), type=list[Charger])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(
            f"charger file {path}: {exc}; expected a JSON list of "
            '{"id", "lat_deg", "lon_deg", "power_kw", "ports"} objects'
        ) from exc
    if not chargers:
        raise ConfigError(f"charger file {path} lists no chargers; add at least one")
    return chargers


def distances_km(lat_deg: float, lon_deg: float, chargers: list[Charger]) -> np.ndarray:
    """Great-circle distances (km) from one point to every charger (haversine)."""
    lat = np.radians([c.lat_deg for c in chargers])
    lon = np.radians([c.lon_deg for c in chargers])
    p_lat, p_lon = np.radians(lat_deg), np.radians(lon_deg)
    a = (
        np.sin((lat - p_lat) / 2) ** 2
        + np.cos(p_lat) * np.cos(lat) * np.sin((lon - p_lon) / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def charging_warning(
    report: EvReport, chargers: list[Charger], *, energy: VehicleEnergy | None = None
) -> ChargingWarning | None:
    """Assess one report; ``None`` when it lacks SOC or a valid position, or no charger suits."""
    e = energy or VehicleEnergy()
    v, p = report.vehicle, report.position
    if (
        v is None
        or v.soc_pct is None
        or p is None
        or not p.is_valid
        or p.lat_deg is None
        or p.lon_deg is None
    ):
        return None
    suitable = [c for c in chargers if c.power_kw >= e.min_power_kw]
    if not suitable:
        return None
    road_km = distances_km(p.lat_deg, p.lon_deg, suitable) * e.detour_factor
    i = int(np.argmin(road_km))
    dist = float(road_km[i])
    have = v.soc_pct / 100 * e.battery_kwh
    need = dist * e.consumption_kwh_per_km
    range_km = have / e.consumption_kwh_per_km
    head = f"SOC {v.soc_pct} % = {have:.1f} kWh (range {range_km:.1f} km); nearest charger {suitable[i].id} {dist:.1f} km away needs {need:.1f} kWh"
    if have < need:
        level, tail = "critical", "cannot reach it"
    elif have - need < e.reserve_kwh:
        level, tail = (
            "warning",
            f"only {have - need:.1f} kWh spare (<{e.reserve_kwh:.1f} kWh reserve)",
        )
    elif v.soc_pct < e.advise_soc_pct:
        level, tail = "advise", f"SOC below {e.advise_soc_pct:.0f} %"
    else:
        level, tail = "ok", "enough energy"
    return ChargingWarning(
        vin=report.vin,
        level=level,
        soc_pct=v.soc_pct,
        energy_kwh=round(have, 3),
        range_km=round(range_km, 3),
        charger_id=suitable[i].id,
        distance_km=round(dist, 3),
        energy_needed_kwh=round(need, 3),
        reason=f"{head}: {tail}",
    )
