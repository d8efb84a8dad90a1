"""A worker measures its tiles' load as frames per second of stream time (when the stream
stored them), not per second of its own reading: a worker behind the stream reads the same
frames over more or less wall time, and measured by its reading it under-reported the load
it could not keep up with and over-reported while catching up (the balance re-cut by those
swings)."""

from __future__ import annotations

import time

from v2xcloud.gateways.tile_worker import TileWorker, WorkerConfig
from v2xcloud.runtime.tiles import tile_of

ORIGIN = (28.2, 112.9)


def _worker_with(frames: int, wall_s: float, stored_s: float) -> TileWorker:
    tile = tile_of(*ORIGIN)
    config = WorkerConfig(urls=["nats://127.0.0.1:1"], origin=ORIGIN, load_window_s=1.0)
    worker = TileWorker(config)
    worker.owned = frozenset({tile})
    worker._window = (time.monotonic() - wall_s, worker.owned, worker._generation)
    worker._place_frames[tile] = frames
    t0 = 1_800_000_000_000_000_000
    worker._window_ns = [t0, t0 + int(stored_s * 1e9)]
    return worker


def test_the_load_is_frames_per_second_of_stream_time() -> None:
    tile = tile_of(*ORIGIN)
    behind = _worker_with(400, wall_s=1.0, stored_s=2.0)  # read 2 s of frames in 1 s
    behind._measure_load()
    assert abs(behind.load_out[tile] - 200.0) < 1.0
    stalled = _worker_with(100, wall_s=1.0, stored_s=0.5)  # read 0.5 s of frames in 1 s
    stalled._measure_load()
    assert abs(stalled.load_out[tile] - 200.0) < 1.0
    burst = _worker_with(50, wall_s=1.0, stored_s=0.0)  # all stored at once: the wall span
    burst._measure_load()
    assert abs(burst.load_out[tile] - 50.0) < 5.0
