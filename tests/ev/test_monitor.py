"""The live EV monitor: latest state, bounded series and tables, alarms, charging and plan."""

from __future__ import annotations

import math

import msgspec
import pytest

from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.charging import Charger
from v2xcloud.ev.monitor import COLUMNS, EvMonitor, sample_of
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvOperatorAlarm, EvReport
from v2xcloud.runtime.clock import ManualClock

T0 = 1_700_000_000_000
HOT = "LHOT0000000000001"
CALM = "LCALM000000000001"


def _vin(i: int) -> str:
    return f"LMON{i:013d}"


def _wired(
    clock: ManualClock, chargers: list[Charger] | None = None, **settings: int
) -> tuple[EvMonitor, AlarmMonitor]:
    ev = EvMonitor(clock=clock.now_ms, chargers=chargers, **settings)
    alarms = AlarmMonitor(ev, clock=clock.now_ms, chargers=chargers, on_charging=ev.on_charging)
    return ev, alarms


def _drive(
    ev: EvMonitor, alarms: AlarmMonitor, clock: ManualClock, cars: list[SimulatedVehicle], n: int
) -> None:
    for _ in range(n):
        clock.advance(1000)
        for car in cars:
            report = car.step()
            ev.write(report)  # the server's order: the sink, then the alarm monitor
            alarms.on_report(report, received_at_ms=clock.now_ms())


def test_latest_state_series_and_level3_alarm_with_its_explanation() -> None:
    clock = ManualClock(T0)
    ev, alarms = _wired(clock)
    hot = SimulatedVehicle(HOT, seed=3, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=20))
    calm = SimulatedVehicle(CALM, seed=4, start_ms=T0)
    _drive(ev, alarms, clock, [hot, calm], 30)
    fleet = ev.fleet()
    assert [v.vin for v in fleet.vehicles] == [CALM, HOT]
    assert (fleet.total, fleet.online, fleet.alarmed) == (2, 2, 1)
    status = {v.vin: v for v in fleet.vehicles}
    assert status[HOT].alarm_level == 3 and status[HOT].vehicle_alarm_level == 3
    assert "battery_high_temperature" in status[HOT].alarm_flags
    assert status[CALM].alarm_level == 0 and status[CALM].active_alarms == 0
    assert [v.vin for v in ev.fleet(min_level=3).vehicles] == [HOT]
    detail = ev.vehicle(HOT)
    assert detail is not None
    last = hot.step()  # what the vehicle would say next; its previous report is the state
    assert detail.status.collected_at_ms == last.collected_at_ms - 1000
    assert len(detail.series.t_ms) == 30 and detail.series.source == "memory"
    assert detail.series.t_ms == sorted(detail.series.t_ms)
    # the runaway shows in the series: the hottest probe climbs, a cell collapses
    temps = detail.series.temp_max_c
    assert temps[-1] is not None and temps[0] is not None and temps[-1] - temps[0] > 30
    spread = detail.series.cell_spread_v
    assert spread[0] is not None and spread[0] < 0.1 and spread[-1] is not None and spread[-1] > 0.5
    assert len(detail.cell_voltages_v) == 96 and len(detail.probe_temps_c) == 16
    kinds = {a.alarm.kind: a.alarm for a in detail.alarms}
    assert "vehicle_alarm" in kinds and kinds["vehicle_alarm"].level == 3
    assert any(k.startswith("anomaly:temp_rise") for k in kinds)
    assert "°C/s" in kinds["anomaly:temp_rise"].reason  # explained, with the numbers
    assert all(a.is_active for a in detail.alarms)
    level3 = ev.alarms(min_level=3)
    assert level3 and {a.alarm.vin for a in level3} == {HOT}
    # nothing raised again for 150 s: the alarms are over but still listed
    clock.advance(151_000)
    assert ev.alarms(min_level=3, is_active=True) == []
    assert ev.alarms(min_level=3, is_active=False)
    assert ev.fleet().vehicles[1].alarm_level == 3  # the vehicle still reports level 3


def test_sample_of_takes_every_subsystem_and_falls_back_to_extremes() -> None:
    car = SimulatedVehicle(CALM, seed=9, start_ms=T0)
    report = car.step()
    values = dict(zip(COLUMNS, sample_of(report), strict=True))
    cells = report.cell_voltages[0].cell_voltages_v
    assert values["cell_max_v"] == max(c for c in cells if c is not None)
    assert values["cell_spread_v"] == pytest.approx(
        max(c for c in cells if c is not None) - min(c for c in cells if c is not None), abs=1e-9
    )
    bare = msgspec.structs.replace(report, cell_voltages=(), probe_temps=())
    values = dict(zip(COLUMNS, sample_of(bare), strict=True))
    assert report.extremes is not None
    assert values["cell_max_v"] == report.extremes.max_cell_voltage_v
    assert values["temp_min_c"] == report.extremes.min_temp_c
    empty = dict(zip(COLUMNS, sample_of(EvReport(vin=CALM, collected_at_ms=T0)), strict=True))
    assert set(empty.values()) == {None}


