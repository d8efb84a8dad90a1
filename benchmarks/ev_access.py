"""GB/T 32960 access figures: login checks per second, and a fleet's acks with a flooder.

Usage::

    .venv/bin/python benchmarks/ev_access.py                  # 50 terminals, 2 x 8 s per phase
    .venv/bin/python benchmarks/ev_access.py --vehicles 100 --duration 10

Part 1 times ``TerminalAccess``'s checks on this core: a login bound to its address, a login
encrypted under the terminal's secret (AES-128 decrypt + parse + freshness), and a platform
login (PBKDF2-SHA256). Part 2 starts the server (with the access gate, on its own thread and
loop) and runs N terminals at 5 Hz with secret logins, alternately alone and while a flooding
client (a subprocess: logs in with its own valid secret, then writes heartbeats as fast as the
socket takes them, reconnecting whenever it is cut off) attacks, and — the control — while a
subprocess merely burns one core (the flooder's own CPU competes with the server on a small
machine); prints the terminals' ack latency p50/p99 (write -> ack) per phase, acks lost, and
the server's cut-off counters. The machine is shared: compare the phases of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import threading
import time

from v2xcloud.ev.access import (
    StaticDirectory,
    TerminalAccess,
    TerminalCredential,
    encrypt_data_unit,
    hash_password,
)
from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.commands import PlatformLogin, VehicleLogin, write_body
from v2xcloud.ev.fleet import run_fleet, vin_for
from v2xcloud.ev.frame import Encryption, encode_frame
from v2xcloud.ev.server import Gb32960Server
from v2xcloud.ev.sink import MemoryReportSink

KEY = bytes(range(16))
FLOOD_VIN = "LFLOOD00000000001"


def _login_frame(vin: str, at_ms: int, serial: int, key: bytes | None) -> bytes:
    body = VehicleLogin(at_ms=at_ms, serial=serial, iccid="89860000000000000001")
    if key is None:
        return encode(Message(command=0x01, vin=vin, body=body))
    data = encrypt_data_unit(write_body(body), key)
    return encode_frame(command=0x01, vin=vin, data=data, encryption=Encryption.AES128)


def _rate(fn: object, seconds: float = 1.5) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()  # type: ignore[operator]
        n += 1
    return n / (time.perf_counter() - start)


def bench_checks() -> None:
    """Login checks per second on this core."""
    now = int(time.time() * 1000)
    by_address = TerminalAccess(
        StaticDirectory([TerminalCredential(vin=vin_for(0), addresses=("127.0.0.1",))])
    )
    by_secret = TerminalAccess(StaticDirectory([TerminalCredential(vin=vin_for(0), secret=KEY)]))
    plain = decode(_login_frame(vin_for(0), now, 1, None))
    serial = iter(range(1, 10**9))

    def secret_login() -> None:
        msg = decode(_login_frame(vin_for(0), now, next(serial) % 65535 + 1, KEY))
        by_secret._last_login.clear()  # every login counted as fresh
        assert by_secret.vehicle_login(msg, peer="127.0.0.1", now_ms=now).is_accepted

    platform = TerminalAccess(StaticDirectory([]), platform_accounts={"p": hash_password("pw")})
    body = PlatformLogin(at_ms=now, serial=1, user="p", password="pw", encryption=1)
    print(
        f"login checks: by address {_rate(lambda: by_address.vehicle_login(plain, peer='127.0.0.1', now_ms=now)):,.0f}/s, "
        f"by secret (AES-128, incl. decode) {_rate(secret_login):,.0f}/s, "
        f"platform login (PBKDF2) {_rate(lambda: platform.platform_login(body, vin='x', peer='p', now_ms=now), 2.0):,.1f}/s"
    )


def flood(port: int) -> None:
    """Log in as FLOOD_VIN and write heartbeats until cut off; again, until killed."""
    import socket

    beat = encode(Message(command=0x07, vin=FLOOD_VIN)) * 2000
    serial = 0
    while True:
        serial += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(_login_frame(FLOOD_VIN, int(time.time() * 1000), serial, KEY))
                while True:
                    s.sendall(beat)
        except OSError:
            time.sleep(0.01)


def _server_thread(server: Gb32960Server) -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="gb32960", daemon=True)
    thread.start()
    started.wait(10)
    return thread, loop


def _phase(port: int, vehicles: int, duration: int) -> tuple[float, float, int, int]:
    secrets = {vin_for(i): KEY for i in range(vehicles)}
    result = asyncio.run(
        run_fleet(
            port=port, vehicles=vehicles, duration_s=duration * 5, period_s=0.2, secrets=secrets
        )
    )
    lat = sorted(result.ack_latencies_ms)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return statistics.median(lat) if lat else float("nan"), p99, result.acked, result.reports


def bench_flood(vehicles: int, duration: int) -> None:
    """Fleet ack latency alone and under a flooder, alternating, same run."""
    terminals = [TerminalCredential(vin=vin_for(i), secret=KEY) for i in range(vehicles)]
    terminals.append(TerminalCredential(vin=FLOOD_VIN, secret=KEY))
    server = Gb32960Server(
        report_sink=MemoryReportSink(),
        access=TerminalAccess(StaticDirectory(terminals)),
        flush_interval_s=0.0,
    )
    _, loop = _server_thread(server)
    path = [p for p in sys.path if p]
    try:
        for phase in ("quiet", "burn", "flood", "quiet", "burn", "flood"):
            flooder = None
            if phase == "burn":  # the control: a process burning one core, touching nothing
                flooder = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            if phase == "flood":
                code = (
                    f"import sys; sys.path[:0] = {path!r}; "
                    "import importlib.util as u; "
                    f"s = u.spec_from_file_location('b', {__file__!r}); m = u.module_from_spec(s); "
                    f"s.loader.exec_module(m); m.flood({server.port})"
                )
                flooder = subprocess.Popen([sys.executable, "-c", code])
                time.sleep(0.5)
            cut_before = server.stats["flood_cut_off"]
            p50, p99, acked, reports = _phase(server.port, vehicles, duration)
            cut = server.stats["flood_cut_off"] - cut_before
            if flooder is not None:
                flooder.kill()
                flooder.wait(10)
            print(
                f"{phase:5s}: {vehicles} terminals at 5 Hz: ack p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                f"acked {acked}/{reports}; flooder cut off {cut} times"
            )
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


def main() -> None:
    """Run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=50)
    parser.add_argument("--duration", type=int, default=8, help="seconds per phase")
    args = parser.parse_args()
    bench_checks()
    bench_flood(args.vehicles, args.duration)


if __name__ == "__main__":
    main()
