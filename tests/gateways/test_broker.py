"""The Mosquitto launcher against the real broker: start, QoS 1 round trip, crash and restart."""

from __future__ import annotations

import os
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.broker import Mosquitto


def _client(broker: Mosquitto, client_id: str, *, clean: bool) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=mqtt.MQTTv311,
    )
    client.connect(broker.host, broker.port, keepalive=10)
    return client


def test_config_raises_the_queue_limits_and_persists() -> None:
    text = Mosquitto(port=1883, max_queued_messages=0).config_text()
    assert "listener 1883 127.0.0.1" in text
    assert "max_queued_messages 0" in text  # 0 = unlimited in Mosquitto 2.x
    assert "max_queued_bytes 1073741824" in text
    assert "persistence true" in text
    assert "allow_anonymous true" in text
    secured = Mosquitto(port=1883, password_file="/etc/pw").config_text()
    assert "allow_anonymous false" in secured and "password_file /etc/pw" in secured


def test_starts_on_a_free_port_and_stops_by_pid(mosquitto: Mosquitto) -> None:
    assert mosquitto.port > 0 and mosquitto.pid is not None
    pid = mosquitto.pid
    mosquitto.terminate()
    assert mosquitto.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_queued_qos1_messages_survive_a_crash_beyond_the_stock_limit(
    mosquitto: Mosquitto,
) -> None:
    """1100 QoS 1 messages for an offline persistent subscriber (stock Mosquitto keeps 1000),
    then SIGKILL and restart: all 1100 are delivered from persistence."""
    sub = _client(mosquitto, "slow-subscriber", clean=False)
    sub.subscribe("t/#", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    sub.loop_stop()
    sub.disconnect()

    pub = _client(mosquitto, "publisher", clean=True)
    pub.loop_start()
    infos = [pub.publish("t/x", str(i).encode(), qos=1) for i in range(1100)]
    for info in infos:
        info.wait_for_publish(timeout=10)
    assert all(info.is_published() for info in infos)
    pub.loop_stop()
    pub.disconnect()
    time.sleep(0.3)  # the snapshot is written after each change (autosave_interval 1)

    old_port = mosquitto.port
    mosquitto.restart(crash=True)
    assert mosquitto.port == old_port and mosquitto.starts == 2

    got: set[int] = set()
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        got.add(int(msg.payload))
        if len(got) == 1100:
            done.set()

    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="slow-subscriber", clean_session=False
    )
    sub.on_message = on_message
    sub.connect(mosquitto.host, mosquitto.port)
    sub.loop_start()
    try:
        done.wait(timeout=20)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert len(got) == 1100


def test_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(GatewayError, match="cannot run mosquitto"):
        Mosquitto(binary="/nonexistent/mosquitto").start()
