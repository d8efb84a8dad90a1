"""MqttGateway against a real Mosquitto: routing, drops, and a broker crash mid-stream."""

from __future__ import annotations

import asyncio
import time

import pytest

from v2xcloud.errors import ConfigError, GatewayError
from v2xcloud.gateways.base import DeviceKind, IngressQueue
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.mqtt import MqttGateway, parse_mqtt_url
from v2xcloud.model import DeadLetter, DropReason

from ._devices import Device


def test_url_parsing() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884)
    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883)
    with pytest.raises(ConfigError, match="mqtt://HOST"):
        parse_mqtt_url("http://x")


async def _until(predicate, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def test_routes_frames_acks_and_drops(mosquitto: Mosquitto) -> None:
    async def main() -> None:
        queue = IngressQueue(capacity=3)
        letters: list[DeadLetter] = []
        acks: list[tuple[str, str, bytes]] = []
        gw = MqttGateway(
            mosquitto.url,
            queue,
            dead_letter=letters.append,
            max_payload_bytes=100,
            on_ack=lambda esn, t, p, ms: acks.append((esn, t, p)),
            client_id="gw-routes",
        )
        await gw.start()
        dev = Device(mosquitto, "rsu-R1")
        try:
            dev.publish("V2X/RSU/R1/RSM/UP", b"\x01\x02")
            dev.publish("V2X/RSU/R1/HB/UP", b"{}")
            dev.publish("V2X/RSU/R1/FOO/UP", b"x")  # not in the tree (our wildcard matches it)
            dev.publish("V2X/RSU/R1/BSM/UP", b"z" * 101)  # oversize
            dev.publish("V2X/RSU/R1/RSI/DOWN/ACK", b'{"seqNum": 4, "errorCode": 0}')
            dev.publish("V2X/OBU/car9/BSM/UP", b"\x03")
            dev.publish("V2X/RADAR/rad1/TRACK/UP", b"{}")  # the queue holds 3: this one is full
            assert await _until(lambda: len(letters) == 3 and len(acks) == 1, 10)
        finally:
            dev.close()
            await gw.stop()
        frames = queue.drain()
        assert [(f.device_id, f.device_kind, f.message_type) for f in frames] == [
            ("R1", DeviceKind.RSU, "RSM"),
            ("R1", DeviceKind.RSU, "HB"),
            ("car9", DeviceKind.OBU, "BSM"),
        ]
        assert frames[0].payload == b"\x01\x02" and frames[0].transport == "mqtt"
        assert [d.reason for d in letters] == [
            DropReason.UNKNOWN_TOPIC,
            DropReason.OVERSIZE,
            DropReason.QUEUE_FULL,
        ]
        assert len(letters[1].raw) == 100 and "101 bytes" in letters[1].detail
        assert acks == [("R1", "RSI", b'{"seqNum": 4, "errorCode": 0}')]
        stats = gw.stats()
        assert stats["frames_in"] == 3 and stats["dropped.queue_full"] == 1

    asyncio.run(main())


def test_start_fails_clearly_without_a_broker() -> None:
    async def main() -> None:
        gw = MqttGateway(
            "mqtt://127.0.0.1:9",
            IngressQueue(),
            dead_letter=lambda d: None,
            connect_timeout_s=0.5,
            client_id="gw-nobroker",
        )
        with pytest.raises(GatewayError, match="not reachable"):
            await gw.start()

    asyncio.run(main())


def test_broker_crash_mid_stream_loses_no_acknowledged_message(mosquitto: Mosquitto) -> None:
    """A device streams numbered QoS 1 messages; the broker is SIGKILLed and restarted in the
    middle. The gateway reconnects and resubscribes, and every message the broker acknowledged
    to the device reaches the ingress queue (duplicates allowed: QoS 1 is at-least-once)."""

    async def main() -> None:
        queue = IngressQueue(capacity=100_000)
        letters: list[DeadLetter] = []
        gw = MqttGateway(
            mosquitto.url,
            queue,
            dead_letter=letters.append,
            client_id="gw-crash",
            backoff_initial_s=0.05,
            backoff_max_s=0.5,
        )
        await gw.start()
        dev = Device(mosquitto, "rsu-crash")
        received: list[int] = []

        def drain() -> None:
            received.extend(int(f.payload) for f in queue.drain())

        total = 600
        try:
            for seq in range(total):
                dev.publish("V2X/RSU/R7/RSM/UP", str(seq).encode(), seq)
                if seq == total // 2:
                    await asyncio.sleep(0.2)
                    await asyncio.to_thread(mosquitto.restart, crash=True)
                await asyncio.sleep(0.004)
                drain()
            assert await _until(lambda: len(dev.acked) == total, 20), "device not acked"
            await _until(lambda: (drain(), set(received) >= dev.acked)[1], 20)
        finally:
            dev.close()
            await gw.stop()
        drain()
        assert mosquitto.starts == 2
        assert gw.stats()["connects"] >= 2  # reconnected (and resubscribed) after the crash
        missing = dev.acked - set(received)
        assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:10]}"
        assert letters == []

    asyncio.run(main())


