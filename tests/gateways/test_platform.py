"""The platform service against a real Mosquitto (started by the tests, stopped by pid): the
faults the issue lists, each counted end to end from the device's publish to the runtime."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from _polling import until as _until
from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.cli._platform import Platform
from v2xcloud.codec import MessageSet, encode_model, iter_capture_lines
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Advisory, AdvisoryLevel, Bsm, Device, DeviceKind, RoadEvent
from v2xcloud.runtime import Runtime
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from ._devices import Device as MqttDevice

ADMIN = "a" * 24


class CountingRuntime(Runtime):
    """Remembers when each BSM's participant reached the runtime (ms, system clock)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    def ingest(
        self,
        message: Any,
        *,
        received_at_ms: int,
        source: str,
        raw: bytes = b"",
        certificate_digest: str | None = None,
    ) -> bool:
        if isinstance(message, Bsm):
            with self.lock:
                self.arrived.setdefault(message.participant.id, time.time() * 1000)
        return super().ingest(
            message,
            received_at_ms=received_at_ms,
            source=source,
            raw=raw,
            certificate_digest=certificate_digest,
        )


def _bsm(seq: int, tag: int = 0) -> bytes:
    pid = f"{tag:04x}{seq:012x}"
    t_ms = int(time.time() * 1000)
    return encode_model(
        bsm_at(pid, x_m=float(seq % 50), y_m=5.0, t_ms=t_ms, speed_mps=8.0),
        message_set=MessageSet.CSAE2020,
    )


