"""Congestion along a corridor that crosses tiles, detected at the centre from what the edge
workers publish (their tiles' lanes and vehicles on ``V2X_TRAFFIC``), gives the events the
embedded runtime raises on the same traffic (real nats-server, two stream-clocked workers);
the centre publishes their RSI on the deliveries stream (``gateways.nats.CentreRsi``) and a
gateway-tier platform hands it to its down-link for the RSU in range of the event only.

The scene: one approach lane 300 m long whose stop line is in one tile and whose queue of ten
standing vehicles reaches back across the tile border into the other worker's tile; a 30 s
red / 30 s green signal; the queue never clears, so after 60 s it is congestion.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from v2xcloud import processes
from v2xcloud.apps.events import CongestionDetector, LaneSample, merge_samples
from v2xcloud.cli._platform import Platform
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.gateways.nats import BackbonePublisher, CentreRsi, ResultFeed
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import MEMBERS_BUCKET, WorkerProcess, WorkerRoster
from v2xcloud.geo import LocalFrame
from v2xcloud.model import (
    Connection,
    IntersectionState,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    PhaseState,
    RoadEvent,
    Rsi,
    SignalPhase,
    Spat,
)
from v2xcloud.model.map import SpeedLimit
from v2xcloud.runtime import Rsu, Runtime, backbone
from v2xcloud.runtime.corridor import CorridorCongestion
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.runtime.identity import scope_sender_id
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.twin.testing import bsm_at

from ._streams import read_stream

pytestmark = pytest.mark.timeout(180)

FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)
NODE = NodeId(region=None, id=7)
RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def _tile(x: float, y: float) -> str:
    lat, lon = FRAME.to_wgs84(x, y)
    return tile_of(float(lat), float(lon))


def _stop_line_y() -> float:
    """A stop line 30 m north of a tile border (so a queue reaching back crosses it)."""
    first = _tile(0.0, 0.0)
    for k in range(0, 2000, 2):
        if _tile(0.0, float(-k)) != first:
            return float(-k) + 30.0
    raise AssertionError("no tile border within 2 km")


def _latlon(x: float, y: float) -> tuple[float, float]:
    lat, lon = FRAME.to_wgs84(x, y)
    return float(lat), float(lon)


def _map(y0: float) -> MapData:
    lane = Lane(
        lane_id=1,
        lane_type="vehicle",
        speed_limits=(SpeedLimit(kind="vehicleMaxSpeed", speed_mps=50 / 3.6),),
        points=(_latlon(0, y0 - 300), _latlon(0, y0)),
        connections=(
            Connection(
                remote_node=NODE,
                remote_lane_id=11,
                phase_id=1,
                maneuvers=frozenset({"maneuverStraightAllowed"}),
            ),
        ),
    )
    lat, lon = _latlon(0, y0 + 10)
    link = MapLink(upstream_node=NodeId(region=None, id=1), width_m=3.5, lanes=(lane,))
    return MapData(
        msg_count=1, nodes=(MapNode(id=NODE, lat_deg=lat, lon_deg=lon, in_links=(link,)),)
    )


def _spat(t_ms: int, t0: int) -> Spat:
    phase_s = ((t_ms - t0) / 1000) % 60  # 30 s red, 30 s green
    light, rem = (RED, 30 - phase_s) if phase_s < 30 else (GREEN, 60 - phase_s)
    nxt = GREEN if light is RED else RED
    states = (
        PhaseState(light=light, start_s=0.0, likely_end_s=rem),
        PhaseState(light=nxt, start_s=rem, likely_end_s=rem + 30),
    )
    state = IntersectionState(
        node=NODE, timestamp_ms=t_ms, phases=(SignalPhase(phase_id=1, states=states),)
    )
    return Spat(msg_count=1, intersections=(state,), timestamp_ms=t_ms)


def _frames(t: int, t0: int, y0: float, map_raw: bytes) -> list[tuple[bytes, str]]:
    out = [
        (map_raw, "rsu-1"),
        (encode_model(_spat(t, t0), message_set=MessageSet.CSAE2020), "rsu-1"),
    ]
    for k in range(10):
        pid = f"{k + 1:016x}"
        bsm = bsm_at(pid, x_m=0.0, y_m=y0 - 4 - 7 * k, t_ms=t, speed_mps=0.3, frame=FRAME)
        out.append((encode_model(bsm, message_set=MessageSet.CSAE2020), f"obu-{k}"))
    return out


def _congestion(events: list[RoadEvent]) -> list[tuple[object, ...]]:
    return sorted(
        (e.description, e.start_ms, round(e.lat_deg or 0, 6), round(e.lon_deg or 0, 6))
        for e in events
        if e.kind == "congestion"
    )


def _wait_for_round(corridor: CorridorCongestion, tiles: tuple[str, ...], t: int) -> None:
    """Until the centre has read both tiles' summaries of the detection round at ``t``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        latest = corridor._latest
        if all(x in latest and latest[x].round_ms >= t for x in tiles):
            return
        time.sleep(0.005)
    raise AssertionError(f"round {t}: summaries {corridor.stats()}")


