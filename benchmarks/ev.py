"""GB/T 32960 benchmarks: decode throughput on one core, and a fleet through the TCP server.

Usage::

    .venv/bin/python benchmarks/ev.py                  # both parts, 1000 terminals, 20 s
    .venv/bin/python benchmarks/ev.py --vehicles 200 --duration 10 --skip-decode

Part 1 decodes the real reference frames (``../shared/reference/gb32960``, when present) and
simulated 96-cell reports in a loop and prints frames/s. Part 2 starts ``v2xcloud gb32960
serve`` in a subprocess (its own core) and runs N simulated terminals at 1 Hz in this process,
printing ack latency p50/p99 (measured by the terminals: write -> ack received) and the
server's counters. The machine is shared, so figures vary from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.fleet import run_fleet
from v2xcloud.ev.vehicle_sim import SimulatedVehicle

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "gb32960" / "frames.json"


def _frames() -> list[bytes]:
    frames = []
    if REFERENCE.is_file():
        frames += [
            bytes.fromhex(f["hex"]) for f in json.loads(REFERENCE.read_text()) if f["bcc_valid"]
        ]
    car = SimulatedVehicle("LBENCH00000000001", seed=1, start_ms=1_700_000_000_000)
    frames += [encode(Message(command=0x02, vin=car.vin, body=car.step())) for _ in range(50)]
    return frames


def bench_decode(seconds: float = 3.0) -> None:
    """Print decoded frames/s and MB/s on this core."""
    frames = _frames()
    n = size = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for frame in frames:
            decode(frame)
        n += len(frames)
        size += sum(map(len, frames))
    elapsed = time.perf_counter() - start
    print(
        f"decode: {n / elapsed:,.0f} frames/s ({size / elapsed / 1e6:.1f} MB/s, "
        f"mean frame {size / n:.0f} B, {len(frames)} distinct frames)"
    )
    msgs = [decode(f) for f in frames]
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 2:
        for m in msgs:
            encode(m)
        n += len(msgs)
    print(f"encode: {n / (time.perf_counter() - start):,.0f} frames/s")


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _start_server(duration_s: float, reports: Path) -> tuple[subprocess.Popen[str], int]:
    cmd = [
        sys.executable,
        "-m",
        "v2xcloud",
        "gb32960",
        "serve",
        "--port",
        "0",
        "--duration",
        str(duration_s),
        "--reports",
        str(reports),
        "--alarms",
        str(reports.with_suffix(".alarms")),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, int(match.group(1))


def bench_fleet(vehicles: int, duration_s: int) -> None:
    """Run ``vehicles`` terminals at 1 Hz for ``duration_s`` s against a server subprocess."""
    _raise_fd_limit(2 * vehicles + 256)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = _start_server(2 * duration_s + 60, Path(tmp) / "reports.jsonl")
        started, client_cpu = time.perf_counter(), time.process_time()
        result = asyncio.run(
            run_fleet(port=port, vehicles=vehicles, duration_s=duration_s, period_s=1.0)
        )
        wall, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
        proc.send_signal(signal.SIGINT)  # the server prints its counters on the way out
        _, err = proc.communicate(timeout=30)
        stored = (Path(tmp) / "reports.jsonl").read_bytes().count(b"\n")
    lat = sorted(result.ack_latencies_ms)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(
        f"fleet: {vehicles} terminals x {duration_s} s at 1 Hz in {wall:.1f} s wall: "
        f"{result.reports} reports, {result.acked} acked, {stored} stored, {result.errors} errors"
    )
    print(
        f"ack latency (ms): p50 {p(0.5):.2f}  p90 {p(0.9):.2f}  p99 {p(0.99):.2f}  max {lat[-1]:.2f}"
    )
    print(
        f"client CPU {client_cpu:.1f} s in {wall:.1f} s; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores (shared machine)"
    )
    stats_line = next((s for s in err.splitlines() if s.startswith("{")), "{}")
    print(f"server counters: {stats_line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--skip-fleet", action="store_true")
    args = parser.parse_args()
    if not args.skip_decode:
        bench_decode()
    if not args.skip_fleet:
        bench_fleet(args.vehicles, args.duration)


if __name__ == "__main__":
    main()