class Rig:
    """Runtime + platform + serve loop (20 Hz) + API client, around one broker."""

    def __init__(self, broker: Mosquitto, *, allow_unknown: bool = False, name: str = "p") -> None:
        self.registry = DeviceRegistry()
        lat, lon = TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg
        for obu in ("car-1", "car-2", "car-3"):
            self.registry.add(Device(device_id=obu, kind=DeviceKind.OBU))
        self.registry.add(Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=lat, lon_deg=lon))
        self.runtime = CountingRuntime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
        self.platform = Platform(
            self.runtime,
            self.registry,
            mqtt_url=broker.url,
            allow_unknown=allow_unknown,
            mqtt_client_id=f"platform-{name}",
        )
        self.platform.start()
        self.live = RuntimeLive(self.runtime, before_tick=self.platform.before_tick)
        self.ticks = 0
        self.live.subscribe(self._tick)
        self.live.start(hz=20)
        self.store = DuckDbStore(data_dir=None)
        app = create_app(
            live=self.live,
            store=self.store,
            settings=ApiSettings(admin_token=ADMIN),
            devices=self.platform,
        )
        self.api = TestClient(app)

    def _tick(self, delta: object) -> None:
        self.ticks += 1

    def letters(self) -> list[tuple[str, str]]:
        return [(d.source, d.reason) for d in self.runtime.dead_letters.recent()]

    def device(self, device_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/devices/{device_id}")
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    def close(self) -> None:
        self.live.stop()
        self.platform.stop()
        self.store.close()


@pytest.fixture
def rig(mosquitto: Mosquitto) -> Iterator[Rig]:
    r = Rig(mosquitto)
    try:
        yield r
    finally:
        r.close()


def test_broker_killed_and_restarted_mid_stream(mosquitto: Mosquitto, rig: Rig) -> None:
    """SIGKILL + restart of the broker mid-stream: the platform reconnects, resubscribes and
    keeps ticking, and every BSM the broker acknowledged to the RSU reaches the runtime."""
    rsu = MqttDevice(mosquitto, "rsu-R1")
    total = 800
    try:
        for seq in range(total):
            rsu.publish("V2X/RSU/R1/BSM/UP", _bsm(seq, 1), seq)  # forwarded BSMs, 1 per id
            if seq == total // 2:
                time.sleep(0.2)
                mosquitto.kill()
                ticks_at_kill = rig.ticks
                time.sleep(1.0)  # the broker is down for a second
                assert rig.ticks >= ticks_at_kill + 10  # the tick loop did not wait on it
                mosquitto.start()
            time.sleep(0.003)
        assert _until(lambda: len(rsu.acked) == total, 30), "broker never acknowledged all"
        ids = {f"{1:04x}{seq:012x}" for seq in rsu.acked}
        assert _until(lambda: ids <= set(rig.runtime.arrived), 30)
    finally:
        rsu.close()
    stats = rig.api.get("/api/stats").json()["gateways"]
    # it dropped, came back, and the messages published after the restart arrived through it
    assert stats["mqtt"]["disconnects"] >= 1 and stats["mqtt"]["connected"] == 1
    assert stats["queue"]["dropped"] == 0
    assert rig.letters() == []
    assert rig.device("R1")["health"]["online"]


def _map_2017(reference_dir: Path) -> bytes:
    text = (reference_dir / "captures/csae53-2017-hisense-captures.txt").read_text("utf-8")
    return [f for _, fr in iter_capture_lines(text) for f in fr][-1].frame


def test_garbage_oversize_and_wrong_version_are_dead_letters_others_unaffected(
    mosquitto: Mosquitto, rig: Rig, reference_dir: Path
) -> None:
    bad = MqttDevice(mosquitto, "obu-car-2")
    rsu = MqttDevice(mosquitto, "rsu-R1")
    good = MqttDevice(mosquitto, "obu-car-1")
    try:
        bad.publish("V2X/OBU/car-2/BSM/UP", b"\xde\xad\xbe\xef garbage")
        bad.publish("V2X/OBU/car-2/BSM/UP", b"\x00" * (64 * 1024 + 1))
        rsu.publish("V2X/RSU/R1/MAP/UP", _map_2017(reference_dir))  # R1 is csae2020
        for seq in range(10):
            good.publish("V2X/OBU/car-1/BSM/UP", _bsm(seq, 2))
            time.sleep(0.1)
        assert _until(lambda: len(rig.letters()) == 3, 10), rig.letters()
        ids = {f"{2:04x}{seq:012x}" for seq in range(10)}
        assert _until(lambda: ids <= set(rig.runtime.arrived), 10)
    finally:
        for d in (bad, rsu, good):
            d.close()
    reasons = sorted(reason for _, reason in rig.letters())
    assert reasons == ["malformed", "oversize", "wrong_version"]
    car2 = rig.device("car-2")["health"]
    assert car2["dead_letters"] == {"malformed": 1}  # oversize is refused before the device
    assert rig.device("R1")["health"]["dead_letters"] == {"wrong_version": 1}
    car1 = rig.device("car-1")["health"]
    assert car1["dead_letters"] == {} and car1["messages"] == {"BSM": 10}


def test_flooding_device_is_throttled_others_latency_unchanged(
    mosquitto_factory: type[Mosquitto],
) -> None:
    """car-3 floods at 100x a vehicle's 10 Hz; car-1 keeps its 10 Hz. car-3 is throttled
    (RATE_LIMITED, flagged), car-1 loses nothing and its publish→runtime latency stays put.
    (A broker snapshotting every 1000 changes: one per message caps it near 400 messages/s.)"""
    mosquitto = mosquitto_factory(autosave_interval=1000).start()
    rig = Rig(mosquitto, name="flood")
    try:
        _flood(mosquitto, rig)
    finally:
        rig.close()


_FLOODER = """
import sys, time
import paho.mqtt.client as mqtt
host, port, n, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="obu-car-3-flood")
c.max_inflight_messages_set(1000)
c.max_queued_messages_set(0)
c.connect(host, port)
c.loop_start()
started = time.monotonic()
infos = []
while len(infos) < n:  # 1000 messages/s
    due = min(n, int((time.monotonic() - started) * 1000)) - len(infos)
    infos += [c.publish("V2X/OBU/car-3/BSM/UP", payload, qos=1) for _ in range(max(0, due))]
    time.sleep(0.005)
elapsed = time.monotonic() - started
for info in infos:
    info.wait_for_publish(30)
c.loop_stop()
print(n, round(elapsed, 3))
"""


def _flood(mosquitto: Mosquitto, rig: Rig) -> None:
    good = MqttDevice(mosquitto, "obu-car-1")
    sent_at: dict[str, float] = {}

    def car1(seq: int) -> None:
        sent_at[f"{3:04x}{seq:012x}"] = time.time() * 1000
        good.publish("V2X/OBU/car-1/BSM/UP", _bsm(seq, 3))

    def latencies(seqs: range) -> list[float]:
        ids = [f"{3:04x}{s:012x}" for s in seqs]
        assert _until(lambda: all(i in rig.runtime.arrived for i in ids), 10)
        return sorted(rig.runtime.arrived[i] - sent_at[i] for i in ids)

    def car3_total() -> int:
        h = rig.device("car-3")["health"]
        return int(h["messages"].get("BSM", 0) + h["dead_letters"].get("rate_limited", 0))

    total = 3000  # 3 s at 1000/s, from its own process (as a real device would)
    argv = [
        sys.executable,
        "-c",
        _FLOODER,
        mosquitto.host,
        str(mosquitto.port),
        str(total),
        _bsm(0, 4).hex(),
    ]
    try:
        for seq in range(20):  # 2 s of baseline
            car1(seq)
            time.sleep(0.1)
        baseline = latencies(range(20))
        flood_started = time.monotonic()
        flooder = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(0.3)
            for seq in range(20, 45):  # 2.5 s under the flood
                car1(seq)
                time.sleep(0.1)
            out, err = flooder.communicate(timeout=60)
        finally:
            if flooder.poll() is None:
                flooder.kill()
                flooder.wait()
        assert flooder.returncode == 0, err
        sent, flood_s = int(out.split()[0]), float(out.split()[1])
        flooded = latencies(range(20, 45))
        assert _until(lambda: car3_total() == sent, 30), (car3_total(), sent)
        arrival_s = time.monotonic() - flood_started  # the bucket runs on arrival times
    finally:
        good.close()
    assert sent / flood_s >= 900  # it did flood at ~100x a vehicle's 10 Hz
    car3 = rig.device("car-3")["health"]
    assert car3["is_flooding"]
    assert car3["messages"]["BSM"] <= 20 + 20 * (arrival_s + 1)  # burst + 20/s refill
    assert car3["dead_letters"]["rate_limited"] == sent - car3["messages"]["BSM"]
    car1h = rig.device("car-1")["health"]
    assert car1h["dead_letters"] == {} and not car1h["is_flooding"]
    p90 = lambda xs: xs[int(len(xs) * 0.9)]  # noqa: E731
    # the 20 Hz tick dominates (up to 50 ms); the flood must not add more than a tick or two
    assert p90(flooded) <= max(2 * p90(baseline), p90(baseline) + 100), (baseline, flooded)


def test_rsu_that_stops_acking_gets_resends_then_link_abnormal(
    mosquitto: Mosquitto, rig: Rig
) -> None:
    rsu = MqttDevice(mosquitto, "rsu-R1-down")
    received: list[dict[str, Any]] = []
    acking = threading.Event()
    acking.set()

    def on_message(topic: str, payload: bytes) -> None:
        doc = json.loads(payload)
        received.append(doc)
        if acking.is_set():
            ack = json.dumps({"seqNum": doc["seqNum"], "errorCode": 0}).encode()
            rsu.publish(topic + "/ACK", ack)

    rsu.on_message = on_message
    rsu.subscribe("V2X/RSU/R1/+/DOWN")
    time.sleep(0.3)
    lat, lon = TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg

    def deliver(event_id: int) -> None:
        now = int(time.time() * 1000)
        event = RoadEvent(
            event_id=event_id,
            event_type=100,
            source="detection",
            lat_deg=lat,
            lon_deg=lon,
            radius_m=50.0,
            start_ms=now,
        )
        assert rig.platform.downlink is not None
        rig.platform.downlink.deliver(
            [
                Delivery(
                    key=f"event|{event_id}", reason="new", at_ms=now, payload=event, rsus=("R1",)
                )
            ],
            now_ms=now,
        )

    try:
        deliver(1)
        assert _until(lambda: rig.device("R1")["health"]["downlink"]["acked"] == 1, 5)
        first = received[0]
        assert first["msgType"] == "RSI" and first["encoding"] == "uper-hex"
        acking.clear()  # the RSU stops acknowledging
        deliver(2)
        assert _until(lambda: rig.device("R1")["health"]["downlink"]["link_abnormal"], 8)
    finally:
        rsu.close()
    second = [d for d in received if d["key"] == "event|2"]
    assert len(second) == 3  # sent, then resent twice ~1 s apart, then given up
    assert len({d["seqNum"] for d in second}) == 1 and second[0]["seqNum"] == first["seqNum"] + 1
    assert len({json.dumps(d, sort_keys=True) for d in second}) == 1  # the very same message
    down = rig.device("R1")["health"]["downlink"]
    assert down["sent"] == 2 and down["resent"] == 2 and down["acked"] == 1
    assert down["ack_rate"] == 0.5 and down["ack_latency_ms_max"] < 1000
    assert down["unanswered"] == 3 and down["gave_up"] == 1


def test_unknown_device_rejected_by_default_registered_with_allow_unknown(
    mosquitto: Mosquitto, rig: Rig
) -> None:
    stranger = MqttDevice(mosquitto, "obu-stranger")
    try:
        stranger.publish("V2X/OBU/stranger/BSM/UP", _bsm(1, 5))
        assert _until(lambda: ("stranger", "unknown_device") in rig.letters(), 5)
        assert rig.api.get("/api/devices/stranger").status_code == 404
        lab = Rig(mosquitto, allow_unknown=True, name="lab")
        try:
            time.sleep(0.3)
            stranger.publish("V2X/OBU/stranger/BSM/UP", _bsm(2, 5))
            assert _until(lambda: lab.registry.get("stranger") is not None, 5)
            assert _until(lambda: lab.device("stranger")["health"]["messages"] == {"BSM": 1}, 5)
            assert lab.device("stranger")["tenant"] == "unregistered"
        finally:
            lab.close()
    finally:
        stranger.close()
    assert rig.api.get("/api/stats").json()["gateways"]["ingest"]["dropped.unknown_device"] >= 1


def test_device_administration_over_rest(rig: Rig) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    body = {"device_id": "R2", "kind": "rsu", "lat_deg": 28.2, "lon_deg": 112.98}
    assert rig.api.post("/api/devices", json=body).status_code == 401
    assert rig.api.post("/api/devices", json=body, headers=auth).status_code == 201
    assert rig.api.post("/api/devices", json=body, headers=auth).status_code == 409
    assert (
        rig.api.post(
            "/api/devices", json={"device_id": "x", "kind": "toaster"}, headers=auth
        ).status_code
        == 422
    )
    r = rig.api.patch("/api/devices/R2", json={"range_m": 500.0}, headers=auth)
    assert r.status_code == 200 and r.json()["range_m"] == 500.0
    assert rig.api.patch("/api/devices/R2", json={"kind": "obu"}, headers=auth).status_code == 422
    assert rig.api.post("/api/devices/R2/disable", headers=auth).json()["state"] == "disabled"
    assert rig.api.post("/api/devices/nope/disable", headers=auth).status_code == 404
    listed = rig.api.get("/api/devices").json()
    assert [d["device_id"] for d in listed] == ["R1", "R2", "car-1", "car-2", "car-3"]
    assert {r.rsu_id for r in rig.runtime.delivery.disseminator.rsus} == {"R1"}  # R2 disabled


def test_an_advisory_reaches_the_vehicle_that_reported_the_participant(
    mosquitto: Mosquitto, rig: Rig
) -> None:
    """An advisory for a participant goes to the OBU whose BSMs carried it, on its cellular
    topic, as JSON with a seqNum; a participant no OBU reported gets nothing (counted)."""
    car = MqttDevice(mosquitto, "obu-car-1-adv")
    got: list[tuple[str, dict[str, Any]]] = []
    car.on_message = lambda topic, payload: got.append((topic, json.loads(payload)))
    car.subscribe("V2X/OBU/car-1/ADVISORY/DOWN")
    time.sleep(0.3)
    pid = f"{6:04x}{1:012x}"
    try:
        car.publish("V2X/OBU/car-1/BSM/UP", _bsm(1, 6))
        assert _until(lambda: rig.platform.ingest.device_of(pid) == "car-1", 5)
        now = int(time.time() * 1000)
        advisory = Advisory(
            app="FCW",
            level=AdvisoryLevel.WARNING,
            ego_id=pid,
            other_id="x",
            issued_ms=now,
            expires_ms=now + 1000,
            ttc_s=2.5,
        )
        assert rig.platform.downlink is not None
        rig.platform.downlink.deliver(
            [
                Delivery(
                    key="advisory|FCW",
                    reason="new",
                    at_ms=now,
                    payload=advisory,
                    participants=(pid, "ffffffffffffffff"),
                )
            ],
            now_ms=now,
        )
        assert _until(lambda: bool(got), 5)
    finally:
        car.close()
    topic, doc = got[0]
    assert topic == "V2X/OBU/car-1/ADVISORY/DOWN" and doc["msgType"] == "ADVISORY"
    assert doc["advisory"]["app"] == "FCW" and doc["advisory"]["ttc_s"] == 2.5
    assert isinstance(doc["seqNum"], int) and len(got) == 1
    assert rig.platform.downlink.counts["advisory_no_obu"] == 1


def test_udp_frames_are_named_by_the_registered_address(mosquitto: Mosquitto) -> None:
    """``--udp``: a raw UPER BSM from an RSU's registered address is that RSU's; the registry
    refuses to give one address to two devices."""
    import random
    import socket

    registry = DeviceRegistry()
    registry.add(Device(device_id="R9", kind=DeviceKind.RSU, addresses=("127.0.0.1",)))
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1 is 'R9'"):
        registry.add(Device(device_id="R10", kind=DeviceKind.RSU, addresses=("127.0.0.1",)))
    runtime = CountingRuntime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    base = random.randrange(20_000, 40_000, 10)
    platform = Platform(runtime, registry, udp=f"127.0.0.1:{base}")
    platform.start()
    live = RuntimeLive(runtime, before_tick=platform.before_tick)
    live.start(hz=20)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(_bsm(1, 7), ("127.0.0.1", base + 1))  # the BSM port
        assert _until(lambda: f"{7:04x}{1:012x}" in runtime.arrived, 5), (
            runtime.dead_letters.recent()
        )
        now = int(time.time() * 1000)
        assert platform.health.snapshot("R9", now)["messages"] == {"BSM": 1}
    finally:
        live.stop()
        platform.stop()