def test_merged_samples_measure_like_one_scene() -> None:
    """Split one lane's vehicles between two parts (the lane part in one): the merge gives
    the whole lane back, each vehicle once."""
    whole = LaneSample(
        node_id=7,
        lane=0,
        lane_id=1,
        limit_mps=10.0,
        length_m=300.0,
        tail=((28.19, 112.97), (28.191, 112.97)),
        green=False,
        ids=("a", "b", "c"),
        to_stop_m=(4.0, 11.0, 18.0),
        speed_mps=(0.0, 0.1, 0.2),
    )
    near = LaneSample(node_id=7, lane=0, ids=("c",), to_stop_m=(18.0,), speed_mps=(0.2,))
    lane_part = msgspec.structs.replace(
        whole, ids=("a", "b"), to_stop_m=(4.0, 11.0), speed_mps=(0.0, 0.1)
    )
    (merged,) = merge_samples([near, lane_part, near])  # "c" from two tiles: once
    assert sorted(merged.ids) == ["a", "b", "c"] and len(merged.to_stop_m) == 3
    assert merge_samples([near]) == []  # nobody gave the lane itself
    one, two = CongestionDetector(), CongestionDetector()
    frame = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)
    one.measure([whole], frame, 0)
    two.measure([merged], frame, 0)
    assert one.traffic == two.traffic


