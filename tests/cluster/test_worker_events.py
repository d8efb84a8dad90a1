"""Road events from the edge workers on a real nats-server: a vehicle standing still in one
worker's tile, near the border of the other worker's tile (so both scenes hold it), is
reported on ``V2X_EVENTS`` by its tile's owner only, under one identity and one stable event
id, with one ``new`` RSI delivery on ``V2X_DELIVERIES`` that the gateway tier sends down to the
RSU registered near it. A frame the worker cannot decode is its dead letter on ``V2X_DEAD``
(for the centre's view of every worker), once."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
import pytest

from v2xcloud import processes
from v2xcloud.apps.events.book import stable_event_id
from v2xcloud.cli._platform import Platform
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.model import DeadLetter, Device, DeviceKind, RoadEvent, Rsi
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.identity import scope_sender_id
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from ._streams import read_stream, worker_stats

pytestmark = pytest.mark.timeout(180)

STOPPED = "00000000000000a1"
MOVING = "00000000000000b2"
RSU = "rsu-border"
GARBAGE = b"\x30\x05not a frame"


def _border_x() -> float:
    """An x (m, east of TEST_FRAME's origin) where the zoom-16 tile changes."""
    lat, lon = TEST_FRAME.to_wgs84(0.0, 0.0)
    first = tile_of(float(lat), float(lon))
    for x in range(0, 2000, 5):
        lat, lon = TEST_FRAME.to_wgs84(float(x), 0.0)
        if tile_of(float(lat), float(lon)) != first:
            return float(x)
    raise AssertionError("no tile border within 2 km")


def test_a_stopped_vehicle_is_one_event_and_one_rsi_from_its_tiles_owner(tmp_path: Path) -> None:
    border = _border_x()
    x_stop, x_move = border - 60.0, border + 60.0
    lat, lon = TEST_FRAME.to_wgs84(x_stop, 0.0)
    tile_a = tile_of(float(lat), float(lon))
    tile_b = tile_of(*(float(v) for v in TEST_FRAME.to_wgs84(x_move, 0.0)))
    assert tile_a != tile_b
    logs = tmp_path
    origin = (TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg)
    received: list[tuple[str, bytes]] = []
    with NatsServer(name="e0") as server, Mosquitto() as broker:
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
        registry = DeviceRegistry()
        registry.add(
            Device(
                device_id=RSU,
                kind=DeviceKind.RSU,
                tenant="default",
                lat_deg=float(lat),
                lon_deg=float(lon) + 0.001,
            )
        )
        gw_runtime = Runtime(
            frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock(), rsus=registry.rsus()
        )
        gateway = Platform(
            gw_runtime,
            registry,
            nats_urls=[server.url],
            role="gateway",
            mqtt_url=broker.url,
            mqtt_client_id="gw-events",
        )
        rsu = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=RSU)
        rsu.on_message = lambda c, u, msg: received.append((msg.topic, msg.payload))
        try:
            for proc in procs:  # they start while the gateway compiles its message sets
                proc.start()
            gateway.start()
            rsu.connect(broker.host, broker.port)
            rsu.subscribe(f"V2X/RSU/{RSU}/RSI/DOWN", qos=1)
            rsu.loop_start()
            bench = ClusterPlatform(
                urls=[server.url], workers=2, message_set="csae2020", home=origin
            )
            try:
                owners = bench.prepare([tile_a, tile_b])
                assert owners[tile_a] != owners[tile_b]
                t0 = int(time.time() * 1000) // 1000 * 1000
                for k in range(105):  # 26 s of stream time: the standstill clock needs 20 s
                    t = t0 + 250 * k
                    for pid, x, v in ((STOPPED, x_stop, 0.0), (MOVING, x_move + 1.0 * k, 4.0)):
                        bsm = bsm_at(pid, x_m=x, y_m=0.0, t_ms=t, speed_mps=v, heading_deg=90.0)
                        raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
                        bench.ingest_frame(raw, received_at_ms=t, source=f"obu-{pid[-2:]}")
                    if k == 3:  # one frame no worker can decode (filed in tile_a)
                        bench.ingest_frame(GARBAGE, received_at_ms=t, source="obu-garbled")
                    bench.tick(t)
            finally:
                bench.close()
            deadline = time.monotonic() + 15
            while not received and time.monotonic() < deadline:
                gateway.before_tick(int(time.time() * 1000))
                time.sleep(0.05)
            gw_stats = gateway.stats()
        finally:
            processes.stop_all([p.proc for p in procs if p.proc is not None], name="worker")
            rsu.loop_stop()
            rsu.disconnect()
            gateway.stop()
        events = read_stream(server.url, backbone.EVENTS)
        deliveries = read_stream(server.url, backbone.DELIVERIES)
        dead = read_stream(server.url, backbone.DEAD)

    owner = owners[tile_a]
    assert events, "no event on V2X_EVENTS"
    decoded = [msgspec.json.decode(m.data, type=RoadEvent) for m in events]
    assert {e.kind for e in decoded} == {"stopped_vehicle"}
    assert {m.subject for m in events} == {f"evt.default.{tile_a}.stopped_vehicle"}
    assert {m.headers["V2X-Worker"] for m in events} == {owner}  # its tile's owner only
    assert len({m.headers[backbone.HEADER_EVENT] for m in events}) == 1  # one event
    assert {e.event_id for e in decoded} == {stable_event_id("stopped_vehicle", STOPPED)}
    assert len({e.start_ms for e in decoded}) == 1
    # one report per detection round (1 Hz), each stored once
    seconds = Counter(m.headers[backbone.HEADER_MSG_ID] for m in events)
    assert max(seconds.values()) == 1 and 3 <= len(events) <= 8, len(events)

    rsi = [m for m in deliveries if m.subject.endswith(".rsi")]
    bodies = [msgspec.json.decode(m.data, type=backbone.RsiDelivery) for m in rsi]
    reasons = Counter(b.reason for b in bodies)
    assert reasons["new"] == 1, reasons  # one RSI delivery; then its 1 s refreshes/updates
    assert set(reasons) <= {"new", "update", "refresh"}  # update: its description's time
    assert {m.subject for m in rsi} == {f"dlv.default.{tile_a}.rsi"}
    assert {b.event.event_id for b in bodies} == {stable_event_id("stopped_vehicle", STOPPED)}
    new = next(b for b in bodies if b.reason == "new")
    assert new.rsi_uper is not None and new.rsi_error is None
    back = decode(new.rsi_uper, message_set=MessageSet.CSAE2020, received_at_ms=new.at_ms)
    assert isinstance(back, Decoded)
    model = back.to_model()
    assert isinstance(model, Rsi) and [e.event_id for e in model.events] == [new.event.event_id]
    assert model.rsu_id == scope_sender_id(f"edge:{tile_a}")  # rteId is unique per sender

    counts = {p.worker_id: dict(worker_stats(logs / f"{p.worker_id}.log")["counts"]) for p in procs}
    other = next(w for w in counts if w != owner)
    assert counts[other].get("events", 0) == 0 and counts[other].get("events_not_mine", 0) > 0
    assert counts[owner]["events"] == len(events)

    # the undecodable frame: one dead letter on V2X_DEAD, raw bytes kept
    letters = [msgspec.json.decode(m.data, type=DeadLetter) for m in dead]
    garbled = [d for d in letters if d.source == "obu-garbled"]
    assert len(garbled) == 1 and garbled[0].raw == GARBAGE, letters
    assert counts[owner].get("dead_letters", 0) >= 1

    # the gateway sent the RSI down to the RSU near the event
    assert received, gw_stats["warnings"]
    topic, body = received[0]
    assert topic == f"V2X/RSU/{RSU}/RSI/DOWN"
    doc = json.loads(body)
    assert doc["msgType"] == "RSI" and doc["reason"] == "new"
    assert gw_stats["warnings"]["rsi_to_downlink"] >= 1
