"""The frame stream sharded by place (``--shard-zoom``, ``docs/deploy.md`` Sizing) on a real
nats-server: a gateway files its frames into one stream ``V2X_FRAMES_{shard}`` per shard (no
``V2X_FRAMES``); stream-clocked workers reading their tiles and halo from two shards give the
answers of one process (``test_tile_workers``' comparison), including advisories about an ego
whose neighbour is filed in the other shard; a wall-clocked worker makes the shard streams of
its tiles and halo before any frame and reads each frame once across shards; a frame whose
subject has no valid shard token is counted and dead-lettered by the worker."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from v2xcloud.cli._platform import Platform
from v2xcloud.codec import MessageSet, Rejected, decode, encode_model
from v2xcloud.errors import GatewayError
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.nats import (
    BackbonePublisher,
    Outgoing,
    PulledMsg,
    connect,
    ensure_streams,
    frame_headers,
)
from v2xcloud.gateways.nats_server import NatsCluster, NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import (
    MEMBERS_BUCKET,
    TILES_BUCKET,
    TileWorker,
    WorkerConfig,
    WorkerProcess,
)
from v2xcloud.model import Advisory, Bsm, Device, DeviceKind, DropReason
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.tiles import Tiling, cell_of, tile_of
from v2xcloud.sim.cluster import bsm_tick
from v2xcloud.sim.result import RunConfig
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

from ._streams import joined, worker_stats
from .test_tile_workers import (
    _in_process,
    _Recording,
    _same_within_one_tick,
    _scenario,
    _scores,
    _through_workers,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture()
def server() -> Iterator[NatsServer]:
    with NatsServer(name="s0") as s:
        yield s


def _streams(url: str) -> dict[str, dict[str, int]]:
    """Stream name -> {subject: messages} of every stream on the server."""

    async def read() -> dict[str, dict[str, int]]:
        nc = await nats.connect(servers=[url])
        try:
            js = nc.jetstream()
            out: dict[str, dict[str, int]] = {}
            for info in await js.streams_info():
                name = info.config.name or ""
                full = await js.stream_info(name, subjects_filter=">")
                out[name] = dict(full.state.subjects or {})
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_sharded_gateway_files_frames_by_place_into_one_stream_per_shard(
    server: NatsServer,
) -> None:
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU, tenant="acme"))
    registry.add(Device(device_id="obu-2", kind=DeviceKind.OBU, tenant="acme"))
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    platform = Platform(runtime, registry, nats_urls=[server.url], role="gateway", shard_zoom=16)
    platform.start()
    now = int(time.time() * 1000)
    bsms = [
        bsm_at("00000000000000a1", x_m=10.0, y_m=5.0, t_ms=now, speed_mps=8.0),
        bsm_at("00000000000000a2", x_m=3000.0, y_m=-2500.0, t_ms=now, speed_mps=8.0),
    ]
    try:
        for i, bsm in enumerate(bsms):
            raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
            platform.queue.put(
                InboundFrame(
                    payload=raw,
                    device_id=f"obu-{i + 1}",
                    device_kind=DeviceKind.OBU,
                    message_type="BSM",
                    transport="inproc",
                    channel="test",
                    received_at_ms=now,
                )
            )
        platform.before_tick(now)
        runtime.tick(now)
        deadline = time.monotonic() + 20
        while platform.publisher is not None and platform.publisher.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stats = platform.stats()["backbone"]
    finally:
        platform.stop()
    assert stats["acked"] == 2 and stats["shard_streams"] == 2, stats
    streams = _streams(server.url)
    assert backbone.FRAMES not in streams  # a sharded deployment has no V2X_FRAMES
    for bsm in bsms:
        p = bsm.participant
        tile, cell = tile_of(p.lat_deg, p.lon_deg), cell_of(p.lat_deg, p.lon_deg)
        subject = f"v2x.acme.{tile}.{tile}.{cell[16:]}.bsm"  # shard zoom 16: the tile
        assert streams[backbone.shard_stream(tile)] == {subject: 1}
        assert backbone.frame_place(subject, shard_zoom=16) == (tile, cell)
    assert len([s for s in streams if s.startswith(backbone.FRAMES_SHARD_PREFIX)]) == 2


def test_a_frame_without_a_valid_shard_token_is_counted_and_dead_lettered() -> None:
    worker = TileWorker(WorkerConfig(urls=[], origin=(28.19, 112.97), shard_zoom=15))
    now = int(time.time() * 1000)
    raw = encode_model(
        bsm_at("00000000000000b1", x_m=0.0, y_m=0.0, t_ms=now), message_set=MessageSet.CSAE2020
    )
    headers = frame_headers("obu-9", now, raw, kind="obu", message_set="csae2020", fmt="uper")
    cell = "132120220102120213"
    bad = [
        f"v2x.acme.132120220102122.{cell[:16]}.{cell[16:]}.bsm",  # another place's shard
        f"v2x.acme.{cell[:16]}.{cell[16:]}.bsm",  # no shard token at all
    ]
    stream = backbone.shard_stream("132120220102120")
    for i, subject in enumerate(bad):
        reply = f"$JS.ACK.{stream}.wrk-w0-1-1.1.{i + 1}.{i + 1}.1800000000000000000.0"
        asyncio.run(worker._on_message(PulledMsg(subject, reply, raw, headers), stream))
    assert worker.counts["bad_subjects"] == 2
    assert worker.counts["frames"] == 0
    letters = worker.runtime.stats()["dead_letters"]
    assert letters[DropReason.UNKNOWN_TOPIC] == 2, letters
    # handed to V2X_DEAD at the next tick (the worker's dead-letter sink), as every bad frame
    [first, second] = worker.runtime.dead_letters.recent()  # newest last
    assert first.source == "obu-9" and first.received_at_ms == now and first.raw == raw
    assert "shard token '132120220102122'" in first.detail and first.where == bad[0]
    assert "not a sharded frame subject" in second.detail


class _WhereRecording(_Recording):
    """Also the shard (zoom ``SHARD_ZOOM``) of each participant's latest own report, and the
    advisories whose ego and other were last filed in different shards, by tick."""

    def __init__(self, inner: Any, message_set: str) -> None:
        super().__init__(inner, message_set)
        self.where: dict[str, str] = {}  # participant -> its tile
        self.across: dict[int, list[tuple[str, str, str]]] = {}  # tick -> (app, ego, other)

    def ingest_frame(self, raw: bytes, **kw: Any) -> None:
        result = decode(raw, message_set=self._set, received_at_ms=kw["received_at_ms"])
        if not isinstance(result, Rejected):
            model = result.to_model()
            if isinstance(model, Bsm):
                p = model.participant
                self.where[p.id] = tile_of(p.lat_deg, p.lon_deg)
        super().ingest_frame(raw, **kw)

    def tick(self, now_ms: int) -> list[Advisory]:
        out = super().tick(now_ms)
        for a in out:
            ego, other = self.where.get(a.ego_id), self.where.get(a.other_id or "")
            if ego and other and ego[:SHARD_ZOOM] != other[:SHARD_ZOOM]:
                self.across.setdefault(now_ms, []).append((a.app, ego, other))
        return out


SHARD_ZOOM = 15  # demo_district's three zoom-16 tiles lie in two zoom-15 shards


def test_sharded_workers_give_the_answers_of_one_process(tmp_path: Path) -> None:
    sc = _scenario("demo_district", 8.0)
    cfg = RunConfig()
    ref, ref_result = _in_process(sc, cfg)
    tiles = sorted(ref.tiles)
    assert len({t[:SHARD_ZOOM] for t in tiles}) == 2  # the tiles span two shards
    seen: dict[str, dict[str, int]] = {}
    got, result, platform = _through_workers(
        sc,
        cfg,
        2,
        tiles,
        tmp_path,
        shard_zoom=SHARD_ZOOM,
        recording=_WhereRecording,
        on_done=lambda urls: seen.update(_streams(urls[0])),
    )
    # the frames are in two shard streams, by place, and no V2X_FRAMES
    assert backbone.FRAMES not in seen
    sharded = {n: s for n, s in seen.items() if n.startswith(backbone.FRAMES_SHARD_PREFIX)}
    holding = set()
    for name, subjects in sharded.items():
        shard = name[len(backbone.FRAMES_SHARD_PREFIX) :]
        for subject in subjects:
            tile, _ = backbone.frame_place(subject, shard_zoom=SHARD_ZOOM)
            assert subject.split(".")[2] == shard
            if tile != "clock":
                holding.add(shard)
    assert len(holding) >= 2, sorted(sharded)
    # the answers of one process (test_tile_workers' comparison), one issuer each
    issued = sum(len(v) for v in ref.ticks.values())
    assert issued > 50
    _same_within_one_tick(got.ticks, ref.ticks)
    assert _scores(result) == _scores(ref_result)
    assert result.advisories == ref_result.advisories
    assert not platform.duplicates, platform.duplicates[:3]
    assert len([w for w, n in platform.by_worker.items() if n > 0]) >= 2
    # egos warned about a neighbour filed in the other shard: each worker read both shards
    assert isinstance(got, _WhereRecording)
    across = [row for rows in got.across.values() for row in rows]
    assert across, "no advisory across the shard border"
    owners = platform.owners
    assert any(owners.get(ego) != owners.get(other) for _, ego, other in across)
    for i in range(2):
        stats = worker_stats(tmp_path / f"w{i}.log")
        assert len(stats["frame_streams"]) >= 2, stats["frame_streams"]
        assert stats["counts"].get("bad_subjects", 0) == 0


def _border(zoom: int = 15) -> tuple[str, str, float, float]:
    """Two zoom-16 tiles side by side in different zoom-``zoom`` shards near ``ORIGIN`` (own
    tile, neighbour east or west), and the border's longitude and the row's middle latitude."""
    tiling = Tiling()
    own = tile_of(*ORIGIN)
    x, y = tiling.xy(own)
    n = 1 << 16
    for dx in (1, -1):
        other = tiling.name(x + dx, y)
        if other[:zoom] != own[:zoom]:
            border_x = x + max(dx, 0)
            lon = border_x / n * 360.0 - 180.0
            lat = math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * (y + 0.5) / n))))
            return own, other, lat, lon
    raise AssertionError("no shard border next to the origin's tile")


ORIGIN = (28.2, 112.9)


def test_a_wall_clocked_worker_makes_and_reads_the_shards_of_its_tiles_and_halo(
    tmp_path: Path,
) -> None:
    own, other, lat, border_lon = _border()
    metre_lon = 1.0 / (111_320.0 * math.cos(math.radians(lat)))
    # one vehicle 20 m inside the owned tile, one 20 m inside the neighbour, across the border
    east = other == Tiling().name(Tiling().xy(own)[0] + 1, Tiling().xy(own)[1])
    inside = -20.0 if east else 20.0
    places = {
        "00000000000000c1": (lat, border_lon + inside * metre_lon),
        "00000000000000c2": (lat, border_lon - inside * metre_lon),
    }
    assert {tile_of(*p) for p in places.values()} == {own, other}
    ticks = 20

    async def run(urls: list[str]) -> None:
        worker = WorkerProcess(
            urls=urls,
            worker_id="w0",
            origin=ORIGIN,
            log_path=str(tmp_path / "w0.log"),
            shard_zoom=15,
        ).start()
        nc = await connect(urls, name="test-shards")
        publisher = BackbonePublisher(urls, shard_zoom=15)
        try:
            js = nc.jetstream()
            await joined(js, 1)
            kv = await js.key_value(TILES_BUCKET)
            await kv.create(own, b"")  # the neighbour's tile is nobody's: only a halo
            members = await js.key_value(MEMBERS_BUCKET)
            deadline = time.monotonic() + 60
            while True:
                entry = await members.get("w0")
                if own in json.loads(entry.value or b"{}").get("tiles", []):
                    break
                assert time.monotonic() < deadline, "w0 did not take its tile"
                await asyncio.sleep(0.1)
            # the worker made the shard streams of its tiles and halo before any frame
            names = {i.config.name for i in await js.streams_info()}
            assert backbone.shard_stream(own[:15]) in names
            assert backbone.shard_stream(other[:15]) in names
            assert backbone.FRAMES not in names
            await asyncio.to_thread(publisher.start)
            now = int(time.time() * 1000)
            for k in range(ticks):
                t_ms = now + 100 * k
                states = [
                    msgspec.structs.replace(
                        state_at(pid, x_m=0.0, y_m=0.0, t_ms=t_ms, speed_mps=5.0),
                        lat_deg=p[0],
                        lon_deg=p[1],
                    )
                    for pid, p in places.items()
                ]
                for place, device, raw in bsm_tick(states, t_ms):
                    headers = frame_headers(
                        device, t_ms, raw, kind="obu", message_set="csae2020", fmt="uper"
                    )
                    subject = backbone.frame_subject("default", place, "bsm", shard_zoom=15)
                    assert publisher.submit(Outgoing(subject, raw, headers))
            deadline = time.monotonic() + 20
            while publisher.waiting:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert publisher.stats()["acked"] == 2 * ticks
            await asyncio.sleep(2.0)  # the worker reads them (live, 100 ms ticks)
        finally:
            await asyncio.to_thread(publisher.stop)
            await asyncio.to_thread(worker.stop)
            await nc.close()

    with NatsCluster(1) as cluster:
        asyncio.run(run(cluster.urls))
    stats = worker_stats(tmp_path / "w0.log")
    # the neighbour's tile, found in its shard stream by the wall clock's scan, taken too
    assert stats["owned"] == sorted({own, other})
    streams = stats["frame_streams"]
    assert backbone.shard_stream(own[:15]) in streams
    assert backbone.shard_stream(other[:15]) in streams
    # both vehicles' frames read once each (per-stream sequences: a consumer replaced when
    # the neighbour's tile was taken does not give a frame twice)
    assert stats["counts"]["frames"] == 2 * ticks, stats["counts"]
    assert stats["counts"]["shard_streams_created"] >= 2
    assert stats["counts"].get("bad_subjects", 0) == 0


def test_v2x_frames_and_shard_streams_cannot_both_exist(server: NatsServer) -> None:
    """A process told another shard zoom than the cluster's is refused with the setting named
    (the subjects of ``V2X_FRAMES`` and of a shard stream overlap), either way round."""

    async def run() -> list[str]:
        nc = await connect([server.url], name="test-overlap")
        try:
            js = nc.jetstream()
            await ensure_streams(js, [backbone.shard_spec("1321", servers=1)])
            said = []
            with pytest.raises(GatewayError) as refused:
                await ensure_streams(js, backbone.streams(servers=1))  # unsharded
            said.append(str(refused.value))
            await js.delete_stream(backbone.shard_stream("1321"))
            await ensure_streams(js, backbone.streams(servers=1))
            with pytest.raises(GatewayError) as refused:
                await ensure_streams(js, [backbone.shard_spec("1321", servers=1)])
            said.append(str(refused.value))
            return said
        finally:
            await nc.close()

    for said in asyncio.run(run()):
        assert "overlap" in said and "--shard-zoom" in said, said
