"""UDP gateway: sustained ingest of WSMP + 1609.2 wrapped BSMs over real sockets on 127.0.0.1.

    .venv/bin/python benchmarks/udp.py [--seconds 2] [--rates 2000,5000,10000,20000,40000]

A sender process paces datagrams (a BSM in IEEE 1609.2 unsecuredData inside a WSMP header
with a channel-number extension) at each rate for ``--seconds``; this process runs ``UdpGateway`` on an asyncio
loop and, every 50 ms like a tick, drains the ingress queue through ``gateways.drivers.parse``
(the ingest path's decode to SI models). Per rate it prints what was sent, what the gateway
queued, what the kernel dropped (receive buffer full: the gateway fell behind; from
``/proc/net/udp``), what parsed, and the receiver's CPU time split between the gateway's
datagram handling (socket read, unwrap, queue) and the parsing. The loss column is
sent − queued; "zero loss" rates are the ones where it is 0. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import time

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.base import IngressQueue
from v2xcloud.gateways.drivers import Parsed, parse
from v2xcloud.gateways.ieee1609 import encode_psid
from v2xcloud.gateways.udp import UdpGateway, UdpPort
from v2xcloud.model import DeadLetter
from v2xcloud.twin.testing import bsm_at

SET = MessageSet.CSAE2020


def _datagram() -> bytes:
    bsm = encode_model(
        bsm_at("a1b2c3d4e5f60718", x_m=5.0, y_m=7.0, t_ms=1_000, speed_mps=8.0), message_set=SET
    )
    dot2 = bytes([3, 0x80, len(bsm)]) + bsm
    n_header = bytes([0x0B, 1, 15, 1, 172])  # version 3 + one extension: channel 172
    return n_header + bytes([0]) + encode_psid(0x20) + bytes([len(dot2)]) + dot2


def _sender(port: int, rate: int, seconds: float, datagram: bytes, ready: object) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ready.wait()  # type: ignore[attr-defined]
    per_slice = max(1, rate // 100)  # 10 ms slices
    started = time.perf_counter()
    sent = 0
    while sent < rate * seconds:
        for _ in range(per_slice):
            sock.sendto(datagram, ("127.0.0.1", port))
        sent += per_slice
        lag = started + sent / rate - time.perf_counter()
        if lag > 0:
            time.sleep(lag)
    sock.close()


async def _measure(rate: int, seconds: float, datagram: bytes) -> dict[str, float]:
    queue = IngressQueue(capacity=1_000_000)
    letters: list[DeadLetter] = []
    gw = UdpGateway(queue, dead_letter=letters.append, ports=[UdpPort(port=0, message_type="BSM")])
    await gw.start()
    ready = mp.Event()
    sender = mp.Process(target=_sender, args=(gw.bound["BSM"], rate, seconds, datagram, ready))
    sender.start()
    parsed = parse_cpu = 0.0
    cpu0 = time.process_time()
    ready.set()
    try:
        while sender.is_alive() or len(queue):
            await asyncio.sleep(0.05)
            t = time.process_time()
            for frame in queue.drain():
                if isinstance(parse(frame, message_set=SET, shape="uper"), Parsed):
                    parsed += 1
            parse_cpu += time.process_time() - t
        quiet_since, last = time.monotonic(), -1
        while time.monotonic() - quiet_since < 0.5:  # until the socket has nothing left
            await asyncio.sleep(0.05)
            for frame in queue.drain():
                parsed += isinstance(parse(frame, message_set=SET, shape="uper"), Parsed)
            seen = gw.stats().get("datagrams_in", 0)
            if seen != last:
                quiet_since, last = time.monotonic(), seen
    finally:
        sender.join()
        await gw.stop()
    stats = gw.stats()
    total_cpu = time.process_time() - cpu0
    return {
        "sent": rate * seconds,
        "queued": stats.get("frames_in", 0),
        "kernel_drops": stats.get("kernel_drops", 0),
        "dead": len(letters),
        "parsed": parsed,
        "gw_cpu": total_cpu - parse_cpu,
        "parse_cpu": parse_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rates", default="2000,5000,10000,20000,40000")
    args = parser.parse_args()
    datagram = _datagram()
    print(f"datagram: {len(datagram)} bytes (WSMP + 1609.2 unsecuredData + UPER BSM)")
    print(
        f"{'rate/s':>8} {'sent':>8} {'queued':>8} {'lost':>7} {'kernel':>7} {'parsed':>8} "
        f"{'gw µs/dg':>9} {'parse µs':>9}"
    )
    for rate in (int(r) for r in args.rates.split(",")):
        r = asyncio.run(_measure(rate, args.seconds, datagram))
        n = max(r["queued"], 1)
        print(
            f"{rate:>8} {r['sent']:>8.0f} {r['queued']:>8.0f} {r['sent'] - r['queued']:>7.0f} "
            f"{r['kernel_drops']:>7.0f} {r['parsed']:>8.0f} {r['gw_cpu'] / n * 1e6:>9.1f} "
            f"{r['parse_cpu'] / n * 1e6:>9.1f}"
        )


if __name__ == "__main__":
    main()
