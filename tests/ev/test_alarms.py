"""Operator alarms: level-3 vehicle alarms and anomalies reach the sink, with de-duplication."""

from __future__ import annotations

from pathlib import Path

import msgspec

from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.sink import JsonlAlarmSink, JsonlReportSink, MemoryAlarmSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvOperatorAlarm, EvReport

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