def test_centre_corridor_congestion_matches_the_embedded_runtime(tmp_path: Path) -> None:
    y0 = _stop_line_y()
    tile_stop, tile_back = _tile(0.0, y0 - 4), _tile(0.0, y0 - 67)
    assert tile_stop != tile_back  # the queue crosses the border
    origin = (FRAME.origin_lat_deg, FRAME.origin_lon_deg)
    logs = tmp_path
    embedded = Runtime(frame=FRAME)
    corridor = CorridorCongestion()
    centre = Runtime(frame=FRAME, apps=[], detectors=[corridor])
    map_raw = encode_model(_map(y0), message_set=MessageSet.CSAE2020)
    ref: dict[int, list[tuple[object, ...]]] = {}
    got: dict[int, list[tuple[object, ...]]] = {}
    with NatsServer(name="k0") as server:
        procs = [
            WorkerProcess(
                urls=[server.url],
                worker_id=f"w{i}",
                origin=origin,
                clock="stream",
                log_path=str(logs / f"w{i}.log"),
            )
            for i in range(2)
        ]
        roster = WorkerRoster()
        feed = ResultFeed(
            [server.url],
            handlers={backbone.TRAFFIC: corridor.put},
            on_bad=lambda letter: None,
            durable_prefix="test-centre",
            kv_watch={MEMBERS_BUCKET: roster.put},
        )
        near, far = _latlon(0, y0 - 100), _latlon(3000, y0)
        gateway = Platform(
            Runtime(
                frame=FRAME,
                rsus=[
                    Rsu(rsu_id="rsu-near", lat_deg=near[0], lon_deg=near[1]),
                    Rsu(rsu_id="rsu-far", lat_deg=far[0], lon_deg=far[1]),
                ],
            ),
            DeviceRegistry(),
            nats_urls=[server.url],
            role="gateway",
        )
        downlink = _Downlink()
        publisher = BackbonePublisher([server.url])
        centre_rsi = CentreRsi(
            publisher, lambda: centre.events.round, message_set=MessageSet.CSAE2020
        )
        centre.add_delivery_sink(centre_rsi)
        try:
            for proc in procs:
                proc.start()
            feed.start()
            publisher.start()
            gateway.start()
            gateway.downlink = downlink  # type: ignore[assignment]  # what it would send
            bench = ClusterPlatform(
                urls=[server.url], workers=2, message_set="csae2020", home=origin
            )
            try:
                owners = bench.prepare([tile_stop, tile_back])
                assert owners[tile_stop] != owners[tile_back]
                t0 = int(time.time() * 1000) // 1000 * 1000
                for k in range(65):  # 65 s, a tick a second: congestion is reported after 60 s
                    t = t0 + 1000 * k
                    for raw, source in _frames(t, t0, y0, map_raw):
                        embedded.ingest_frame(raw, source=source, received_at_ms=t)
                        bench.ingest_frame(raw, received_at_ms=t, source=source)
                    embedded.tick(t)
                    bench.tick(t)
                    _wait_for_round(corridor, (tile_stop, tile_back), t)
                    centre.tick(t)
                    ref[t - t0] = _congestion(embedded.active_events())
                    got[t - t0] = _congestion(centre.active_events())
                    gateway.before_tick(t)
                # the centre's roster of the workers: who reads which tile, from heartbeats
                assert {t: roster.owners().get(t) for t in owners} == owners, roster.view()
                assert set(roster.view()["workers"]) == {p.worker_id for p in procs}
            finally:
                bench.close()
            deadline = time.monotonic() + 10
            while (
                not downlink.has("congestion") or publisher.waiting
            ) and time.monotonic() < deadline:
                time.sleep(0.05)
                gateway.before_tick(t)
            sent = read_stream(server.url, backbone.DELIVERIES)
        finally:
            gateway.downlink = None
            gateway.stop()
            publisher.stop()
            feed.stop()
            processes.stop_all([p.proc for p in procs if p.proc is not None], name="worker")
    assert any(ref.values()), "the embedded runtime raised no congestion"
    first = min(t for t, rows in ref.items() if rows)
    assert first >= 60_000
    assert got == ref  # the same events (content, start, place) at the same ticks
    stats = corridor.stats()
    assert stats["tiles"] == 2 and stats.get("stale", 0) == 0 and stats["rounds"] == 65
    # the centre's RSI of the congestion: on the deliveries stream, to the RSU in range only
    # (the workers publish their own stopped-vehicle RSI beside it)
    rsi = [
        d
        for m in sent
        if m.subject.endswith(".rsi")
        and (d := msgspec.json.decode(m.data, type=backbone.RsiDelivery)).event.kind == "congestion"
    ]
    assert rsi, centre_rsi.counts
    assert rsi[0].reason == "new" and rsi[0].rsi_uper is not None
    back = decode(rsi[0].rsi_uper, message_set=MessageSet.CSAE2020, received_at_ms=0)
    assert isinstance(back, Decoded)
    sent_rsi = back.to_model()
    assert isinstance(sent_rsi, Rsi)  # under the centre's own sender id in the event's tile
    event = rsi[0].event
    assert event.lat_deg is not None and event.lon_deg is not None
    assert sent_rsi.rsu_id == scope_sender_id(f"centre:{tile_of(event.lat_deg, event.lon_deg)}")
    assert [e.event_id for e in sent_rsi.events] == [event.event_id]
    assert {d.identity for d in rsi} == {rsi[0].identity}  # one event, one identity
    assert len(rsi) == sum(centre_rsi.counts.values())  # the centre published only its own
    assert all(m.headers and m.headers.get(backbone.HEADER_EVENT) for m in sent)
    congestion = [d for d in downlink.rsi if d.payload.kind == "congestion"]
    assert congestion and {d.rsus for d in congestion} == {("rsu-near",)}
    assert congestion[0].rsi_uper == rsi[0].rsi_uper


class _Downlink:
    """Stands in for the gateway's MQTT down-link: keeps the RSI deliveries it is given."""

    def __init__(self) -> None:
        self.rsi: list[Delivery] = []

    def deliver(self, deliveries: list[Delivery], *, now_ms: int) -> None:
        self.rsi += [d for d in deliveries if isinstance(d.payload, RoadEvent)]

    def has(self, kind: str) -> bool:
        return any(isinstance(d.payload, RoadEvent) and d.payload.kind == kind for d in self.rsi)
