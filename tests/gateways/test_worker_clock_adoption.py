"""A worker taking a tile adopts the detectors' clocks its predecessor wrote (``V2X_CLOCKS``)
even when the entry is read before the tile's rebuilt frames: the clocks wait for their road
users to be in the scene. Adopted before, a detection round that runs first (the vehicle not
yet in its view) drops them, and the standing vehicle's event starts again, 20 s later under a
new start (``tests/cluster/test_clock_handover.py`` is the cluster-level proof of the
handover; this is the ordering it cannot force)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import msgspec

from v2xcloud.gateways.tile_worker import TileWorker, WorkerConfig
from v2xcloud.geo import LocalFrame
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.twin.testing import bsm_at

ORIGIN = (28.2, 112.9)
VEHICLE = "00000000000000c7"
KIND = "stopped_vehicle"


class _Clocks:
    """The clocks bucket as ``_read_clocks`` uses it (``get``)."""

    def __init__(self, entries: dict[str, backbone.DetectorClocks]) -> None:
        self.entries = {k: msgspec.json.encode(v) for k, v in entries.items()}

    async def get(self, key: str) -> SimpleNamespace:
        return SimpleNamespace(value=self.entries[key])


def test_clocks_read_before_the_rebuilt_frames_wait_for_their_vehicle() -> None:
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    tile = tile_of(*ORIGIN)
    t0 = 1_800_000_000_000
    handed_at, handed_ms = t0, 25_000  # the predecessor's last write: standing 25 s
    worker = TileWorker(WorkerConfig(urls=["nats://127.0.0.1:1"], origin=ORIGIN))
    worker.clocks_kv = _Clocks(  # type: ignore[assignment]
        {
            backbone.clocks_key("default", tile): backbone.DetectorClocks(
                tile=tile, at_ms=handed_at, worker="a", clocks={KIND: {VEHICLE: handed_ms}}
            )
        }
    )

    async def nothing_sent(*_: object) -> None:  # the publishing is not under test
        return None

    worker._send = nothing_sent  # type: ignore[method-assign]

    async def run() -> None:
        await worker._tick(t0)  # a round before the takeover: nothing of the vehicle
        await worker._read_clocks([tile])  # the takeover: the entry comes first ...
        for k in range(1, 60):  # ... then the tile's rebuilt frames, from 1.5 s on
            now = t0 + 100 * k
            if k >= 15:
                bsm = bsm_at(VEHICLE, x_m=0.0, y_m=0.0, t_ms=now, frame=frame, speed_mps=0.0)
                assert worker.runtime.ingest(bsm, received_at_ms=now, source=VEHICLE)
                worker._note_reports(bsm, tile, now)
            await worker._tick(now)
            await asyncio.sleep(0)
        await asyncio.gather(*worker._sending)

    asyncio.run(run())
    events = [e for e in worker.runtime.events.detected.values() if e.kind == KIND]
    assert worker.counts["clocks_adopted"] == 1
    # the same standstill goes on: started when the predecessor's did, not 20 s from now
    assert [e.start_ms for e in events] == [handed_at - handed_ms], events
