"""What batching frames into fewer backbone messages would save: the server's CPU per frame
stored and delivered, and the reading client's, with 1, 4, 8 and 16 frames per message.

Usage::

    .venv/bin/python benchmarks/backbone_batching.py [--frames 24000] [--batches 1,4,8,16]

One ``nats-server`` on 127.0.0.1 (R1, as ``benchmarks/cluster.py``), the frame stream as the
contract defines it. For each batch size ``k``, in the same run: ``--frames`` BSM-sized
frames (64 bytes) published as ``frames / k`` messages on frame subjects (cells spread over
256 subjects), each with the contract's two headers (``gateways.nats.frame_headers``) and the
frames length-prefixed in its payload; the stream is then read by one ack-none consumer
through the worker's own pull (``ContinuousPull`` on ``BackboneClient``), the handler
splitting each payload back into its frames. Printed per frame: the server's CPU while
storing and while delivering (``/proc``), and this client's CPU while reading (the nats
client, the pull and the split; no decoding).

Why: on a 2-core machine one worker and the server share the cores, so with two workers the
wall ratio is at most ``2 w / (w + s)`` (``w`` a worker's CPU per frame, ``s`` the server's per
frame delivered): 1.7x needs ``s <= 0.18 w``. The frames' batching by a gateway (a tile's cell's
frames of 20-50 ms in one message) is the design that would cut ``s`` and the client's
per-message cost; this measures by how much before it is built. Not built: see the report.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _frames_read import read_frames
from v2xcloud.gateways.nats import connect, ensure_streams, frame_headers
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.processes import cpu_seconds
from v2xcloud.runtime import backbone


def _split(payload: bytes) -> int:
    """How many length-prefixed frames a batch payload holds (each walked over)."""
    n, at = 0, 0
    while at < len(payload):
        at += 2 + int.from_bytes(payload[at : at + 2], "big")
        n += 1
    return n


async def _run(frames: int, k: int) -> dict[str, float]:
    frame = bytes(range(64))  # a BSM's size
    with NatsCluster(1) as cluster:
        pid = cluster.servers[0].pid
        nc = await connect(cluster.urls, name="batching-bench")
        js = nc.jetstream()
        await ensure_streams(js, backbone.streams(servers=1))
        messages = frames // k
        body = (len(frame).to_bytes(2, "big") + frame) * k
        cpu0 = cpu_seconds(pid)
        for i in range(messages):
            place = f"1321202201021202{i % 256:02x}"[:18]
            subject = backbone.frame_subject("default", place, "bsm")
            headers = frame_headers(
                f"d{i % 5000}", 1_800_000_000_000 + i, body, kind="obu", message_set="csae2020",
                fmt="uper",
            )  # fmt: skip
            await nc.publish(subject, body, headers=headers)
        await nc.flush()
        deadline = time.perf_counter() + 120
        while (await js.stream_info(backbone.FRAMES)).state.messages < messages:
            if time.perf_counter() > deadline:
                raise RuntimeError("the stream did not store the messages within 120 s")
            await asyncio.sleep(0.05)
        cpu1 = cpu_seconds(pid)
        me0 = time.process_time()
        got, _ = await read_frames(nc, "read", expect=messages * k, count=lambda m: _split(m.data))
        me1 = time.process_time()
        cpu2 = cpu_seconds(pid)
        if got < messages * k:
            raise RuntimeError(f"read {got} of {messages * k} frames within 120 s")
        await nc.close()
    n = messages * k
    return {
        "stored_us": (cpu1 - cpu0) / n * 1e6,
        "delivered_us": (cpu2 - cpu1) / n * 1e6,
        "client_us": (me1 - me0) / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24_000)
    parser.add_argument("--batches", default="1,4,8,16")
    args = parser.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]
    results = {k: asyncio.run(_run(args.frames, k)) for k in sizes}
    base = results[sizes[0]]
    print(f"{args.frames} frames of 64 B, one server (R1), CPU us per frame (same run):")
    for k, r in results.items():
        print(
            f"  {k:3d} per message: server storing {r['stored_us']:6.1f}, server delivering "
            f"{r['delivered_us']:6.1f} ({base['delivered_us'] / max(r['delivered_us'], 1e-9):4.1f}x"
            f" less), reading client {r['client_us']:6.1f} "
            f"({base['client_us'] / max(r['client_us'], 1e-9):4.1f}x less)"
        )


if __name__ == "__main__":
    main()
