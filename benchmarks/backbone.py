"""The gateway tier's hand-off to NATS JetStream: PubAck'd frames per second, R1 against R3.

    .venv/bin/python benchmarks/backbone.py [--frames 20000] [--in-flight 256]

Same run, real ``nats-server`` processes on 127.0.0.1 (``gateways.nats_server``):

1. **publisher**: ``BackbonePublisher`` publishes ``--frames`` BSM-sized frames with the
   contract's headers, each awaiting its PubAck, at most ``--in-flight`` at once, into a
   single server (R1 streams) and into a 3-server cluster (R3: each frame stored on a quorum
   before its ack). Prints frames/s and submit→PubAck latency p50/p99, and the R3/R1 ratio.
2. **ingest path**: ``Ingestor.process`` of real UPER BSMs on the tick's thread, the embedded
   default (scene, no NATS) against the gateway role (validity only, then ``FrameForwarder``
   hands the frame to the publisher: R3), CPU µs per frame on that thread, and the ratio.

Printed, not asserted: the machine is shared and noisy; compare ratios of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.ingest import Ingestor
from v2xcloud.gateways.nats import BackbonePublisher, FrameForwarder, Outgoing, frame_headers
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device, DeviceKind
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.tiles import place_of
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


def _outgoing(i: int) -> Outgoing:
    payload = i.to_bytes(4, "big") * 16  # ~ a BSM's 60-odd bytes
    headers = frame_headers("obu-1", i, payload, kind="obu", message_set="csae2020", fmt="auto")
    return Outgoing(backbone.frame_subject("t", f"{i % 16}", "bsm"), payload, headers)


def _publisher_run(
    urls: list[str], frames: int, in_flight: int, rate_per_s: float | None = None
) -> tuple[float, float, float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def acked(outgoing: Outgoing, seq: int) -> None:
        with lock:
            latencies.append(time.perf_counter() - sent[outgoing.msg_id])

    publisher = BackbonePublisher(
        urls, max_in_flight=in_flight, capacity=10_000, on_acked=acked
    ).start()
    try:
        items = [_outgoing(i) for i in range(frames)]
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            if rate_per_s is not None:  # paced: the latency of one frame, not of a backlog
                pause = t0 + i / rate_per_s - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            sent[item.msg_id] = time.perf_counter()
            while not publisher.submit(item):
                time.sleep(0.001)
        while publisher.waiting:
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
    finally:
        publisher.stop()
    lat = sorted(latencies)
    p99 = lat[int(0.99 * (len(lat) - 1))]
    return len(lat) / elapsed, statistics.median(lat) * 1000, p99 * 1000


def _bsm_frames(n: int) -> list[InboundFrame]:
    now = int(time.time() * 1000)
    out = []
    for i in range(n):
        bsm = bsm_at(f"{i % 500:016x}", x_m=float(i % 300), y_m=5.0, t_ms=now, speed_mps=8.0)
        out.append(
            InboundFrame(
                payload=encode_model(bsm, message_set=MessageSet.CSAE2020),
                device_id="obu-1",
                device_kind=DeviceKind.OBU,
                message_type="BSM",
                transport="inproc",
                channel="bench",
                received_at_ms=now + i,
            )
        )
    return out


def _ingest_run(frames: list[InboundFrame], publisher: BackbonePublisher | None) -> float:
    """CPU µs per frame of ``Ingestor.process`` on this thread."""
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU, rate_limits_per_s={"*": 1e9}))
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    ingest = Ingestor(
        runtime, registry, dead_letter=runtime.dead_letter, run_scene=publisher is None
    )
    if publisher is not None:
        ingest.forward = FrameForwarder(
            publisher,
            dead_letter=runtime.dead_letter,
            place_of=place_of,
            tenant_of=lambda device: "default",
        )
    ingest.limits.allow = lambda *a, **k: True  # type: ignore[method-assign]
    t0 = time.thread_time()
    for frame in frames:
        ingest.process(frame)
    cpu = time.thread_time() - t0
    if publisher is not None:
        while publisher.waiting:
            time.sleep(0.002)
    return cpu / len(frames) * 1e6


def main() -> None:
    """Run both measurements and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--in-flight", type=int, default=256)
    args = ap.parse_args()
    with NatsCluster(1) as one, NatsCluster(3) as three:
        print(f"nats-server {'.'.join(map(str, one.version))}; {args.frames} frames")
        r1 = _publisher_run(one.urls, args.frames, args.in_flight)
        r3 = _publisher_run(three.urls, args.frames, args.in_flight)
        for name, (rate, p50, _p99) in (("R1 (1 server)", r1), ("R3 (3 servers)", r3)):
            print(
                f"  publisher {name:15s} {rate:8.0f} frames/s as fast as acked (backlog p50 {p50:.0f} ms)"
            )
        print(f"  R3 / R1 throughput: {r3[0] / r1[0]:.2f}")
        paced = 0.5 * min(r1[0], r3[0])
        n = int(paced * 3)
        for name, urls in (("R1", one.urls), ("R3", three.urls)):
            _, p50, p99 = _publisher_run(urls, n, args.in_flight, rate_per_s=paced)
            print(
                f"  paced at {paced:.0f}/s into {name}: submit->PubAck p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            )
        frames = _bsm_frames(min(args.frames, 10_000))
        embedded = _ingest_run(frames, None)
        publisher = BackbonePublisher(three.urls, max_in_flight=args.in_flight).start()
        try:
            gateway = _ingest_run(frames, publisher)
        finally:
            publisher.stop()
        print(f"  ingest, embedded (scene, no NATS): {embedded:6.1f} us CPU per frame")
        print(f"  ingest, gateway role (validate + forward to R3): {gateway:6.1f} us CPU per frame")
        print(f"  gateway / embedded: {gateway / embedded:.2f}")


if __name__ == "__main__":
    main()
