"""Charging warning levels and the scheduler's comparison against nearest-station-first."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.ev.charging import (
    Charger,
    VehicleEnergy,
    charging_warning,
    distances_km,
    load_chargers,
)
from v2xcloud.ev.scheduler import ChargeRequest, compare_strategies, schedule
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model.ev import EvPosition

VIN = "LTEST000000000001"
CHARGERS = [
    Charger(id="near", lat_deg=31.00, lon_deg=121.00, power_kw=60, ports=1),
    Charger(id="far", lat_deg=31.09, lon_deg=121.00, power_kw=120, ports=4),
]


def _at(soc: int, lat: float = 31.00, lon: float = 121.10):  # type: ignore[no-untyped-def]
    r = SimulatedVehicle(VIN, seed=1, start_ms=0).step()
    assert r.vehicle is not None
    return msgspec.structs.replace(
        r,
        vehicle=msgspec.structs.replace(r.vehicle, soc_pct=soc),
        position=EvPosition(is_valid=True, lat_deg=lat, lon_deg=lon),
    )


def test_distance_is_haversine() -> None:
    d = distances_km(31.0, 121.0, [Charger(id="x", lat_deg=32.0, lon_deg=121.0, power_kw=1)])
    assert d[0] == pytest.approx(111.19, abs=0.05)


@pytest.mark.parametrize(
    ("soc", "level"), [(80, "ok"), (15, "advise"), (8, "warning"), (2, "critical")]
)
def test_levels(soc: int, level: str) -> None:
    w = charging_warning(_at(soc), CHARGERS, energy=VehicleEnergy(battery_kwh=60, reserve_kwh=3))
    assert w is not None and w.level == level and w.charger_id == "near"
    assert f"SOC {soc} %" in w.reason and w.distance_km == pytest.approx(9.532 * 1.3, abs=0.05)


def test_min_power_picks_suitable_charger_and_invalid_position_is_skipped() -> None:
    w = charging_warning(_at(50), CHARGERS, energy=VehicleEnergy(min_power_kw=100))
    assert w is not None and w.charger_id == "far"
    bad = msgspec.structs.replace(
        _at(50), position=EvPosition(is_valid=False, lat_deg=0.0, lon_deg=0.0)
    )
    assert charging_warning(bad, CHARGERS) is None


def test_load_chargers(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps([{"id": "a", "lat_deg": 31, "lon_deg": 121, "power_kw": 60, "ports": 2}])
    )
    assert load_chargers(path) == [Charger(id="a", lat_deg=31, lon_deg=121, power_kw=60, ports=2)]
    path.write_text('[{"id": "a"}]')
    with pytest.raises(ConfigError, match="lat_deg"):
        load_chargers(path)


def _crowd(n: int) -> list[ChargeRequest]:
    return [
        ChargeRequest(
            vin=f"V{i}", lat_deg=31.0 + 0.001 * i, lon_deg=121.02, energy_kwh=10, charge_kwh=30
        )
        for i in range(n)
    ]


def test_balanced_beats_nearest_first_when_the_near_station_queues() -> None:
    nearest, balanced = compare_strategies(_crowd(12), CHARGERS)
    assert {a.charger_id for a in nearest.assignments} == {"near"}
    assert balanced.mean_wait_s < nearest.mean_wait_s / 3
    assert {a.charger_id for a in balanced.assignments} == {"near", "far"}
    assert balanced.mean_detour_km > 0 and nearest.mean_detour_km == 0


def test_fifo_wait_on_single_port() -> None:
    res = schedule(_crowd(3), CHARGERS[:1], strategy="nearest")
    waits = sorted(a.wait_s for a in res.assignments)
    assert waits[0] == 0 and waits[1] > 1700  # 30 kWh at 60 kW = 1800 s


def test_unreachable_vehicle_is_unserved() -> None:
    req = ChargeRequest(vin="FAR", lat_deg=40.0, lon_deg=121.0, energy_kwh=1, charge_kwh=30)
    res = schedule([req], CHARGERS)
    assert res.unserved == ("FAR",) and res.assignments == ()
    with pytest.raises(ConfigError, match="unknown strategy"):
        schedule([req], CHARGERS, strategy="random")


def test_monitor_raises_charging_alarms() -> None:
    from v2xcloud.ev.alarms import AlarmMonitor
    from v2xcloud.ev.sink import MemoryAlarmSink

    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: 0, chargers=CHARGERS)
    monitor.on_report(_at(2), received_at_ms=0)
    monitor.on_report(_at(80, lat=31.01), received_at_ms=0)
    (alarm,) = [a for a in sink.alarms if a.kind.startswith("charging")]
    assert alarm.kind == "charging:critical" and alarm.level == 2 and "cannot reach" in alarm.reason


def test_requests_from_latest_reports() -> None:
    from v2xcloud.ev.scheduler import requests_from_reports

    low, fine = _at(10), msgspec.structs.replace(_at(90), vin="LOTHER00000000001")
    older = msgspec.structs.replace(_at(90), collected_at_ms=low.collected_at_ms - 1000)
    (req,) = requests_from_reports([older, low, fine], CHARGERS, target_soc_pct=80)
    assert (
        req.vin == VIN
        and req.charge_kwh == pytest.approx(42.0)
        and req.energy_kwh == pytest.approx(6.0)
    )
