"""A frame shard a worker mostly owns is read through one consumer filter (``whole_shards``):
a JetStream consumer of 2 filters or more costs the nats-server 4-5 times as much CPU per
message delivered as one of a single filter, whatever their number (``benchmarks/cluster.py
--filters``). The frames the shard's filter brings from elsewhere are dropped by the worker,
counted ``frames_outside``, never ingested: the answers stay those of the exact filters
(tests/cluster/test_frame_shards.py, test_tile_workers.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats import PulledMsg, frame_headers
from v2xcloud.gateways.tile_worker import (
    TileWorker,
    WorkerConfig,
    key_shard,
    reading_keys,
    whole_shards,
)
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import descendants
from v2xcloud.twin.testing import bsm_at

ZOOM = 14
SHARD = "13212022010202"
# the shard's 16 zoom-16 tiles, the row of 4 along its middle carrying the traffic
ROW = [t for t in descendants(SHARD, 16) if t[14:] in ("02", "03", "12", "13")]


def _worker(registered: list[str]) -> TileWorker:
    worker = TileWorker(WorkerConfig(urls=[], origin=(28.2, 112.9), tenant="acme", shard_zoom=ZOOM))
    worker.owners = {t: ("w0" if t in ROW[:3] else "w1", 1) for t in registered}
    shards = {key_shard(k, ZOOM) for k in _reading(ROW)}
    worker._streams_known.update(backbone.shard_stream(s) for s in shards)  # no server asked
    worker._js = cast(Any, object())  # connected, as far as the known streams go
    return worker


def _reading(mine: list[str]) -> frozenset[str]:
    config = WorkerConfig(urls=[], origin=(28.2, 112.9))
    return reading_keys(config.tiling, config.reach, mine)


def test_a_shard_mostly_owned_is_read_through_one_filter() -> None:
    mine = frozenset(ROW[:3])  # 3 of the shard's 4 registered tiles
    worker = _worker(ROW)
    reading = _reading(sorted(mine))
    by_stream = asyncio.run(worker._filters_by_stream(reading, mine))
    assert by_stream[backbone.shard_stream(SHARD)] == [f"v2x.acme.{SHARD}.>"]
    # the halo's other shards, not owned, keep their exact filters
    others = {s: f for s, f in by_stream.items() if s != backbone.shard_stream(SHARD)}
    prefix = len(backbone.FRAMES_SHARD_PREFIX)
    assert others and all(f"v2x.acme.{s[prefix:]}.>" not in f for s, f in others.items())
    assert any(len(f) > 1 for f in others.values()), others
    assert whole_shards(mine, ROW, ZOOM) == {SHARD}


def test_a_shard_not_mostly_owned_keeps_the_exact_filters() -> None:
    # half of it (the other half's frames dropped would cost the worker more than the
    # server saves), then 3 of 7 registered tiles
    for mine, registered in (
        (frozenset(ROW[:2]), ROW),
        (frozenset(ROW[:3]), ROW + [t for t in descendants(SHARD, 16) if t not in ROW][:3]),
    ):
        worker = _worker(registered)
        by_stream = asyncio.run(worker._filters_by_stream(_reading(sorted(mine)), mine))
        assert len(by_stream[backbone.shard_stream(SHARD)]) > 1
        assert whole_shards(mine, registered, ZOOM) == frozenset()
    assert whole_shards(["1321"], ROW, ZOOM) == frozenset()  # coarser than a shard: none


def test_a_frame_outside_the_reading_is_dropped_and_counted() -> None:
    worker = _worker(ROW)
    reading = _reading(ROW[:1])
    now = int(time.time() * 1000)
    raw = encode_model(
        bsm_at("00000000000000b1", x_m=0.0, y_m=0.0, t_ms=now), message_set=MessageSet.CSAE2020
    )
    headers = frame_headers("obu-9", now, raw, kind="obu", message_set="csae2020", fmt="uper")
    inside = next(c for c in descendants(ROW[0], 18))
    outside = next(c for c in descendants(ROW[3], 18) if c not in reading)
    stream = backbone.shard_stream(SHARD)
    for seq, cell in enumerate((outside, inside, outside), start=1):
        subject = backbone.frame_subject("acme", cell, "bsm", shard_zoom=ZOOM)
        reply = f"$JS.ACK.{stream}.wrk-w0-1-1.1.{seq}.{seq}.1800000000000000000.0"
        asyncio.run(worker._on_message(PulledMsg(subject, reply, raw, headers), stream, reading))
    assert worker.counts["frames_outside"] == 2
    assert worker.counts["frames"] == 1
    assert worker._last_seq[stream] == 3  # where the worker is in the stream: past them all
