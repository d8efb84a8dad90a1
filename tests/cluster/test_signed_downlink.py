"""Cluster mode signs the down-link as the single process does: on a real nats-server and a
real Mosquitto, an RSU registered at the gateway tier (``role="gateway"`` with the PKI's
``downlink_signer``, as ``serve --role gateway --pki DIR`` wires it) receives the RSI of an
edge worker's event (a stopped vehicle, found by a worker process) and of the centre's own
event (corridor congestion, found by a ``role="centre"`` platform from tile traffic on
``V2X_TRAFFIC``) as signed secured frames. Each verifies against the PKI's root with the
project's verifier, signed by the platform certificate under the RSI's AID, and carries the
RSI under the sender id of the tier that found the event (``scope_sender_id``: ``edge:`` /
``centre:{tile}``, so the two tiers' ``rteId`` never meet under one sender at the RSU); a
copy with one bit of its payload flipped fails (``bad_signature``)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
import pytest

from v2xcloud import processes
from v2xcloud.apps.events import CongestionDetector, LaneSample
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES
from v2xcloud.cli._platform import Platform, downlink_signer
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.nats import BackbonePublisher, Outgoing
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.model import Device, DeviceKind, DropReason, RoadEvent, Rsi
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.corridor import CorridorCongestion
from v2xcloud.runtime.identity import scope_sender_id
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.security.aid import aid_of
from v2xcloud.security.pki import Pki, init_pki, load_pki
from v2xcloud.security.verify import Policy, Rejection, Verified, stage_from_pki
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

pytestmark = pytest.mark.timeout(180)

RSU = "rsu-signed"
STOPPED = "00000000000000c3"


def _latlon(x: float, y: float) -> tuple[float, float]:
    lat, lon = TEST_FRAME.to_wgs84(x, y)
    return float(lat), float(lon)


def _border_x() -> float:
    """An x (m, east of TEST_FRAME's origin) where the zoom-16 tile changes."""
    first = tile_of(*_latlon(0.0, 0.0))
    for x in range(0, 2000, 5):
        if tile_of(*_latlon(float(x), 0.0)) != first:
            return float(x)
    raise AssertionError("no tile border within 2 km")


def _queue(x: float) -> LaneSample:
    """A 100 m approach lane at ``x`` (stop line at y = -20 m) with five cars standing on it."""
    return LaneSample(
        node_id=7,
        lane=0,
        lane_id=1,
        limit_mps=50 / 3.6,
        length_m=100.0,
        tail=(_latlon(x, -120.0), _latlon(x, -20.0)),
        green=None,  # no SPAT: a queue that stands long enough is congestion
        ids=tuple(f"car-{k}" for k in range(5)),
        to_stop_m=tuple(4.0 + 7.0 * k for k in range(5)),
        speed_mps=(0.3,) * 5,
    )


class _Rsu:
    """The RSU's MQTT client: keeps each RSI with its arrival time and acknowledges it."""

    def __init__(self, broker: Mosquitto, pki: Pki) -> None:
        self.pki = pki
        self.received: list[tuple[int, dict[str, object]]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=RSU)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"V2X/RSU/{RSU}/RSI/DOWN", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        with self._lock:
            self.received.append((int(time.time() * 1000), doc))
        ack = json.dumps({"seqNum": doc["seqNum"], "errorCode": 0})
        client.publish(f"V2X/RSU/{RSU}/RSI/DOWN/ACK", ack, qos=1)

    def senders(self) -> set[str]:
        """The sender ids of the RSI received so far that verify (or came unsigned)."""
        with self._lock:
            received = list(self.received)
        out = set()
        for at_ms, doc in received:
            if doc.get("encoding") == "uper-hex":
                out.add(_rsi(_payload(doc)).rsu_id)
                continue
            receiver = stage_from_pki(self.pki, policy=Policy.parse("require"), known_devices=False)
            verified = receiver.process(_payload(doc), kind="platform", now_ms=at_ms)
            if isinstance(verified, Verified):
                out.add(_rsi(verified.payload).rsu_id)
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _payload(doc: dict[str, object]) -> bytes:
    return bytes.fromhex(str(doc["data"]))


def _rsi(uper: bytes) -> Rsi:
    back = decode(uper, message_set=MessageSet.CSAE2020, received_at_ms=0)
    assert isinstance(back, Decoded), back
    model = back.to_model()
    assert isinstance(model, Rsi)
    return model


def _bad_delivery(now_ms: int) -> backbone.RsiDelivery:
    event = RoadEvent(event_id=9, event_type=100, source="detection", start_ms=now_ms)
    return backbone.RsiDelivery(key="event|9", reason="new", at_ms=now_ms, event=event)


def _tampered(frame: bytes, inside: bytes) -> bytes:
    at = frame.index(inside) + len(inside) // 2
    return frame[:at] + bytes([frame[at] ^ 0x04]) + frame[at + 1 :]


def _verify(pki: Pki, received: list[tuple[int, dict[str, object]]]) -> dict[str, list[Rsi]]:
    """Every RSI received, verified (and a tampered copy refused), by its sender id."""
    by_sender: dict[str, list[Rsi]] = {}
    platform_cert = pki.certificate("platform").digest
    seen: set[str] = set()
    for at_ms, doc in received:
        assert doc["msgType"] == "RSI" and doc["encoding"] == "secured-uper-hex", doc
        if doc["data"] in seen:  # a resend of the same bytes
            continue
        seen.add(str(doc["data"]))
        frame = _payload(doc)
        receiver = stage_from_pki(pki, policy=Policy.parse("require"), known_devices=False)
        verified = receiver.process(frame, kind="platform", now_ms=at_ms)
        assert isinstance(verified, Verified), verified
        assert verified.aid == aid_of("RSI") and verified.signer == platform_cert
        rsi = _rsi(verified.payload)
        by_sender.setdefault(rsi.rsu_id, []).append(rsi)
        fresh = stage_from_pki(pki, policy=Policy.parse("require"), known_devices=False)
        refused = fresh.process(_tampered(frame, verified.payload), kind="platform", now_ms=at_ms)
        assert isinstance(refused, Rejection) and refused.reason is DropReason.BAD_SIGNATURE
    return by_sender


def test_worker_and_centre_rsi_reach_the_rsu_signed_under_their_senders(tmp_path: Path) -> None:
    border = _border_x()
    x_stop, x_queue = border - 60.0, border + 60.0
    tile_edge = tile_of(*_latlon(x_stop, 0.0))
    tile_centre = tile_of(*_latlon(x_queue, -20.0))
    assert tile_centre == tile_of(*_latlon(x_queue, -60.0)) != tile_edge
    now = int(time.time() * 1000)
    pki_dir = tmp_path / "pki"
    init_pki(pki_dir, devices=[RSU], now_ms=now, with_tls=False)
    pki = load_pki(pki_dir)
    origin = (TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg)
    rsu_at = _latlon(border, -30.0)  # within 300 m of both events
    registry = DeviceRegistry()
    registry.add(Device(device_id=RSU, kind=DeviceKind.RSU, lat_deg=rsu_at[0], lon_deg=rsu_at[1]))
    with NatsServer(name="s0") as server, Mosquitto() as broker:
        urls = [server.url]
        worker = WorkerProcess(
            urls=urls,
            worker_id="w0",
            origin=origin,
            clock="stream",
            log_path=str(tmp_path / "w0.log"),
        )
        gateway = Platform(
            Runtime(frame=TEST_FRAME, apps=[], detectors=(), rsus=registry.rsus()),
            registry,
            nats_urls=urls,
            role="gateway",
            mqtt_url=broker.url,
            mqtt_client_id="gw-signed",
            downlink_signer=downlink_signer(str(pki_dir)),
        )
        remote = RemoteResults()
        corridor = CorridorCongestion(
            detector=CongestionDetector(window_s=5.0, min_duration_s=1.0, min_green_s=0.0)
        )
        centre_runtime = Runtime(
            frame=TEST_FRAME, clock=SystemClock(), apps=[remote], detectors=[corridor]
        )
        centre = Platform(
            centre_runtime,
            DeviceRegistry(),
            nats_urls=urls,
            role="centre",
            remote=remote,
            corridor=corridor,
        )
        traffic = BackbonePublisher(urls, name="test-traffic")
        rsu: _Rsu | None = None
        try:
            worker.start()  # it starts while the platforms compile their message sets
            gateway.start()
            centre.start()
            traffic.start()
            rsu = _Rsu(broker, pki)
            time.sleep(0.5)  # the RSU's subscription is in place
            # a delivery whose sender id is no RSI id: refused at the gateway's edge, counted
            bad = msgspec.to_builtins(_bad_delivery(now)) | {"sender_id": "centre:1321"}
            subject = backbone.delivery_subject("default", tile_edge, backbone.CHANNEL_RSI)
            traffic.submit(Outgoing(subject, msgspec.json.encode(bad), {}))

            # the centre: a queue standing in its tile's traffic (the workers' summaries)
            want_centre = scope_sender_id(f"centre:{tile_centre}")
            deadline = time.monotonic() + 30
            while want_centre not in rsu.senders() and time.monotonic() < deadline:
                t = int(time.time() * 1000)
                summary = backbone.TileTraffic(
                    tile=tile_centre, round_ms=t, worker="w-test", lanes=(_queue(x_queue),)
                )
                subject = backbone.traffic_subject("default", tile_centre)
                traffic.submit(Outgoing(subject, msgspec.json.encode(summary), {}))
                time.sleep(0.3)
                centre.before_tick(t)
                centre_runtime.tick(t)
                gateway.before_tick(t)

            # an edge worker: a vehicle standing 26 s (stream time) in its tile
            bench = ClusterPlatform(urls=urls, workers=1, message_set="csae2020", home=origin)
            try:
                bench.prepare([tile_edge])
                t0 = int(time.time() * 1000) // 1000 * 1000
                for k in range(105):
                    t = t0 + 250 * k
                    bsm = bsm_at(STOPPED, x_m=x_stop, y_m=0.0, t_ms=t, speed_mps=0.0)
                    raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
                    bench.ingest_frame(raw, received_at_ms=t, source="obu-c3")
                    bench.tick(t)
            finally:
                bench.close()
            want_edge = scope_sender_id(f"edge:{tile_edge}")
            deadline = time.monotonic() + 20
            while want_edge not in rsu.senders() and time.monotonic() < deadline:
                gateway.before_tick(int(time.time() * 1000))
                time.sleep(0.05)
            received = list(rsu.received)
            stats = gateway.stats()
        finally:
            if rsu is not None:
                rsu.close()
            processes.stop_all([worker.proc] if worker.proc is not None else [], name="worker")
            traffic.stop()
            centre.stop()
            gateway.stop()

    assert received, stats
    by_sender = _verify(pki, received)
    assert want_centre in by_sender, (sorted(by_sender), stats)
    assert want_edge in by_sender, (sorted(by_sender), stats)
    assert {e.event_type for r in by_sender[want_centre] for e in r.events} == {
        DEFAULT_EVENT_TYPES["congestion"]
    }
    refused = [d for d in gateway.runtime.dead_letters.recent() if "sender_id" in d.detail]
    assert stats["warnings"][backbone.DELIVERIES]["bad_payload"] == 1 and len(refused) == 1
    assert stats["downlink"]["signed"] == len({str(d["data"]) for _, d in received})
    assert stats["downlink_signer"]["signed.RSI"] >= 2
