"""A fleet of simulated GB/T 32960 terminals speaking to a platform over TCP.

Each :class:`Terminal` logs in, sends one real-time report (0x02) per period and waits for its
acknowledgement, stores reports while disconnected and re-sends them (0x03) after logging in
again (store-and-forward), and logs out at the end. Simulated time advances one second per
report whatever the real ``period_s``, so a test can run a minute of traffic in seconds with
distinct collection times.

An injected disconnect (``FaultPlan.disconnect_at_s``) sends that second's report and drops
the connection before reading its ack — so the terminal cannot know whether it was stored,
keeps it for re-sending, and the platform must de-duplicate.

A terminal given a ``secret`` (16 bytes) encrypts its login data unit with it (AES-128, as
``ev.access`` expects). A terminal given a ``sign`` function speaks the 2025 layout and ends
each report with an SM2 signature block (algorithm 1) over the data unit (see
``ev.signature``); ``sign`` maps those bytes to ``r || s`` (``security`` provides it, ``cli``
wires it: ``ev`` holds no keys). A login answered "VIN duplicate" (the platform has not yet noticed the
old connection is gone) is retried a few times with a growing pause, as a real terminal does.

>>> result = asyncio.run(run_fleet(port=32960, vehicles=10, duration_s=5))   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import msgspec

from v2xcloud.ev.access import encrypt_data_unit
from v2xcloud.ev.codec import Message, encode
from v2xcloud.ev.commands import Logout, VehicleLogin, write_body
from v2xcloud.ev.frame import Command, Encryption, Response, encode_frame
from v2xcloud.ev.realtime import encode_report
from v2xcloud.ev.scanner import FrameScanner
from v2xcloud.ev.vehicle_sim import FaultPlan, SimulatedVehicle
from v2xcloud.model.ev import EvReport, EvSignature

__all__ = ["FleetResult", "Terminal", "run_fleet", "vin_for"]

logger = logging.getLogger(__name__)

_LOGIN_ATTEMPTS = 5


def vin_for(index: int) -> str:
    """A 17-character test VIN for terminal ``index``."""
    return f"LSIM{index:013d}"


class FleetResult(msgspec.Struct, kw_only=True):
    """What the fleet sent and how the platform answered; latencies in ms."""

    reports: int = 0
    acked: int = 0
    resent: int = 0
    errors: int = 0
    reconnects: int = 0
    ack_latencies_ms: list[float] = msgspec.field(default_factory=list)
    collected_at_ms: dict[str, list[int]] = msgspec.field(default_factory=dict)


class Terminal:
    """One vehicle terminal; :meth:`run` drives it for ``duration_s`` simulated seconds."""

    def __init__(
        self,
        vehicle: SimulatedVehicle,
        result: FleetResult,
        *,
        host: str,
        port: int,
        period_s: float = 1.0,
        ack_timeout_s: float = 10.0,
        secret: bytes | None = None,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.v, self.result = vehicle, result
        self.secret = secret
        self.sign = sign
        self.layout = 2016 if sign is None else 2025
        self.host, self.port = host, port
        self.period_s, self.ack_timeout_s = period_s, ack_timeout_s
        self.backlog: list[EvReport] = []
        self.serial = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._scanner = FrameScanner()
        self._pending: list[bytes] = []

    def _login_frame(self) -> bytes:
        self.serial += 1
        login = VehicleLogin(
            at_ms=self.v.start_ms + 1000 * self.v.t_s,
            serial=self.serial,
            iccid="89860000000000000000",
            pack_codes=(("PACK0001",),),
        )
        if self.secret is None:
            return self._encode(Command.LOGIN, login)
        data = encrypt_data_unit(write_body(login, layout=self.layout), self.secret)
        return encode_frame(
            command=Command.LOGIN,
            vin=self.v.vin,
            data=data,
            encryption=Encryption.AES128,
            layout=self.layout,
        )

    def _encode(self, command: int, body: EvReport | VehicleLogin | Logout) -> bytes:
        return encode(Message(command=command, vin=self.v.vin, body=body, layout=self.layout))

    def _report_frame(self, command: int, report: EvReport) -> bytes:
        """The report frame, signed over its data unit when the terminal signs."""
        if self.sign is None:
            return self._encode(command, report)
        unsigned = msgspec.structs.replace(report, layout=2025, signature=None)
        sig = self.sign(encode_report(unsigned))
        block = EvSignature(algorithm=1, r=sig[:32], s=sig[32:])
        return self._encode(command, msgspec.structs.replace(unsigned, signature=block))

    async def _connect(self) -> None:
        for attempt in range(1, _LOGIN_ATTEMPTS + 1):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._scanner = FrameScanner()
            self._pending = []
            self._writer.write(self._login_frame())
            await self._writer.drain()
            reply = await asyncio.wait_for(self._read_frame(), self.ack_timeout_s)
            if reply[3] == Response.SUCCESS:
                return
            self._writer.close()
            self._writer = None
            if reply[3] != Response.VIN_DUPLICATE:
                break
            await asyncio.sleep(0.2 * attempt)
        raise ConnectionError(f"{self.v.vin}: login refused by the platform")

    async def _read_frame(self) -> bytes:
        assert self._reader is not None
        while not self._pending:
            chunk = await self._reader.read(4096)
            if not chunk:
                raise ConnectionError("platform closed the connection")
            self._pending += [f for f in self._scanner.feed(chunk) if isinstance(f, bytes)]
        return self._pending.pop(0)

    async def _send_and_wait(self, frame: bytes) -> bool:
        assert self._writer is not None
        sent = time.perf_counter()
        self._writer.write(frame)
        await self._writer.drain()
        reply = await asyncio.wait_for(self._read_frame(), self.ack_timeout_s)
        self.result.ack_latencies_ms.append((time.perf_counter() - sent) * 1000)
        ok = reply[2] == frame[2] and reply[3] == 0x01
        self.result.errors += 0 if ok else 1
        return ok

    async def _send_report(self, report: EvReport, *, resent: bool) -> None:
        cmd = Command.RESENT if resent else Command.REALTIME
        body = msgspec.structs.replace(report, is_resent=resent)
        if await self._send_and_wait(self._report_frame(cmd, body)):
            self.result.acked += 1
            self.result.resent += 1 if resent else 0
        else:
            self.backlog.append(report)

    async def _drop_connection(self, report: EvReport) -> None:
        assert self._writer is not None
        self._writer.write(self._report_frame(Command.REALTIME, report))
        with contextlib.suppress(ConnectionError):  # the fault being injected: expected
            await self._writer.drain()
        self._writer.transport.abort()
        self._writer = None
        self.backlog.append(report)

    async def run(self, duration_s: int) -> None:
        """Log in, report once per period for ``duration_s`` simulated seconds, log out."""
        await self._connect()
        offline_until = -1
        for _ in range(duration_s):
            started = time.perf_counter()
            report = self.v.step()
            self.result.reports += 1
            self.result.collected_at_ms.setdefault(self.v.vin, []).append(report.collected_at_ms)
            if self.v.t_s == self.v.faults.disconnect_at_s and self._writer is not None:
                await self._drop_connection(report)
                offline_until = self.v.t_s + self.v.faults.offline_s
            elif self._writer is None:
                self.backlog.append(report)
                if self.v.t_s >= offline_until:
                    await self._reconnect()
            else:
                await self._send_report(report, resent=False)
            await asyncio.sleep(max(0.0, self.period_s - (time.perf_counter() - started)))
        await self._finish()

    async def _reconnect(self) -> None:
        await self._connect()
        self.result.reconnects += 1
        backlog, self.backlog = self.backlog, []
        for report in backlog:
            await self._send_report(report, resent=True)

    async def _finish(self) -> None:
        if self._writer is None:
            await self._reconnect()
        logout = Logout(at_ms=self.v.start_ms + 1000 * self.v.t_s, serial=self.serial)
        await self._send_and_wait(self._encode(Command.LOGOUT, logout))
        assert self._writer is not None
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except Exception as exc:  # the server closed first: the logout was sent, nothing lost
            logger.debug("fleet %s: connection closed by the server (%s)", self.v.vin, exc)


async def run_fleet(
    *,
    host: str = "127.0.0.1",
    port: int,
    vehicles: int,
    duration_s: int,
    period_s: float = 1.0,
    faults: dict[int, FaultPlan] | None = None,
    start_ms: int | None = None,
    seed: int = 1,
    secrets: dict[str, bytes] | None = None,
    signers: Callable[[str], Callable[[bytes], bytes] | None] | None = None,
) -> FleetResult:
    """Run ``vehicles`` terminals concurrently against ``host:port``; returns what happened.

    ``secrets``: VIN -> the terminal's 16-byte login secret (terminals without one log in
    in plain text). ``signers``: VIN -> the terminal's signing function, or ``None`` for a
    terminal that does not sign (2016 layout).

    Terminals start spread over one period so they do not all send in the same instant.
    """
    result = FleetResult()
    start = start_ms if start_ms is not None else time.time_ns() // 1_000_000
    faults = faults or {}

    async def one(i: int) -> None:
        await asyncio.sleep(period_s * i / max(vehicles, 1))
        v = SimulatedVehicle(
            vin_for(i), seed=seed * 100_003 + i, start_ms=start, faults=faults.get(i)
        )
        secret = (secrets or {}).get(v.vin)
        sign = signers(v.vin) if signers is not None else None
        terminal = Terminal(
            v, result, host=host, port=port, period_s=period_s, secret=secret, sign=sign
        )
        await terminal.run(duration_s)

    outcomes = await asyncio.gather(*(one(i) for i in range(vehicles)), return_exceptions=True)
    result.errors += sum(1 for o in outcomes if isinstance(o, BaseException))
    return result
