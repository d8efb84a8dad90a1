"""The live EV monitor's cost: per report against the receive path it sits on, memory per
vehicle with full series, and the API's reads over a large fleet.

Usage::

    .venv/bin/python benchmarks/ev_monitor.py                     # 2000 vehicles
    .venv/bin/python benchmarks/ev_monitor.py --vehicles 10000

Part 1 times, in the same run and on the same simulated 96-cell reports, the frame decode
(``ev.codec.decode``), the alarm monitor (``AlarmMonitor.on_report``: anomaly checks and a
charging verdict) and ``EvMonitor.write``, and prints the monitor's cost as a ratio of the
decode's (the machine is shared: ratios from one run, not absolute figures, are the result).
Part 2 fills the monitor with ``--vehicles`` vehicles of ``max_samples`` samples each and
prints the traced memory per vehicle. Part 3 times ``fleet()``, ``vehicle()``,
``alarms()`` and a charging plan over that fleet.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import msgspec

from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.monitor import EvMonitor
from v2xcloud.ev.sink import MemoryAlarmSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model.ev import EvReport
from v2xcloud.model.ev_fleet import Charger

T0 = 1_700_000_000_000
CHARGERS = [
    Charger(id=f"c{i}", lat_deg=31.1 + 0.05 * i, lon_deg=121.4 + 0.03 * i, power_kw=60, ports=4)
    for i in range(8)
]


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def _reports(n: int) -> list[EvReport]:
    cars = [SimulatedVehicle(f"LBEN{i:013d}", seed=i, start_ms=T0) for i in range(50)]
    return [cars[i % 50].step() for i in range(n)]


def part1(n: int) -> None:
    reports = _reports(n)
    frames = [encode(Message(command=0x02, vin=r.vin, body=r)) for r in reports]
    clock = [T0]
    ev = EvMonitor(clock=lambda: clock[0], chargers=CHARGERS)
    alarms = AlarmMonitor(
        MemoryAlarmSink(), clock=lambda: clock[0], chargers=CHARGERS, on_charging=ev.on_charging
    )
    it_f, it_r, it_a = iter(frames), iter(reports), iter(reports)
    decode_us = _per_call_us(lambda: decode(next(it_f)), n)
    alarm_us = _per_call_us(lambda: alarms.on_report(next(it_a), received_at_ms=T0), n)
    write_us = _per_call_us(lambda: ev.write(next(it_r)), n)
    print(f"part 1: {n} simulated 96-cell reports (50 vehicles), per report:")
    print(f"  decode                 {decode_us:8.1f} us")
    print(f"  AlarmMonitor.on_report {alarm_us:8.1f} us")
    print(f"  EvMonitor.write        {write_us:8.1f} us  = {write_us / decode_us:.2f} x decode")


def part2_3(vehicles: int, samples: int) -> None:
    ev = EvMonitor(clock=lambda: T0 + samples * 1000, chargers=CHARGERS, max_vehicles=vehicles)
    cars = [SimulatedVehicle(f"LBEN{i:013d}", seed=i, start_ms=T0) for i in range(vehicles)]
    for car in cars[: vehicles // 5]:
        car.soc = 8.0  # a fifth are low (the rest need charge only when far from a charger)
    one = cars[0].step()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for s in range(samples):
        for car in cars:
            # the same report body re-stamped: the simulation's own cost stays out of the figure
            ev.write(EvReport(vin=car.vin, collected_at_ms=T0 + s * 1000, vehicle=one.vehicle,
                              position=one.position, extremes=one.extremes, alarm=one.alarm,
                              cell_voltages=one.cell_voltages, probe_temps=one.probe_temps))  # fmt: skip
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"part 2: {vehicles} vehicles x {samples} samples: {used / 1e6:.1f} MB traced, "
          f"{used / vehicles / 1e3:.1f} kB per vehicle (latest report, series, alarms)")  # fmt: skip
    for car in cars:  # each vehicle's own newest report (its SOC, its position)
        ev.write(msgspec.structs.replace(car.step(), collected_at_ms=T0 + samples * 1000))
    vin = cars[vehicles // 2].vin
    print(f"part 3: reads over {vehicles} vehicles:")
    for name, fn, n in (
        ("fleet()", lambda: ev.fleet(), 5),
        ("fleet(min_level=3)", lambda: ev.fleet(min_level=3), 5),
        ("vehicle(vin)", lambda: ev.vehicle(vin), 200),
        ("alarms(limit=100)", lambda: ev.alarms(limit=100), 200),
    ):
        print(f"  {name:22s} {_per_call_us(fn, n) / 1000:8.2f} ms")
    started = time.perf_counter()
    overview = ev._replan(T0)  # what charging() does once per plan_refresh_ms
    planned = len(overview.plan.assignments) if overview.plan else 0
    print(f"  charging plan          {(time.perf_counter() - started) * 1000:8.2f} ms "
          f"({planned} vehicles needing charge planned over {len(CHARGERS)} chargers)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=360, help="per vehicle (max_samples)")
    args = parser.parse_args()
    part1(args.reports)
    part2_3(args.vehicles, args.samples)


if __name__ == "__main__":
    main()