def test_burst_of_varied_packets_arrives_whole_in_order_and_acknowledged(
    mosquitto: Mosquitto,
) -> None:
    """The gateway's own PUBLISH reading from its buffer: packets of 1-, 2- and 3-byte
    remaining lengths cut across the 256 KiB read chunks, QoS 0 among QoS 1, a UTF-8 topic;
    each arrives whole and in order, every QoS 1 one is acknowledged, the PUBACKs in batches."""

    def payload(k: int) -> bytes:
        size = (k * 7919) % 40_000 if k % 3 else k % 100  # small and large, mixed
        return bytes([k % 251]) * size + k.to_bytes(4, "big")

    async def main() -> None:
        queue = IngressQueue(capacity=10_000)
        letters: list[DeadLetter] = []
        gw = MqttGateway(
            mosquitto.url,
            queue,
            dead_letter=letters.append,
            max_payload_bytes=100_000,
            client_id="gw-burst",
        )
        await gw.start()
        dev = Device(mosquitto, "obu-burst")
        n = 600
        qos1 = {k for k in range(n) if k % 10 != 5}
        try:
            for k in range(n):
                topic = "V2X/OBU/车-7/BSM/UP" if k % 50 == 0 else "V2X/OBU/car7/BSM/UP"
                if k % 10 == 5:
                    dev.client.publish(topic, payload(k), qos=0)
                else:
                    dev.publish(topic, payload(k), seq=k)
            assert await _until(lambda: len(queue) == n, 30), f"{len(queue)} of {n} frames"
            assert await _until(lambda: dev.acked >= qos1, 10)
        finally:
            dev.close()
            await gw.stop()
        frames = queue.drain()
        order = [int.from_bytes(f.payload[-4:], "big") for f in frames]
        assert sorted(order) == list(range(n))
        assert all(f.payload == payload(k) for f, k in zip(frames, order, strict=True))
        # QoS 1 in the order sent (the device's client may send QoS 0 ahead of queued QoS 1)
        assert [k for k in order if k in qos1] == sorted(qos1)
        assert {f.device_id for f, k in zip(frames, order, strict=True) if k % 50 == 0} == {"车-7"}
        assert not letters
        stats = gw.stats()
        assert stats["frames_in"] == n
        assert 0 < stats["ack_writes"] < len(qos1)
        assert stats["drain_rounds"] >= 1 and "drain_timeouts" not in stats
        # the gateway acknowledged them all and stop() waited until the broker had taken the
        # PUBACKs (it reads them slowly: one database save each): the session, resumed at
        # once, gets none of them again
        again = IngressQueue(capacity=10_000)
        gw2 = MqttGateway(mosquitto.url, again, dead_letter=letters.append, client_id="gw-burst")
        await gw2.start()
        await asyncio.sleep(1.0)
        await gw2.stop()
        assert len(again) == 0, f"{len(again)} messages delivered again"

    asyncio.run(main())
