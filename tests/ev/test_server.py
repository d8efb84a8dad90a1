"""The TCP server end to end on 127.0.0.1 (ephemeral ports, every wait bounded)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.fleet import run_fleet
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import CallbackAlarmSink, MemoryReportSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvOperatorAlarm

VIN = "LTEST000000000001"


@contextlib.asynccontextmanager
async def _server(
    **kwargs: object,
) -> AsyncIterator[tuple[Gb32960Server, MemoryReportSink, list[tuple[float, EvOperatorAlarm]]]]:
    sink = MemoryReportSink()
    alarms: list[tuple[float, EvOperatorAlarm]] = []
    server = Gb32960Server(
        report_sink=sink,
        alarm_sink=CallbackAlarmSink(lambda a: alarms.append((time.perf_counter(), a))),
        **kwargs,
    )  # type: ignore[arg-type]
    await server.start()
    try:
        yield server, sink, alarms
    finally:
        await server.close()


async def _read_reply(reader: asyncio.StreamReader) -> Message:
    header = await asyncio.wait_for(reader.readexactly(24), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(header[22:24], "big") + 1), 5)
    return decode(header + rest)


async def _login(port: int, vin: str = VIN) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        encode(
            Message(
                command=0x01,
                vin=vin,
                body=VehicleLogin(at_ms=1_700_000_000_000, serial=1, iccid="8986"),
            )
        )
    )
    assert (await _read_reply(reader)).response == 0x01
    return reader, writer


def _stored_keys(sink: MemoryReportSink) -> list[tuple[str, int]]:
    return [(r.vin, r.collected_at_ms) for r in sink.reports]


def test_disconnect_and_resend_loses_nothing_duplicates_nothing() -> None:
    async def scenario() -> None:
        async with _server() as (server, sink, _):
            faults = {
                0: FaultPlan(disconnect_at_s=5, offline_s=4),
                2: FaultPlan(disconnect_at_s=12, offline_s=2),
            }
            result = await run_fleet(
                port=server.port, vehicles=4, duration_s=25, period_s=0.02, faults=faults
            )
            assert result.errors == 0 and result.reconnects == 2 and result.resent >= 6
            expected = sorted((vin, t) for vin, ts in result.collected_at_ms.items() for t in ts)
            stored = _stored_keys(sink)
            assert len(stored) == len(set(stored)), "a report was stored twice"
            assert sorted(stored) == expected, "a report was lost"
            assert server.stats["command:0x03"] >= 6

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_thermal_runaway_raises_alarm_within_one_second() -> None:
    async def scenario() -> None:
        async with _server() as (server, _, alarms):
            reader, writer = await _login(server.port)
            car = SimulatedVehicle(
                VIN, seed=5, start_ms=1_700_000_000_000, faults=FaultPlan(thermal_runaway_at_s=4)
            )
            sent_at = 0.0
            for _ in range(6):
                report = car.step()
                sent_at = time.perf_counter()
                writer.write(encode(Message(command=0x02, vin=VIN, body=report)))
                assert (await _read_reply(reader)).response == 0x01
                if report.alarm is not None and report.alarm.max_level == 3:
                    break
            deadline = sent_at + 1.0
            while (
                not any(a.kind == "vehicle_alarm" for _, a in alarms)
                and time.perf_counter() < deadline
            ):
                await asyncio.sleep(0.005)
            first = next((t, a) for t, a in alarms if a.kind == "vehicle_alarm")
            assert first[0] - sent_at < 1.0
            assert first[1].level == 3 and first[1].raised_at_ms - first[1].received_at_ms < 1000
            kinds = {a.kind for _, a in alarms}
            assert "anomaly:temp_rise" in kinds
            writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


async def _abuse(port: int, payload: bytes) -> bool:
    """Send ``payload`` in chunks; True if the server closed the connection on us."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(0, len(payload), 65536):
            writer.write(payload[i : i + 65536])
            await writer.drain()
        await asyncio.wait_for(reader.read(), 10)
        return True
    except (ConnectionError, OSError):
        return True
    finally:
        writer.close()


