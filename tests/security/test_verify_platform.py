"""Signed frames through the platform's real receive path: UDP datagrams (WSMP around 1609.2
signed data) into the UDP gateway, the ingest path, the runtime's frame guard (the security
stage of ``serve --pki DIR``) and the scene. A signed BSM becomes a participant; a tampered,
an unsigned and a replayed one become dead letters with their reasons."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import pytest

from _polling import until as _until
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.cli._platform import Platform, security_stage
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.ieee1609 import encode_psid
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device, DeviceKind
from v2xcloud.runtime import Runtime, SystemClock
from v2xcloud.security.pki import init_pki
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


def _wsm(data: bytes, psid: int = 0x20) -> bytes:
    """WSMP v3, TPID 0, the PSID, a one- or two-octet length, the data."""
    length = bytes([len(data)]) if len(data) < 128 else (0x8000 | len(data)).to_bytes(2, "big")
    return bytes([0x03, 0x00]) + encode_psid(psid) + length + data


def _bsm(pid: str, t_ms: int) -> bytes:
    bsm = bsm_at(pid, x_m=0, y_m=0, t_ms=t_ms, speed_mps=8.0)
    return encode_model(bsm, message_set=MessageSet.CSAE2020)


@pytest.mark.parametrize("profile", list(SecurityProfile))
def test_signed_bsm_becomes_a_participant_tampered_a_dead_letter(
    tmp_path: Path, profile: SecurityProfile
) -> None:
    pki = init_pki(tmp_path, profile=profile, devices=["obu-1"], now_ms=int(time.time() * 1000),
                   with_tls=False)  # fmt: skip
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU, addresses=("127.0.0.1",)))
    runtime = Runtime(
        frame=TEST_FRAME,
        apps=[],
        detectors=(),
        clock=SystemClock(),
        guard=security_stage(str(tmp_path), "require"),
    )
    base = random.randrange(20_000, 40_000, 10)
    platform = Platform(runtime, registry, udp=f"127.0.0.1:{base}")
    platform.start()
    live = RuntimeLive(runtime, before_tick=platform.before_tick)
    live.start(hz=20)
    signer = FrameSigner.for_device(pki, "obu-1")
    try:
        now = int(time.time() * 1000)
        good = signer.sign(_bsm("00000000000000a1", now), generation_time_ms=now)
        tampered = bytearray(signer.sign(_bsm("00000000000000b2", now), generation_time_ms=now))
        tampered[-1] ^= 0x01
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(_wsm(good), ("127.0.0.1", base + 1))  # the BSM port
            sock.sendto(bytes(tampered), ("127.0.0.1", base))  # bare 1609.2, generic port
            sock.sendto(_bsm("00000000000000c3", now), ("127.0.0.1", base + 1))  # unsigned
            sock.sendto(_wsm(good), ("127.0.0.1", base + 1))  # the same frame again
        expected = {"bad_signature": 1, "unsigned": 1, "replay": 1}
        assert _until(lambda: runtime.stats()["dead_letters"] == expected, 10), (
            runtime.stats()["dead_letters"], runtime.dead_letters.recent(),
        )  # fmt: skip
        assert _until(lambda: runtime.stats()["messages_in"] == {"Bsm": 1}, 5)
        assert _until(lambda: runtime.view is not None and len(runtime.view.ids) == 1, 5)
        assert runtime.view is not None and runtime.view.ids == ["00000000000000a1"]
        letters = {d.reason.value: d for d in runtime.dead_letters.recent()}
        assert letters["bad_signature"].raw == bytes(tampered)  # kept as received
        assert letters["bad_signature"].source == "obu-1"
        assert letters["replay"].detail.startswith("security: ")
        guard = runtime.stats()["guard"]
        assert guard["verified"] == 1 and guard["rejected.bad_signature"] == 1
        udp = platform.stats()["udp"]
        assert udp["signed_kept"] == 3 and "dropped.signed_unverified" not in udp
        health = platform.health.snapshot("obu-1", int(time.time() * 1000))
        assert health["dead_letters"] == expected
    finally:
        live.stop()
        platform.stop()


def test_security_stage_needs_a_pki(tmp_path: Path) -> None:
    assert security_stage(None, None) is None
    with pytest.raises(ConfigError, match="pki init"):
        security_stage(str(tmp_path / "none"), "require")


def test_signed_bsm_over_mqtt_policy_per_kind(tmp_path: Path) -> None:
    """Through Mosquitto (started here) and the MQTT gateway: an OBU's signed BSM is a
    participant, its unsigned one is refused (OBUs must sign), a tampered one is a dead letter
    with its reason; a radar's unsigned track JSON passes (radars: verify-if-signed)."""
    import paho.mqtt.client as mqtt

    from v2xcloud.gateways.broker import Mosquitto

    pki = init_pki(tmp_path / "pki", profile=SecurityProfile.CN, devices=["obu-1"],
                   now_ms=int(time.time() * 1000), with_tls=False)  # fmt: skip
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU))
    registry.add(Device(device_id="radar-1", kind=DeviceKind.RADAR))
    runtime = Runtime(
        frame=TEST_FRAME,
        apps=[],
        detectors=(),
        clock=SystemClock(),
        guard=security_stage(str(tmp_path / "pki"), "require,radar=verify-if-signed"),
    )
    broker = Mosquitto()
    broker.start()
    platform = Platform(runtime, registry, mqtt_url=broker.url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-devices")
    live: RuntimeLive | None = None
    try:
        platform.start()
        live = RuntimeLive(runtime, before_tick=platform.before_tick)
        live.start(hz=20)
        client.connect(broker.host, broker.port)
        client.loop_start()
        signer = FrameSigner.for_device(pki, "obu-1")
        now = int(time.time() * 1000)
        good = signer.sign(_bsm("00000000000000a1", now), generation_time_ms=now)
        tampered = bytearray(signer.sign(_bsm("00000000000000b2", now), generation_time_ms=now))
        tampered[-1] ^= 0x01
        track = (
            b'{"timeStamp": %d, "targets": [{"targetId": 7, "targetType": 1, "latitude": 28.19,'
            b' "longitude": 112.97, "speed": 1.2, "headingAngle": 90}]}' % now
        )
        for topic, payload in (
            ("V2X/OBU/obu-1/BSM/UP", good),
            ("V2X/OBU/obu-1/BSM/UP", bytes(tampered)),
            ("V2X/OBU/obu-1/BSM/UP", _bsm("00000000000000c3", now)),
            ("V2X/RADAR/radar-1/TRACK/UP", track),
        ):
            client.publish(topic, payload, qos=1).wait_for_publish(5)
        assert _until(lambda: sum(runtime.stats()["dead_letters"].values()) == 2, 10), (
            runtime.dead_letters.recent()
        )
        assert runtime.stats()["dead_letters"] == {"unsigned": 1, "bad_signature": 1}
        assert _until(lambda: runtime.stats()["messages_in"].get("Bsm") == 1, 5)
        assert _until(
            lambda: runtime.view is not None and "00000000000000a1" in runtime.view.ids, 5
        )
        guard = runtime.stats()["guard"]
        assert guard["verified"] == 1 and guard["unsigned_passed"] == 1
    finally:
        if live is not None:
            live.stop()
        client.loop_stop()
        client.disconnect()
        platform.stop()
        broker.stop()