def test_vehicles_bounded_the_longest_silent_evicted_and_counted() -> None:
    clock = ManualClock(T0)
    ev = EvMonitor(clock=clock.now_ms, max_vehicles=3)
    cars = [SimulatedVehicle(_vin(i), seed=i, start_ms=T0) for i in range(5)]
    for car in cars:  # 0, 1, 2 fill the table; 0 reports again, so 1 is the longest silent
        clock.advance(1000)
        ev.write(car.step())
        if car is cars[2]:
            ev.write(cars[0].step())
    assert ev.evicted == 2
    assert [v.vin for v in ev.fleet().vehicles] == [_vin(0), _vin(3), _vin(4)]
    assert ev.fleet().evicted == 2 and ev.fleet().max_vehicles == 3
    assert ev.vehicle(_vin(1)) is None


def test_series_bounded_by_count_and_age_resent_reports_fill_in() -> None:
    clock = ManualClock(T0)
    ev = EvMonitor(clock=clock.now_ms, max_samples=50, max_age_ms=30_000)
    car = SimulatedVehicle(CALM, seed=5, start_ms=T0)
    reports = [car.step() for _ in range(100)]
    held_back = reports[95]  # arrives late, re-sent after the newer ones
    for r in reports:
        if r is not held_back:
            ev.write(r)
    detail = ev.vehicle(CALM)
    assert detail is not None
    t = detail.series.t_ms
    assert t[-1] == reports[-1].collected_at_ms and t[-1] - t[0] <= 30_000
    assert held_back.collected_at_ms not in t
    ev.write(msgspec.structs.replace(held_back, is_resent=True))
    detail = ev.vehicle(CALM)
    assert detail is not None
    assert held_back.collected_at_ms in detail.series.t_ms
    assert detail.series.t_ms == sorted(detail.series.t_ms)
    assert detail.status.collected_at_ms == reports[-1].collected_at_ms  # not set back
    small = EvMonitor(clock=clock.now_ms, max_samples=10)
    for r in reports:
        small.write(r)
    kept = small.vehicle(CALM)
    assert kept is not None and len(kept.series.t_ms) == 10
    assert kept.series.t_ms[0] == reports[90].collected_at_ms
    since = kept.series.t_ms[5]
    tail = small.vehicle(CALM, since_ms=since)  # no history to ask: what memory holds
    assert tail is not None and tail.series.t_ms == kept.series.t_ms[5:]


def test_older_windows_come_from_the_history() -> None:
    clock = ManualClock(T0 + 200_000)
    store = MemoryReportSink()
    asked: list[tuple[str, int, int, int]] = []

    def history(vin: str, start_ms: int, end_ms: int, limit: int) -> list[EvReport]:
        asked.append((vin, start_ms, end_ms, limit))
        found = [r for r in store.reports if r.vin == vin and start_ms <= r.collected_at_ms]
        return found[:limit]

    ev = EvMonitor(clock=clock.now_ms, forward=store, history=history, max_samples=20)
    car = SimulatedVehicle(CALM, seed=6, start_ms=T0)
    for _ in range(100):
        ev.write(car.step())
    assert len(store.reports) == 100  # passed on to the history sink
    recent = ev.vehicle(CALM)
    assert recent is not None and recent.series.source == "memory"
    assert len(recent.series.t_ms) == 20
    older = ev.vehicle(CALM, since_ms=T0)
    assert older is not None and older.series.source == "store"
    assert len(older.series.t_ms) == 100 and asked == [(CALM, T0, T0 + 200_000, 200)]
    assert all(v is not None and not math.isnan(v) for v in older.series.pack_voltage_v)


def test_level3_alarms_reach_listeners_a_failing_one_is_counted() -> None:
    clock = ManualClock(T0)
    ev, alarms = _wired(clock)
    heard: list[EvOperatorAlarm] = []

    def broken(alarm: EvOperatorAlarm) -> None:
        raise RuntimeError("console alarm list down")

    ev.add_alarm_listener(broken)
    ev.add_alarm_listener(heard.append)
    hot = SimulatedVehicle(HOT, seed=3, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=5))
    _drive(ev, alarms, clock, [hot], 12)
    assert heard and all(a.level >= 3 for a in heard)
    assert {a.kind for a in heard} >= {"vehicle_alarm"}
    assert ev.counts["alarm_listener_errors"] == len(heard)
    assert ev.failures.counts()["ev:alarm_listener"] == len(heard)
    assert len(ev.alarms(limit=1000)) > len(heard)  # level-2 anomalies are kept, not forwarded


