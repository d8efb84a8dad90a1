"""EV terminals are devices: the attacks of issue 14 against a real server on 127.0.0.1.

Only registered VINs log in, each with its own credential (an AES-128 login secret or its
registered address); a second login for a live VIN is refused and the real terminal keeps
reporting (the forged thermal-runaway report raises no alarm); the platform login checks user
and hashed password; a flooding client is cut off while another terminal's reports all arrive.
Every refusal is counted, dead-lettered (``bad_credential``) and audited.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.ev.access import (
    StaticDirectory,
    TerminalAccess,
    TerminalCredential,
    encrypt_data_unit,
    hash_password,
    verify_password,
)
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import PlatformLogin, VehicleLogin, write_body
from v2xcloud.ev.fleet import run_fleet, vin_for
from v2xcloud.ev.frame import Encryption, Response, encode_frame
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import CallbackAlarmSink, MemoryReportSink
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model import DeadLetter, DropReason
from v2xcloud.model.ev import EvOperatorAlarm
from v2xcloud.runtime.clock import ManualClock
from v2xcloud.store import DuckDbStore
from v2xcloud.store.audit import AuditTrail

T0 = 1_700_000_000_000
REAL = "LREAL000000000001"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
OTHER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100")


@dataclass
class Rig:
    server: Gb32960Server
    sink: MemoryReportSink
    alarms: list[EvOperatorAlarm]
    letters: list[DeadLetter]
    audit: AuditTrail
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))


@contextlib.asynccontextmanager
async def _rig(terminals: list[TerminalCredential], **kwargs: object) -> AsyncIterator[Rig]:
    sink, alarms, letters = MemoryReportSink(), [], []  # type: ignore[var-annotated]
    store = DuckDbStore(data_dir=None)
    audit = AuditTrail(store)
    clock = ManualClock(T0)
    access = TerminalAccess(
        StaticDirectory(terminals),
        platform_accounts={"forwarder": hash_password("s3cret-pass")},
        dead_letter=letters.append,
        audit=audit,
    )
    server = Gb32960Server(
        report_sink=sink,
        alarm_sink=CallbackAlarmSink(alarms.append),
        access=access,
        dead_letter=letters.append,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    await server.start()
    try:
        yield Rig(server, sink, alarms, letters, audit, clock)
    finally:
        await server.close()
        store.close()


async def _reply(reader: asyncio.StreamReader) -> Message:
    header = await asyncio.wait_for(reader.readexactly(24), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(header[22:24], "big") + 1), 5)
    return decode(header + rest)


def _login(vin: str, *, key: bytes | None = None, at_ms: int = T0, serial: int = 1) -> bytes:
    login = VehicleLogin(at_ms=at_ms, serial=serial, iccid="89860000000000000001")
    if key is None:
        return encode(Message(command=0x01, vin=vin, body=login))
    data = encrypt_data_unit(write_body(login), key)
    return encode_frame(command=0x01, vin=vin, data=data, encryption=Encryption.AES128)


async def _connect_and_login(
    port: int, frame: bytes
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame)
    return (await _reply(reader)).response, reader, writer


async def _is_closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 5) == b""


def _refusals(rig: Rig) -> list[str]:
    rig.audit.flush()
    return [e.detail["why"] for e in rig.audit.entries(action="ev.login_refused")]


def test_unregistered_vin_refused_counted_dead_lettered_audited() -> None:
    async def scenario() -> None:
        async with _rig([TerminalCredential(vin=REAL, secret=KEY)]) as rig:
            flag, reader, writer = await _connect_and_login(rig.server.port, _login(vin_for(9)))
            assert flag == Response.VIN_UNKNOWN and await _is_closed(reader)
            writer.close()
            assert rig.server.stats["login_refused:unknown_vin"] == 1
            assert [(d.reason, d.source) for d in rig.letters] == [
                (DropReason.BAD_CREDENTIAL, "gb32960:127.0.0.1")
            ]
            assert _refusals(rig) == ["unknown_vin"] and rig.audit.verify().is_ok

    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (_login(REAL, key=OTHER_KEY), "wrong_secret"),
        (_login(REAL), "not_encrypted"),
        (_login(REAL, key=KEY, at_ms=T0 - 3_600_000), "stale"),
    ],
    ids=["wrong-secret", "plain-text", "stale"],
)
def test_wrong_or_missing_secret_refused(frame: bytes, why: str) -> None:
    async def scenario() -> None:
        async with _rig([TerminalCredential(vin=REAL, secret=KEY)]) as rig:
            flag, reader, writer = await _connect_and_login(rig.server.port, frame)
            assert flag == Response.ERROR and await _is_closed(reader)
            writer.close()
            assert rig.server.stats[f"login_refused:{why}"] == 1 and _refusals(rig) == [why]
            assert rig.letters[0].reason is DropReason.BAD_CREDENTIAL and not rig.sink.reports

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_right_secret_logs_in_and_a_replayed_login_is_refused() -> None:
    async def scenario() -> None:
        async with _rig([TerminalCredential(vin=REAL, secret=KEY)]) as rig:
            captured = _login(REAL, key=KEY)
            flag, _, writer = await _connect_and_login(rig.server.port, captured)
            assert flag == Response.SUCCESS
            writer.close()
            await asyncio.sleep(0.2)  # the server sees the connection end
            flag, _, writer = await _connect_and_login(rig.server.port, captured)
            assert flag == Response.ERROR and _refusals(rig) == ["replayed"]
            writer.close()
            flag, _, writer = await _connect_and_login(
                rig.server.port, _login(REAL, key=KEY, serial=2)
            )
            assert flag == Response.SUCCESS
            writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_address_bound_terminal_and_no_credential() -> None:
    terminals = [
        TerminalCredential(vin=vin_for(1), addresses=("127.0.0.0/8",)),
        TerminalCredential(vin=vin_for(2), addresses=("10.9.9.9",)),
        TerminalCredential(vin=vin_for(3)),  # registered, but with no credential
        TerminalCredential(vin=vin_for(4), addresses=("127.0.0.1",), is_enabled=False),
    ]

    async def scenario() -> None:
        async with _rig(terminals) as rig:
            flags = []
            for i in (1, 2, 3, 4):
                flag, _, writer = await _connect_and_login(rig.server.port, _login(vin_for(i)))
                flags.append(flag)
                writer.close()
            assert flags == [Response.SUCCESS, Response.ERROR, Response.ERROR, Response.ERROR]
            assert _refusals(rig) == ["wrong_address", "no_credential", "disabled"]

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_attacker_cannot_evict_the_real_terminal_nor_raise_alarms() -> None:
    """The attack of issue 14: log in as a live vehicle's VIN, then send a forged
    thermal-runaway report. Refused; no alarm; the real terminal loses nothing."""

    async def scenario() -> None:
        async with _rig([TerminalCredential(vin=REAL, secret=KEY)]) as rig:
            flag, real_r, real_w = await _connect_and_login(rig.server.port, _login(REAL, key=KEY))
            assert flag == Response.SUCCESS
            honest = SimulatedVehicle(REAL, seed=3, start_ms=T0)
            forged_car = SimulatedVehicle(
                REAL, seed=4, start_ms=T0 + 500_000, faults=FaultPlan(thermal_runaway_at_s=1)
            )
            forged = [forged_car.step() for _ in range(5)]
            assert forged[-1].alarm is not None and forged[-1].alarm.max_level == 3
            attacks = [_login(REAL), _login(REAL, key=OTHER_KEY), _login(REAL, key=KEY, serial=9)]
            for attempt in attacks:
                reader, writer = await asyncio.open_connection("127.0.0.1", rig.server.port)
                # the login and the forged reports in one write, as a fast attacker would
                writer.write(
                    attempt
                    + b"".join(encode(Message(command=0x02, vin=REAL, body=r)) for r in forged)
                )
                assert (await _reply(reader)).response in (Response.ERROR, Response.VIN_DUPLICATE)
                assert await _is_closed(reader)
                writer.close()
                for _ in range(3):  # the real terminal keeps reporting meanwhile
                    real_w.write(encode(Message(command=0x02, vin=REAL, body=honest.step())))
                    assert (await _reply(real_r)).response == Response.SUCCESS
            real_w.close()
            assert not rig.alarms, rig.alarms
            assert len(rig.sink.reports) == 9
            assert all(r.collected_at_ms < T0 + 100_000 for r in rig.sink.reports)
            assert _refusals(rig) == ["not_encrypted", "wrong_secret", "duplicate_vin"]
            assert rig.server.stats["duplicate_vin"] == 1

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_platform_login_checks_user_and_password() -> None:
    def frame(user: str, password: str) -> bytes:
        body = PlatformLogin(at_ms=T0, serial=1, user=user, password=password, encryption=1)
        return encode(Message(command=0x05, vin="PLATFORM00000001X", body=body))

    async def scenario() -> None:
        async with _rig([]) as rig:
            results = []
            for user, password in [
                ("forwarder", "s3cret-pass"),
                ("forwarder", "wrong"),
                ("nobody", "s3cret-pass"),
            ]:
                flag, _, writer = await _connect_and_login(rig.server.port, frame(user, password))
                results.append(flag)
                writer.close()
            assert results == [Response.SUCCESS, Response.ERROR, Response.ERROR]
            assert _refusals(rig) == ["wrong_password", "wrong_password"]
            assert rig.server.stats["platform_logins"] == 1
            for _ in range(4):  # past 5 failures a minute the address is refused unchecked
                _, _, writer = await _connect_and_login(rig.server.port, frame("x", "y"))
                writer.close()
            flag, _, writer = await _connect_and_login(
                rig.server.port, frame("forwarder", "s3cret-pass")
            )
            writer.close()
            assert flag == Response.ERROR and _refusals(rig)[-1] == "too_many_failures"

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_flooding_client_cut_off_while_another_terminal_loses_nothing() -> None:
    vins = [vin_for(i) for i in range(3)]
    terminals = [TerminalCredential(vin=v, secret=KEY) for v in vins]
    terminals.append(TerminalCredential(vin=REAL, secret=OTHER_KEY))

    async def flood(port: int) -> bool:
        flag, reader, writer = await _connect_and_login(port, _login(REAL, key=OTHER_KEY))
        assert flag == Response.SUCCESS
        heartbeat = encode(Message(command=0x07, vin=REAL))
        try:
            for _ in range(200):
                writer.write(heartbeat * 500)
                await writer.drain()
            await asyncio.wait_for(reader.read(), 5)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
        return True

    async def scenario() -> None:
        async with _rig(terminals, max_frames_per_s=50.0, frame_burst=200) as rig:
            fleet = asyncio.create_task(
                run_fleet(
                    port=rig.server.port,
                    vehicles=3,
                    duration_s=20,
                    period_s=0.05,
                    start_ms=T0,
                    secrets=dict.fromkeys(vins, KEY),
                )
            )
            assert await flood(rig.server.port)
            result = await fleet
            assert result.errors == 0 and result.acked == 60 and len(rig.sink.reports) == 60
            assert rig.server.stats["flood_cut_off"] == 1
            assert [d.reason for d in rig.letters] == [DropReason.RATE_LIMITED]
            # the flooder's VIN is banned for a while: its next login (valid) is refused
            flag, _, writer = await _connect_and_login(
                rig.server.port, _login(REAL, key=OTHER_KEY, serial=2)
            )
            writer.close()
            assert flag == Response.ERROR and _refusals(rig) == ["flood_ban"]

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_connections_per_address_bounded() -> None:
    async def scenario() -> None:
        async with _rig([], max_connections_per_address=3) as rig:
            conns = [await asyncio.open_connection("127.0.0.1", rig.server.port) for _ in range(5)]
            closed = []
            for reader, _ in conns:
                try:
                    closed.append(await asyncio.wait_for(reader.read(), 0.5) == b"")
                except TimeoutError:
                    closed.append(False)
            assert closed.count(True) == 2
            assert rig.server.stats["connections_refused_per_address"] == 2
            for _, writer in conns:
                writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_password_hashes() -> None:
    stored = hash_password("pw")
    assert stored.startswith("pbkdf2_sha256$") and "pw" not in stored.split("$")[-1]
    assert verify_password("pw", stored) and not verify_password("pW", stored)
    assert hash_password("pw") != stored  # salted
    with pytest.raises(ConfigError, match="pbkdf2"):
        verify_password("pw", "plain-text")


def test_refusal_and_flood_logs_are_throttled(caplog: pytest.LogCaptureFixture) -> None:
    """However many refusals an attacker causes, one record a minute per reason."""
    import logging

    from v2xcloud.ev._throttle import LogThrottle

    clock = [0.0]
    throttle = LogThrottle(logging.getLogger("t"), every_s=60.0, monotonic=lambda: clock[0])
    with caplog.at_level(logging.INFO, logger="t"):
        logged = [throttle.log("unknown_vin", logging.INFO, "refused %d", i) for i in range(1000)]
        clock[0] = 61.0
        throttle.log("unknown_vin", logging.INFO, "refused %d", 1000)
    assert sum(logged) == 1 and len(caplog.records) == 2
    assert "999 more since the last record" in caplog.records[1].getMessage()

    async def scenario() -> None:
        async with _rig([]) as rig:
            for _ in range(30):
                _, _, writer = await _connect_and_login(rig.server.port, _login(vin_for(7)))
                writer.close()
            assert rig.server.stats["login_refused:unknown_vin"] == 30

    with caplog.at_level(logging.INFO, logger="v2xcloud.ev.access"):
        caplog.clear()
        asyncio.run(asyncio.wait_for(scenario(), 30))
    assert len([r for r in caplog.records if "login refused" in r.getMessage()]) == 1
