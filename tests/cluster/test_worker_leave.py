"""A worker stopped cleanly (SIGTERM) releases its tiles: the other worker owns them at its
next balance round, long before the stopped worker's lease would have lapsed, and the stopped
worker logs no failed leave (real nats-server and ``v2xcloud worker`` processes on loopback).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from v2xcloud.gateways.nats import connect
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import TILES_BUCKET, WorkerProcess
from v2xcloud.runtime.tiles import Tiling, tile_of

from ._streams import joined, worker_stats

pytestmark = pytest.mark.timeout(120)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
#: the workers' lease: a takeover by lease would take at least this long
LEASE_S = 15.0
#: a released tile is taken at the next balance round (0.2 s); this loaded machine gets 5 s
RELEASED_WITHIN_S = 5.0


async def _owners(kv: object, tiles: list[str]) -> dict[str, str]:
    out = {}
    for tile in tiles:
        entry = await kv.get(tile)  # type: ignore[attr-defined]
        out[tile] = (entry.value or b"").decode()
    return out


async def _wait_for(kv: object, tiles: list[str], want: set[str], timeout_s: float) -> float:
    """Seconds until the tiles' owners are exactly ``want`` (every tile owned); raises after
    ``timeout_s`` naming what the owners were."""
    start = time.monotonic()
    owners: dict[str, str] = {}
    while time.monotonic() - start < timeout_s:
        owners = await _owners(kv, tiles)
        if set(owners.values()) == want:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"owners not {sorted(want)} within {timeout_s} s: {owners}")


def test_a_stopped_worker_releases_its_tiles_at_once(tmp_path: Path) -> None:
    tiling = Tiling()
    first = tile_of(*ORIGIN)
    x, y = tiling.xy(first)
    tiles = [tiling.name(x + i, y) for i in range(4)]
    logs = tmp_path

    async def run(urls: list[str]) -> float:
        workers = [
            WorkerProcess(
                urls=urls,
                worker_id=f"w{i}",
                origin=ORIGIN,
                log_path=str(logs / f"w{i}.log"),
                extra=("--lease-ttl", str(LEASE_S)),
            ).start()
            for i in range(2)
        ]
        nc = await connect(urls, name="test-leave")
        try:
            js = nc.jetstream()
            await joined(js, 2)
            kv = await js.key_value(TILES_BUCKET)
            for tile in tiles:
                await kv.create(tile, b"")
            await _wait_for(kv, tiles, {"w0", "w1"}, 30.0)
            stopped = time.monotonic()
            await asyncio.to_thread(workers[1].stop)  # SIGTERM: a clean leave
            await _wait_for(kv, tiles, {"w0"}, RELEASED_WITHIN_S)
            return time.monotonic() - stopped
        finally:
            for w in workers:
                w.stop()
            await nc.close()

    with NatsCluster(1) as cluster:
        took = asyncio.run(run(cluster.urls))
    log = (logs / "w1.log").read_text()
    assert "leave failed" not in log, log[-2000:]
    stats = worker_stats(log)
    assert stats["counts"].get("released") == 2, stats["counts"]
    print(f"tiles of the stopped worker owned by the other {took:.2f} s after SIGTERM")
    assert took < RELEASED_WITHIN_S < LEASE_S
