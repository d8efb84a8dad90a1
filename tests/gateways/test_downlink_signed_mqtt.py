"""The platform signs what it sends: over a real Mosquitto (started by the test), an OBU
receives its advisory and an RSU its RSI as signed secured frames; both verify against the
PKI's root and carry what was sent; a tampered copy fails (bad_signature), a replayed one is
refused (replay)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.cli._platform import Platform, downlink_signer
from v2xcloud.codec import Decoded, MessageSet, decode
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Advisory, AdvisoryLevel, Device, DeviceKind, DropReason, RoadEvent, Rsi
from v2xcloud.runtime import Runtime
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.dissemination import Delivery
from v2xcloud.security.aid import aid_of
from v2xcloud.security.pki import init_pki, load_pki
from v2xcloud.security.verify import Policy, Rejection, Verified, stage_from_pki
from v2xcloud.twin.testing import TEST_FRAME

from ._devices import Device as MqttDevice


def _wait(received: dict[str, Any], topics: set[str], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not topics <= received.keys():
        time.sleep(0.02)
    assert topics <= received.keys(), sorted(received)


def _tampered(frame: bytes, inside: bytes) -> bytes:
    at = frame.index(inside) + len(inside) // 2
    return frame[:at] + bytes([frame[at] ^ 0x04]) + frame[at + 1 :]


def test_obu_and_rsu_receive_signed_frames_that_verify(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)
    init_pki(tmp_path, devices=["obu-1", "R1"], now_ms=now, with_tls=False)
    lat, lon = TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU))
    registry.add(Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=lat, lon_deg=lon))
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    platform = Platform(
        runtime,
        registry,
        mqtt_url=mosquitto.url,
        mqtt_client_id="platform-signed",
        downlink_signer=downlink_signer(str(tmp_path)),
    )
    received: dict[str, Any] = {}
    lock = threading.Lock()

    def keep(topic: str, payload: bytes) -> None:
        with lock:
            received[topic] = json.loads(payload)

    obu = MqttDevice(mosquitto, "obu-1-down")
    rsu = MqttDevice(mosquitto, "rsu-R1-down")
    obu.on_message = rsu.on_message = keep
    obu.client.subscribe("V2X/OBU/obu-1/ADVISORY/DOWN", qos=1)
    rsu.client.subscribe("V2X/RSU/R1/+/DOWN", qos=1)
    platform.start()
    try:
        time.sleep(0.3)
        advisory = Advisory(
            app="FCW",
            level=AdvisoryLevel.WARNING,
            ego_id="obu-1",
            issued_ms=now,
            expires_ms=now + 3000,
            ttc_s=2.1,
        )
        event = RoadEvent(
            event_id=3, event_type=100, source="detection", lat_deg=lat, lon_deg=lon,
            radius_m=50.0, start_ms=now,
        )  # fmt: skip
        assert platform.downlink is not None
        platform.downlink.deliver(
            [
                Delivery(key="FCW|obu-1", reason="new", at_ms=now, payload=advisory,
                         participants=("obu-1",)),
                Delivery(key="event|3", reason="new", at_ms=now, payload=event, rsus=("R1",)),
            ],
            now_ms=now,
        )  # fmt: skip
        adv_topic, rsi_topic = "V2X/OBU/obu-1/ADVISORY/DOWN", "V2X/RSU/R1/RSI/DOWN"
        _wait(received, {adv_topic, rsi_topic})
    finally:
        obu.close()
        rsu.close()
        platform.stop()
    pki = load_pki(tmp_path)
    receiver = stage_from_pki(pki, policy=Policy.parse("require"), known_devices=False)
    at = now + 50

    adv_doc = received[adv_topic]
    assert adv_doc["msgType"] == "ADVISORY" and adv_doc["encoding"] == "secured-json-hex"
    assert "advisory" not in adv_doc  # the content travels only inside the signed frame
    adv_frame = bytes.fromhex(adv_doc["data"])
    verified = receiver.process(adv_frame, kind="platform", now_ms=at)
    assert isinstance(verified, Verified), verified
    assert (
        verified.aid == aid_of("ADVISORY") and verified.signer == pki.certificate("platform").digest
    )
    assert json.loads(verified.payload) == msgspec.to_builtins(advisory)

    rsi_doc = received[rsi_topic]
    assert rsi_doc["msgType"] == "RSI" and rsi_doc["encoding"] == "secured-uper-hex"
    rsi_frame = bytes.fromhex(rsi_doc["data"])
    verified_rsi = receiver.process(rsi_frame, kind="platform", now_ms=at)
    assert isinstance(verified_rsi, Verified) and verified_rsi.aid == aid_of("RSI")
    decoded = decode(verified_rsi.payload, message_set=MessageSet.CSAE2020, received_at_ms=at)
    assert isinstance(decoded, Decoded)
    rsi = decoded.to_model()
    assert isinstance(rsi, Rsi) and rsi.events[0].event_type == 100

    fresh = stage_from_pki(pki, policy=Policy.parse("require"), known_devices=False)
    for frame, inside in ((adv_frame, verified.payload), (rsi_frame, verified_rsi.payload)):
        refused = fresh.process(_tampered(frame, inside), kind="platform", now_ms=at)
        assert isinstance(refused, Rejection) and refused.reason is DropReason.BAD_SIGNATURE
    replayed = receiver.process(adv_frame, kind="platform", now_ms=at + 10)
    assert isinstance(replayed, Rejection) and replayed.reason is DropReason.REPLAY
    assert (
        platform.downlink.counts["signed"] == 2
        and platform.stats()["downlink_signer"]["signed.ADVISORY"] == 1
    )
