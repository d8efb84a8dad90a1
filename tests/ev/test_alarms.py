"""Operator alarms: level-3 vehicle alarms and anomalies reach the sink, with de-duplication."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.anomaly import BatteryAnomalyDetector
from v2xcloud.ev.charging import Charger, VehicleEnergy
from v2xcloud.ev.sink import JsonlAlarmSink, JsonlReportSink, MemoryAlarmSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import (
    EvAlarm,
    EvCellVoltages,
    EvOperatorAlarm,
    EvPosition,
    EvReport,
)

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000


def test_level3_alarm_raised_once_per_repeat_window() -> None:
    now = [T0]
    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: now[0], repeat_ms=10_000)
    car = SimulatedVehicle(VIN, seed=1, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=3))
    for _ in range(8):
        now[0] += 1000
        monitor.on_report(car.step(), received_at_ms=now[0])
    vehicle = [a for a in sink.alarms if a.kind == "vehicle_alarm"]
    assert len(vehicle) == 1 and vehicle[0].level == 3
    assert "battery_high_temperature" in vehicle[0].reason
    assert sink.event.is_set()
    now[0] += 10_000
    monitor.on_report(car.step(), received_at_ms=now[0])
    assert len([a for a in sink.alarms if a.kind == "vehicle_alarm"]) == 2


def test_level1_anomalies_filtered() -> None:
    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: T0, min_anomaly_level=3)
    car = SimulatedVehicle(VIN, seed=1, start_ms=T0, faults=FaultPlan(cell_drift_v_per_s=0.05))
    for _ in range(20):
        monitor.on_report(car.step(), received_at_ms=T0)
    assert sink.alarms == []  # cell outliers are level 2


def test_jsonl_sinks_write_lines(tmp_path: Path) -> None:
    alarm = EvOperatorAlarm(
        vin=VIN,
        kind="vehicle_alarm",
        level=3,
        reason="r",
        collected_at_ms=T0,
        received_at_ms=T0,
        raised_at_ms=T0,
    )
    alarms = JsonlAlarmSink(tmp_path / "a.jsonl")
    alarms.raise_alarm(alarm)
    assert (
        msgspec.json.decode((tmp_path / "a.jsonl").read_bytes().strip(), type=EvOperatorAlarm)
        == alarm
    )
    alarms.close()
    reports = JsonlReportSink(tmp_path / "r.jsonl", batch_size=3)
    car = SimulatedVehicle(VIN, seed=1, start_ms=T0)
    sent = [car.step() for _ in range(4)]
    for r in sent:
        reports.write(r)
    assert reports.written == 3  # one full batch flushed, one pending
    reports.close()
    lines = (tmp_path / "r.jsonl").read_bytes().splitlines()
    assert [msgspec.json.decode(line, type=EvReport) for line in lines] == sent


# --- exactly level 3, exact alarms, the repeat window's edge, charging, the size limit ------


def _with_alarm(t_s: int, level: int | None, *flags: str, faults: int = 0) -> EvReport:
    report = SimulatedVehicle(VIN, seed=2, start_ms=T0).step()
    alarm = EvAlarm(
        max_level=level,
        flags=0,
        flag_names=flags,
        battery_faults=(1,) * faults,
        motor_faults=(2,) * faults,
        engine_faults=(3,) * faults,
        other_faults=(4,) * faults,
    )
    return msgspec.structs.replace(report, collected_at_ms=T0 + 1000 * t_s, alarm=alarm)


def test_only_a_level_3_vehicle_alarm_reaches_operators() -> None:
    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: T0 + 5000)
    for level in (None, 0, 1, 2):
        assert monitor.on_report(_with_alarm(1, level, "brake_system"), received_at_ms=T0) == []
    raised = monitor.on_report(
        _with_alarm(2, 3, "temperature_difference", "battery_high_temperature", faults=2),
        received_at_ms=T0 + 2100,
    )
    expected = EvOperatorAlarm(
        vin=VIN,
        kind="vehicle_alarm",
        level=3,
        reason="vehicle reports level-3 alarm: temperature_difference, "
        "battery_high_temperature; 8 fault codes",
        collected_at_ms=T0 + 2000,
        received_at_ms=T0 + 2100,
        raised_at_ms=T0 + 5000,
    )
    assert raised == sink.alarms == [expected] and monitor.raised == 1


def test_a_level_3_alarm_without_flags_says_so() -> None:
    sink = MemoryAlarmSink()
    AlarmMonitor(sink, clock=lambda: T0).on_report(_with_alarm(1, 3), received_at_ms=T0)
    assert [a.reason for a in sink.alarms] == [
        "vehicle reports level-3 alarm: no general flag set; 0 fault codes"
    ]


def test_the_default_repeat_window_is_a_minute_and_its_end_raises_again() -> None:
    now = [T0]
    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: now[0])
    for t in (0, 59_999, 60_000, 119_999, 120_000):
        now[0] = T0 + t
        monitor.on_report(_with_alarm(t // 1000, 3, "x"), received_at_ms=now[0])
    assert [a.raised_at_ms - T0 for a in sink.alarms] == [0, 60_000, 120_000]
    assert monitor.raised == 3


def test_anomalies_from_level_2_by_default() -> None:
    cells = (3.43,) * 19 + (3.02,)  # a level-2 cell outlier and spread
    report = msgspec.structs.replace(
        _with_alarm(1, 0),
        cell_voltages=(
            EvCellVoltages(
                subsystem=1,
                voltage_v=68.0,
                current_a=1.0,
                cell_count=20,
                first_cell=1,
                cell_voltages_v=cells,
            ),
        ),
    )
    sink = MemoryAlarmSink()
    raised = AlarmMonitor(sink, clock=lambda: T0).on_report(report, received_at_ms=T0)
    assert sorted((a.kind, a.level) for a in raised) == [
        ("anomaly:cell_outlier", 2),
        ("anomaly:cell_spread", 2),
    ]


def test_charging_warnings_are_alarms_with_their_levels() -> None:
    chargers = [Charger(id="near", lat_deg=31.00, lon_deg=121.00, power_kw=60, ports=1)]
    energy = VehicleEnergy(battery_kwh=60, reserve_kwh=3)

    def at(soc: int, vin: str) -> EvReport:
        r = _with_alarm(1, 0)
        assert r.vehicle is not None
        return msgspec.structs.replace(
            r,
            vin=vin,
            vehicle=msgspec.structs.replace(r.vehicle, soc_pct=soc),
            position=EvPosition(is_valid=True, lat_deg=31.00, lon_deg=121.10),
        )

    sink = MemoryAlarmSink()
    monitor = AlarmMonitor(sink, clock=lambda: T0, chargers=chargers, energy=energy)
    for soc, vin in ((80, "OK"), (15, "ADVISE"), (8, "WARN"), (2, "CRIT")):
        monitor.on_report(at(soc, vin), received_at_ms=T0)
    assert [(a.vin, a.kind, a.level) for a in sink.alarms] == [
        ("WARN", "charging:warning", 1),
        ("CRIT", "charging:critical", 2),
    ]
    # the energy settings are used: a huge reserve makes the 80 % car critical too
    tight = AlarmMonitor(
        sink, clock=lambda: T0, chargers=chargers, energy=VehicleEnergy(reserve_kwh=59.0)
    )
    assert [a.kind for a in tight.on_report(at(80, "OK"), received_at_ms=T0)] == [
        "charging:warning"
    ]
    assert AlarmMonitor(sink, clock=lambda: T0).on_report(at(2, "X"), received_at_ms=T0) == []


def test_repeat_suppression_keeps_at_most_max_keys(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemoryAlarmSink()
    detector = BatteryAnomalyDetector(max_vins=60_000)
    monitor = AlarmMonitor(sink, clock=lambda: T0, detector=detector)
    base = msgspec.structs.replace(_with_alarm(1, 3, "x"), cell_voltages=(), probe_temps=())
    for i in range(50_001):
        monitor.on_report(msgspec.structs.replace(base, vin=f"V{i}"), received_at_ms=T0)
    assert monitor.raised == 50_001 and monitor.evicted == 1
    assert "EV alarm repeat suppression (VIN, kind): more than 50000 entries" in caplog.text
    # the evicted (oldest) VIN may be raised again within its window; the others may not
    assert len(monitor.on_report(msgspec.structs.replace(base, vin="V0"), received_at_ms=T0)) == 1
    assert monitor.on_report(msgspec.structs.replace(base, vin="V2"), received_at_ms=T0) == []