def test_charging_warnings_and_the_plan() -> None:
    clock = ManualClock(T0)
    # one charger far away (~35 km): low-SOC cars warn, are planned or reported unserved
    chargers = [
        Charger(id="far", lat_deg=31.55, lon_deg=121.47, power_kw=60.0, ports=1),
        Charger(id="near", lat_deg=31.25, lon_deg=121.50, power_kw=7.0, ports=1),
    ]
    ev, alarms = _wired(clock, chargers)
    cars = [SimulatedVehicle(_vin(i), seed=40 + i, start_ms=T0) for i in range(6)]
    for car in cars[:3]:
        car.soc = 4.0  # nearly empty
    _drive(ev, alarms, clock, cars, 3)
    overview = ev.charging()
    assert overview.is_enabled and [c.id for c in overview.chargers] == ["far", "near"]
    low = {w.vin for w in overview.warnings}
    assert low >= {_vin(0), _vin(1), _vin(2)}
    order = [w.level for w in overview.warnings]
    assert order == sorted(order, key=["critical", "warning", "advise"].index)
    assert all(w.reason for w in overview.warnings)
    assert overview.plan is not None and overview.baseline is not None
    assert overview.plan.strategy == "balanced" and overview.baseline.strategy == "nearest"
    assert overview.plan.assignments  # the low cars reach "near"
    msgspec.json.encode(overview)  # plain numbers all through (the API encodes it)
    planned = {a.vin for a in overview.plan.assignments} | set(overview.plan.unserved)
    assert planned >= {_vin(0), _vin(1), _vin(2)}
    status = {v.vin: v for v in ev.fleet().vehicles}
    assert status[_vin(0)].charging_level in ("critical", "warning", "advise")
    detail = ev.vehicle(_vin(0))
    assert detail is not None and detail.charging is not None
    # a tenant sees its own vehicles' warnings and assignments only
    mine = ev.charging(visible=lambda vin: vin == _vin(0))
    assert {w.vin for w in mine.warnings} == {_vin(0)}
    assert mine.plan is not None
    assert {a.vin for a in mine.plan.assignments} | set(mine.plan.unserved) == {_vin(0)}
    assert ev.counts["plans"] == 1  # the second ask within plan_refresh_ms reused it


def test_without_chargers_charging_says_disabled() -> None:
    ev = EvMonitor(clock=lambda: T0)
    overview = ev.charging()
    assert not overview.is_enabled and overview.plan is None and overview.warnings == []


def test_online_follows_the_session_when_known_else_the_offline_timeout() -> None:
    clock = ManualClock(T0)
    ev = EvMonitor(clock=clock.now_ms, offline_after_ms=90_000)
    ev.write(SimulatedVehicle(CALM, seed=1, start_ms=T0).step())
    assert ev.fleet().online == 1
    clock.advance(90_001)
    assert ev.fleet().online == 0 and ev.fleet(is_online=False).vehicles
    live: set[str] = {CALM}
    ev.connected = live.__contains__
    assert ev.fleet().online == 1
    live.clear()
    assert ev.fleet(is_online=True).vehicles == []


def test_level3_alarms_reach_the_console_alarm_book_one_per_vin_and_kind() -> None:
    from v2xcloud.ev.monitor import feed_alarm_book
    from v2xcloud.model.alarm import AlarmSeverity, AlarmSource
    from v2xcloud.runtime.alarms import AlarmBook

    clock = ManualClock(T0)
    ev, alarms = _wired(clock)
    book = AlarmBook()
    feed_alarm_book(ev, book, tenant_of=lambda vin: "north" if vin == HOT else None)
    hot = SimulatedVehicle(HOT, seed=3, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=5))
    calm = SimulatedVehicle(CALM, seed=4, start_ms=T0)
    _drive(ev, alarms, clock, [hot, calm], 70)  # past the 60 s repeat: raised again
    live = book.live()
    assert live and {a.source for a in live} == {AlarmSource.EV}
    assert {a.subject for a in live} == {HOT}
    kinds = {a.kind: a for a in live}
    vehicle = kinds["vehicle_alarm"]
    assert vehicle.severity is AlarmSeverity.CRITICAL and vehicle.tenant == "north"
    assert "battery_high_temperature" in vehicle.summary and vehicle.occurrences == 2
    assert vehicle.lat_deg is not None and vehicle.lon_deg is not None
    assert len(live) == len(kinds)  # one per (VIN, kind)
    level3 = {(a.alarm.vin, a.alarm.kind) for a in ev.alarms(min_level=3, limit=1000)}
    assert level3 == {(HOT, k) for k in kinds}