def test_garbage_clients_are_cut_off_without_affecting_others() -> None:
    rng = random.Random(7)
    print("garbage seed 7")

    async def scenario() -> None:
        async with _server(idle_timeout_s=1.0) as (server, sink, _):
            fleet = asyncio.create_task(
                run_fleet(port=server.port, vehicles=3, duration_s=40, period_s=0.03)
            )
            abusers = [
                _abuse(server.port, rng.randbytes(2_000_000)),
                _abuse(server.port, b"#" * 10_000_000),
                _abuse(
                    server.port,
                    b"##" + b"\x02\xfe" + VIN.encode() + b"\x01\xff\xf0" + bytes(10_000_000),
                ),
            ]
            closed = await asyncio.gather(*abusers)
            silent_r, silent_w = await asyncio.open_connection("127.0.0.1", server.port)
            assert await asyncio.wait_for(silent_r.read(), 5) == b""  # idle timeout
            silent_w.close()
            result = await fleet
            assert all(closed)
            assert result.errors == 0 and result.acked == 120 and len(sink.reports) == 120
            assert server.stats["cut_off"] >= 3 and server.stats["idle_timeouts"] >= 1

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_duplicate_vin_is_refused_and_the_live_connection_kept() -> None:
    async def scenario() -> None:
        async with _server() as (server, sink, _):
            old_r, old_w = await _login(server.port)
            new_r, new_w = await asyncio.open_connection("127.0.0.1", server.port)
            login = VehicleLogin(at_ms=1_700_000_000_000, serial=2, iccid="8986")
            new_w.write(encode(Message(command=0x01, vin=VIN, body=login)))
            assert (await _read_reply(new_r)).response == 0x03  # VIN duplicate
            assert await asyncio.wait_for(new_r.read(), 5) == b""  # and closed
            report = SimulatedVehicle(VIN, seed=1, start_ms=1_700_000_000_000).step()
            old_w.write(encode(Message(command=0x02, vin=VIN, body=report)))
            assert (await _read_reply(old_r)).response == 0x01
            assert server.stats["duplicate_vin"] == 1 and len(sink.reports) == 1
            old_w.close()
            new_w.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_frames_split_and_coalesced_across_reads() -> None:
    async def scenario() -> None:
        async with _server() as (server, sink, _):
            reader, writer = await _login(server.port)
            car = SimulatedVehicle(VIN, seed=2, start_ms=1_700_000_000_000)
            frames = b"".join(
                encode(Message(command=0x02, vin=VIN, body=car.step())) for _ in range(5)
            )
            for i in range(0, len(frames), 7):
                writer.write(frames[i : i + 7])
                await writer.drain()
            replies = [await _read_reply(reader) for _ in range(5)]
            assert [r.response for r in replies] == [1] * 5 and len(sink.reports) == 5
            writer.write(b"noise" + encode(Message(command=0x07, vin=VIN)) * 3)
            assert [(await _read_reply(reader)).command for _ in range(3)] == [7, 7, 7]
            writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzzed_frames_never_break_the_server(seed: int) -> None:
    rng = random.Random(seed)
    print(f"server fuzz seed {seed}")

    async def scenario() -> None:
        async with _server() as (server, _sink, _):
            _reader, writer = await _login(server.port)
            car = SimulatedVehicle(VIN, seed=seed, start_ms=1_700_000_000_000)
            for _ in range(200):
                frame = bytearray(encode(Message(command=0x02, vin=VIN, body=car.step())))
                for _ in range(rng.randrange(0, 4)):
                    frame[rng.randrange(len(frame))] = rng.randrange(256)
                writer.write(
                    bytes(frame[: rng.randrange(len(frame) + 1)])
                    if rng.random() < 0.2
                    else bytes(frame)
                )
            await writer.drain()
            writer.close()
            good_r, good_w = await _login(server.port, "LGOOD000000000001")
            report = msgspec.structs.replace(car.step(), vin="LGOOD000000000001")
            good_w.write(encode(Message(command=0x02, vin="LGOOD000000000001", body=report)))
            assert (await _read_reply(good_r)).response == 0x01
            assert server.stats["handler_errors"] == 0
            good_w.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_connections_past_the_limit_are_closed_and_counted() -> None:
    async def scenario() -> None:
        async with _server(max_connections=2) as (server, _, _):
            first = await _login(server.port, "LTEST000000000001")
            second = await _login(server.port, "LTEST000000000002")
            for _ in range(5):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
                writer.close()
            assert server.stats["connections_refused"] == 5
            assert server.stats["connections"] == 2
            first[1].close()  # one leaves: a new terminal is served again
            await asyncio.sleep(0.2)
            third = await _login(server.port, "LTEST000000000003")
            for _, writer in (second, third):
                writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_close_ends_every_connection_handler_before_it_returns() -> None:
    """A handler still closing its connection when ``close`` returns is a task the event loop
    destroys pending at shutdown (and its counters may change after the caller read them)."""

    async def run() -> list[asyncio.Task[object]]:
        server = Gb32960Server(report_sink=MemoryReportSink())
        await server.start()
        clients = [await _login(server.port, vin=f"LTEST00000000000{i}") for i in range(3)]
        await server.close()
        pending = [
            t
            for t in asyncio.all_tasks()
            if not t.done() and getattr(t.get_coro(), "__name__", "") == "_handle"
        ]
        for _, writer in clients:
            writer.close()
        return pending

    assert asyncio.run(run()) == []
