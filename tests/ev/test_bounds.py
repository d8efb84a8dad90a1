"""Per-VIN state of the GB/T 32960 side stays bounded under a flood of invented VINs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import msgspec

from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.anomaly import BatteryAnomalyDetector
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.sink import MemoryAlarmSink, MemoryReportSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle

T0 = 1_700_000_000_000


def _vin(i: int) -> str:
    return f"LFAKE{i:012d}"


_FLOOD = """
from v2xcloud.ev.session import SessionRegistry
registry = SessionRegistry(max_vins=2_000)
vins = [f"LFAKE{i:012d}" for i in range(100_000)]

def fill(lo, hi):
    assert all(registry.is_new(vins[i], 1_700_000_000_000 + 1000 * i) for i in range(lo, hi))
"""


def test_duplicate_check_keeps_at_most_max_vins_and_memory_stays_flat(
    flood_rss: Callable[[str, int, int], tuple[int, int]],
) -> None:
    registry = SessionRegistry(max_vins=2_000)
    for i in range(100_000):
        assert registry.is_new(_vin(i), T0 + 1000 * (i % 86_400))
    assert registry.tracked_vins() == 2_000
    assert registry.stats["dedupe_evicted"] == 98_000
    # the VINs still tracked are the most recent ones, and still de-duplicated
    assert not registry.is_new(_vin(99_999), T0 + 1000 * (99_999 % 86_400))
    assert registry.is_new(_vin(0), T0)  # evicted: checked as a new VIN
    _, grown = flood_rss(_FLOOD, 10_000, 100_000)
    assert grown < 2 << 20, f"90k more VINs grew memory by {grown / (1 << 20):.1f} MB"


def test_a_vin_costs_the_span_it_reported_not_the_whole_window() -> None:
    """One report per VIN used to cost a 24 h bitmap (~11 kB): 120k VINs took 1.2 GB."""
    script = textwrap.dedent(
        """
        import resource
        from v2xcloud.ev.session import SessionRegistry
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        registry = SessionRegistry(max_vins=200_000)  # the per-VIN cost alone, no eviction
        for i in range(120_000):
            registry.is_new(f"LFAKE{i:012d}", 1_700_000_000_000 + 1000 * i)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024, registry.tracked_vins())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    grown_mb, tracked = map(int, out.stdout.split())
    assert tracked == 120_000
    assert grown_mb < 80, f"120k VINs grew the process by {grown_mb} MB"


def test_dedupe_still_exact_after_rebasing_to_an_older_second() -> None:
    registry = SessionRegistry(dedupe_window_s=10)
    vin = _vin(1)
    assert registry.is_new(vin, T0 + 5000)
    assert registry.is_new(vin, T0 + 1000)  # older, within the window: tracked from here
    assert not registry.is_new(vin, T0 + 1000) and not registry.is_new(vin, T0 + 5000)
    assert registry.is_new(vin, T0 + 10_000)  # span 1..10 s: still inside 10 s
    assert not registry.is_new(vin, T0 + 1000)
    assert registry.is_new(vin, T0 + 11_000)  # the window slides past second 1
    assert registry.is_new(vin, T0 + 1000)  # now too old to check
    assert registry.stats["dedupe_too_old"] == 1
    assert not registry.is_new(vin, T0 + 5000)


def test_one_connection_logging_in_as_thousands_of_vins_is_bounded() -> None:
    registry, sink = SessionRegistry(max_vins=300), MemoryReportSink()
    monitor = AlarmMonitor(
        MemoryAlarmSink(),
        clock=lambda: T0,
        detector=BatteryAnomalyDetector(max_vins=200),
        max_keys=100,
    )
    session = PlatformSession(registry, report_sink=sink, monitor=monitor, clock=lambda: T0)
    report = SimulatedVehicle(_vin(0), seed=3, start_ms=T0).step()
    for i in range(2_000):
        vin = _vin(i)
        login = VehicleLogin(at_ms=T0, serial=1, iccid="8986")
        assert decode(session.handle(encode(Message(command=0x01, vin=vin, body=login)))[0])
        body = msgspec.structs.replace(report, vin=vin)
        ack = decode(session.handle(encode(Message(command=0x02, vin=vin, body=body)))[0])
        assert ack.response == 0x01
    assert len(sink.reports) == 2_000  # every report stored: eviction never loses data
    assert registry.tracked_vins() == 300 and registry.stats["dedupe_evicted"] == 1_700
    assert monitor.detector.tracked_vins() == 200
    assert registry.stats["alarm_state_evicted"] == monitor.evicted >= 1_800
    assert len(registry.active) == 1  # one connection holds one VIN at a time
