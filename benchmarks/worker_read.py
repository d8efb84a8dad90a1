"""The tile worker's read path per frame, without a server: nats-py's parser, the client's
delivery, the pull's bookkeeping and the frame read back from its headers.

Usage::

    .venv/bin/python benchmarks/worker_read.py [--frames 50000] [--rounds 5]

The frames are BSM-sized payloads on frame subjects, written as the server delivers them on a
pull's inbox (``HMSG subject sid $JS.ACK... hdr_len total_len``), and fed to the client's
protocol parser in 64 KiB reads, as its read loop does; each reaches a handler that reads
what a worker reads of every frame before decoding it (``stream_sequence`` of the reply,
``frame_place`` of the subject, the frame from its headers). Process CPU per frame, three
ways in the same run (interleaved ``--rounds`` times, the best round of each kept):

- ``before``: the headers as they were (six: device, kind, received ms, message set, format
  and the message id) through nats-py's own delivery (``subscribe(cb=...)``: its header
  parsing and ``Msg``);
- ``2 headers``: the contract's two headers (``gateways.nats.frame_headers``) through nats-py's
  own delivery;
- ``2 headers, plain``: the same through ``BackboneClient.subscribe_plain`` (what the tile
  worker uses).

The machine is shared: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client

from v2xcloud.gateways.nats import BackboneClient, frame_headers, frame_of, stream_sequence
from v2xcloud.runtime import backbone

SID = 7
READ = 64 * 1024


def _old_headers(device: str, t_ms: int, raw: bytes) -> dict[str, str]:
    """The six headers every frame carried before the two-header contract."""
    return {
        backbone.HEADER_MSG_ID: backbone.frame_msg_id(device, t_ms, raw),
        "V2X-Device": device,
        "V2X-Kind": "obu",
        "V2X-Received-Ms": str(t_ms),
        "V2X-Message-Set": "csae2020",
        "V2X-Format": "uper",
    }


def _wire(frames: int, headers_of: Callable[[str, int, bytes], dict[str, str]]) -> bytes:
    """``frames`` HMSG protocol lines as the server writes them to the pull's inbox."""
    out = bytearray()
    for i in range(frames):
        device = f"{i % 1000 + 1:016x}"
        t_ms = 1_800_000_000_000 + 100 * (i // 1000)
        raw = (i.to_bytes(4, "big") * 16)[:62]
        place = f"13212022010212{i % 4096:04d}"
        subject = backbone.frame_subject("default", place, "bsm")
        reply = f"$JS.ACK.V2X_FRAMES.wrk-w0-1-1.1.{i + 1}.{i + 1}.1800000000000000000.0"
        hdr = bytearray(b"NATS/1.0\r\n")
        for k, v in headers_of(device, t_ms, raw).items():
            hdr += f"{k}: {v}\r\n".encode()
        hdr += b"\r\n"
        head = f"HMSG {subject} {SID} {reply} {len(hdr)} {len(hdr) + len(raw)}\r\n"
        out += head.encode() + hdr + raw + b"\r\n"
    return bytes(out)


def _read_old(msg: Any) -> tuple[str, int, str, str]:
    """What the worker read of a frame's six headers before."""
    hdr = msg.headers or {}
    return (
        hdr["V2X-Device"],
        int(hdr["V2X-Received-Ms"]),
        hdr.get("V2X-Format", "uper"),
        hdr.get("V2X-Message-Set", "csae2020"),
    )


def _read_new(msg: Any) -> tuple[str, int, str, str]:
    frame, message_set, fmt = frame_of(msg.subject, msg.headers, msg.data)
    return frame.device_id, frame.received_at_ms, fmt, message_set


async def _feed(client: Client, wire: bytes, frames: int, read: Any, plain: bool) -> float:
    """Process CPU seconds to deliver and read every frame of ``wire``."""

    async def _no_server(*_: Any) -> None:
        return None

    client._send_subscribe = _no_server  # type: ignore[method-assign]  # no server here
    done = asyncio.Event()
    seen = 0

    async def handle(msg: Any) -> None:
        nonlocal seen
        stream_sequence(msg.reply)
        backbone.frame_place(msg.subject)
        read(msg)
        seen += 1
        if seen == frames:
            done.set()

    if plain:
        assert isinstance(client, BackboneClient)
        sub = await client.subscribe_plain("_INBOX.x", handle)
    else:
        sub = await client.subscribe("_INBOX.x", cb=handle)
    client._subs[SID] = client._subs.pop(sub._id)
    sub._id = SID
    if plain:
        client._plain.add(SID)
    started = time.process_time()
    for at in range(0, len(wire), READ):
        await client._ps.parse(wire[at : at + READ])
        await asyncio.sleep(0)  # the read loop yields to the subscription's task between reads
    await done.wait()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    def new_headers(device: str, t_ms: int, raw: bytes) -> dict[str, str]:
        return frame_headers(device, t_ms, raw, kind="obu", message_set="csae2020", fmt="uper")

    old_wire = _wire(args.frames, _old_headers)
    new_wire = _wire(args.frames, new_headers)
    ways = {
        "before (6 headers, nats-py Msg)": (Client, old_wire, _read_old, False),
        "2 headers, nats-py Msg": (Client, new_wire, _read_new, False),
        "2 headers, plain": (BackboneClient, new_wire, _read_new, True),
    }
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (cls, wire, read, plain) in ways.items():
            cpu = asyncio.run(_feed(cls(), wire, args.frames, read, plain))
            best[name] = min(best.get(name, cpu), cpu)
    print(f"{args.frames} frames, best of {args.rounds} interleaved rounds, CPU us per frame:")
    base = best["before (6 headers, nats-py Msg)"]
    for name, cpu in best.items():
        per = cpu / args.frames * 1e6
        print(f"  {name:34s} {per:6.2f} us  ({base / cpu:.2f}x the before)")
    print(
        f"  wire bytes per frame: {len(old_wire) / args.frames:.0f} -> {len(new_wire) / args.frames:.0f}"
    )


if __name__ == "__main__":
    main()
