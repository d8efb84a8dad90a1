"""The EV server's isolation boundaries are visible (logged once, counted) and its time is
the injected clock, never the wall clock."""

from __future__ import annotations

import asyncio
import logging

import pytest

from v2xcloud.ev._wire import time_bytes
from v2xcloud.ev.alarms import AlarmMonitor
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import CallbackAlarmSink, MemoryReportSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvOperatorAlarm, EvReport
from v2xcloud.runtime import ManualClock

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000
PLATFORM_NOW = 2_000_000_000_000  # 2033: far from the wall clock and the vehicle's clock


async def _reply(reader: asyncio.StreamReader) -> Message:
    header = await asyncio.wait_for(reader.readexactly(24), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(header[22:24], "big") + 1), 5)
    return decode(header + rest)


async def _login(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    login = VehicleLogin(at_ms=T0, serial=1, iccid="8986")
    writer.write(encode(Message(command=0x01, vin=VIN, body=login)))
    assert (await _reply(reader)).response == 0x01
    return reader, writer


class _DiskFull(MemoryReportSink):
    def write(self, report: EvReport) -> None:
        raise OSError(28, "No space left on device")


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "boundary")]


def test_a_failing_report_sink_is_answered_with_error_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        server = Gb32960Server(report_sink=_DiskFull(), flush_interval_s=0)
        await server.start()
        try:
            reader, writer = await _login(server.port)
            car = SimulatedVehicle(VIN, seed=1, start_ms=T0)
            for _ in range(3):
                writer.write(encode(Message(command=0x02, vin=VIN, body=car.step())))
                assert (await _reply(reader)).response == 0x02  # error: not stored
            writer.close()
        finally:
            await server.close()
        assert server.errors == {"ev:report_sink": 3}
        assert server.stats["sink_errors"] == 3

    with caplog.at_level(logging.DEBUG, logger="v2xcloud.ev"):
        asyncio.run(asyncio.wait_for(scenario(), 30))
    (record,) = _ours(caplog)
    assert record.name == "v2xcloud.ev.session" and record.levelno == logging.ERROR
    assert record.exc_info is not None and "No space left" in record.getMessage()


class _BuggyMonitor(AlarmMonitor):
    def on_report(self, report: EvReport, *, received_at_ms: int) -> None:
        raise ZeroDivisionError("monitor bug")


def test_a_handler_bug_closes_only_that_connection_and_is_logged_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        sink = MemoryReportSink()
        monitor = _BuggyMonitor(CallbackAlarmSink(lambda a: None), clock=lambda: 0)
        server = Gb32960Server(report_sink=sink, monitor=monitor, flush_interval_s=0)
        await server.start()
        try:
            for i in range(2):  # the server keeps accepting after a handler crashed
                reader, writer = await _login(server.port)
                report = SimulatedVehicle(VIN, seed=2, start_ms=T0 + 60_000 * i).step()
                writer.write(encode(Message(command=0x02, vin=VIN, body=report)))
                assert await asyncio.wait_for(reader.read(), 5) == b""  # closed on us
                writer.close()
        finally:
            await server.close()
        assert server.errors["ev:handler"] == 2 and server.stats["handler_errors"] == 2
        assert len(sink.reports) == 2  # each stored before the monitor failed

    with caplog.at_level(logging.DEBUG, logger="v2xcloud.ev"):
        asyncio.run(asyncio.wait_for(scenario(), 30))
    handler = [r for r in _ours(caplog) if r.boundary == "ev:handler"]  # type: ignore[attr-defined]
    assert len(handler) == 1 and handler[0].exc_info is not None
    assert (
        handler[0].name == "v2xcloud.ev.server" and "ZeroDivisionError" in handler[0].getMessage()
    )


def test_time_sync_and_alarms_read_the_injected_clock() -> None:
    async def scenario() -> list[EvOperatorAlarm]:
        clock = ManualClock(PLATFORM_NOW)
        alarms: list[EvOperatorAlarm] = []
        server = Gb32960Server(
            report_sink=MemoryReportSink(),
            alarm_sink=CallbackAlarmSink(alarms.append),
            clock=clock,
            flush_interval_s=0,
        )
        await server.start()
        try:
            reader, writer = await _login(server.port)
            writer.write(encode(Message(command=0x08, vin=VIN)))
            sync = await _reply(reader)
            assert sync.response == 0x01
            assert encode(sync)[24:30] == time_bytes(PLATFORM_NOW)
            car = SimulatedVehicle(
                VIN, seed=5, start_ms=T0, faults=FaultPlan(thermal_runaway_at_s=2)
            )
            for _ in range(4):
                clock.advance(1000)
                writer.write(encode(Message(command=0x02, vin=VIN, body=car.step())))
                assert (await _reply(reader)).response == 0x01
            writer.close()
        finally:
            await server.close()
        return alarms

    alarms = asyncio.run(asyncio.wait_for(scenario(), 30))
    runaway = [a for a in alarms if a.kind == "vehicle_alarm"]
    assert runaway, [a.kind for a in alarms]
    window = range(PLATFORM_NOW + 1, PLATFORM_NOW + 4001)
    assert all(a.received_at_ms in window and a.raised_at_ms in window for a in alarms)
