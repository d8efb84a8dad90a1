"""Simulated devices on a real broker: one client per device, its own topics, QoS 1, order kept."""

from __future__ import annotations

import asyncio
import time

import msgspec
import paho.mqtt.client as mqtt
import pytest

from v2xcloud.codec import encode, encode_model, message_set_of
from v2xcloud.errors import ConfigError, SimulationError
from v2xcloud.gateways.base import DeviceKind
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.sim.devices import (
    Device,
    DeviceDirectory,
    MqttDevices,
    PayloadFormat,
    broker_address,
    heartbeat_payload,
    render_payload,
)
from v2xcloud.twin.testing import bsm_at


class _Recorder:
    """A plain paho subscriber on every up-link topic, on its own thread."""

    def __init__(self, broker: Mosquitto) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="recorder")
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("V2X/#", qos=1)
        self.client.loop_start()
        time.sleep(0.2)  # SUBACK

    def wait(self, n: int, timeout_s: float = 10.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout_s
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.got)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _clients_of(broker: Mosquitto) -> set[str]:
    """Client ids the broker logged as connected."""
    assert broker.log_path is not None
    text = broker.log_path.read_text()
    return {ln.split(" as ")[1].split(" ")[0] for ln in text.splitlines() if " as " in ln}


def test_each_device_publishes_on_its_own_topic_in_order(broker: Mosquitto) -> None:
    rec = _Recorder(broker)
    obus = [Device(DeviceKind.OBU, f"5a{k:014x}") for k in range(5)]
    rsu = Device(DeviceKind.RSU, "52000000000001")

    async def run() -> dict[str, int]:
        devs = MqttDevices(broker.url)
        await devs.start()
        for seq in range(20):
            items = [(d, "BSM", f"{d.device_id}:{seq}".encode()) for d in obus]
            items.append((rsu, "RSM", f"rsm:{seq}".encode()))
            await devs.publish(items)
        await devs.flush(10.0)
        await devs.stop()
        return devs.stats()

    stats = asyncio.run(run())
    got = rec.wait(120)
    rec.close()
    assert stats["published"] == stats["acked"] == 120 and stats["failed"] == 0
    assert stats["clients"] == 6 and stats["multiplexed_devices"] == 0
    assert len(got) == 120
    for d in obus:
        topic = f"V2X/OBU/{d.device_id}/BSM/UP"
        assert [p for t, p in got if t == topic] == [
            f"{d.device_id}:{s}".encode() for s in range(20)
        ]
    assert [p for t, p in got if t == "V2X/RSU/52000000000001/RSM/UP"][:3] == [
        b"rsm:0",
        b"rsm:1",
        b"rsm:2",
    ]
    assert {d.client_id for d in [*obus, rsu]} <= _clients_of(broker)


def test_devices_past_the_client_cap_share_connections_but_keep_their_topics(
    broker: Mosquitto,
) -> None:
    rec = _Recorder(broker)
    obus = [Device(DeviceKind.OBU, f"5a{k:014x}") for k in range(7)]

    async def run() -> dict[str, int]:
        devs = MqttDevices(broker.url, max_clients=3)
        await devs.start()
        for seq in range(10):
            await devs.publish((d, "BSM", bytes([k, seq])) for k, d in enumerate(obus))
        await devs.flush(10.0)
        await devs.stop()
        return devs.stats()

    stats = asyncio.run(run())
    got = rec.wait(70)
    rec.close()
    assert stats["clients"] == 3 and stats["devices"] == 7 and stats["multiplexed_devices"] == 4
    for k, d in enumerate(obus):
        mine = [p for t, p in got if t == d.topic("BSM")]
        assert mine == [bytes([k, s]) for s in range(10)]


def test_unreachable_broker_is_a_clear_error() -> None:
    async def run() -> None:
        devs = MqttDevices("mqtt://127.0.0.1:1")  # nothing listens on port 1
        await devs.start()
        try:
            await devs.publish([(Device(DeviceKind.OBU, "5a01"), "BSM", b"x")])
        finally:
            await devs.stop()

    with pytest.raises(SimulationError, match=r"127\.0\.0\.1:1 unreachable for obu-5a01"):
        asyncio.run(run())


def test_payload_formats_carry_the_same_frame() -> None:
    ms = message_set_of("csae2020")
    raw = bytes(
        encode_model(
            bsm_at("5a00000000000001", x_m=3.0, y_m=4.0, t_ms=1_000, speed_mps=9.5), message_set=ms
        )
    )
    assert render_payload(raw, PayloadFormat.UPER, message_set="csae2020") == raw
    hex_text = render_payload(raw, PayloadFormat.HEX, message_set="csae2020")
    assert bytes.fromhex(hex_text.decode()) == raw
    doc = msgspec.json.decode(render_payload(raw, PayloadFormat.JSON, message_set="csae2020"))
    assert "bsmFrame" in doc
    assert bytes(encode(doc, message_set=ms)) == raw
    with pytest.raises(SimulationError, match="cannot render frame as CSAE JSON"):
        render_payload(b"\xff\xff", PayloadFormat.JSON, message_set="csae2020")


def test_directory_maps_bench_senders_to_devices() -> None:
    directory = DeviceDirectory(bsm_id=lambda sumo: "5a" + sumo.zfill(14), rsu_at_node={"C": "52a"})
    assert directory.device_for("7", "BSM") == Device(DeviceKind.OBU, "5a00000000000007")
    assert directory.device_for("rsu-C", "SPAT") == Device(DeviceKind.RSU, "52a")
    assert directory.device_for("rsu-N", "MAP") == Device(DeviceKind.RSU, "rsu-N")
    assert directory.device_for("52a", "RSM") == Device(DeviceKind.RSU, "52a")
    assert [d.device_id for d in directory.rsus()] == ["52a", "rsu-N"]
    with pytest.raises(SimulationError, match="cannot be an MQTT topic level"):
        directory.device_for("a/b", "RSM")


def test_broker_url_and_heartbeat() -> None:
    assert broker_address("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884)
    assert broker_address("localhost") == ("localhost", 1883)
    with pytest.raises(ConfigError, match="mqtt://HOST:PORT"):
        broker_address("http://x:1")
    assert msgspec.json.decode(heartbeat_payload("52a", 5)) == {"rsuEsn": "52a", "timestamp": 5}
