"""A minimal device for the gateway tests: a paho-mqtt 2 client on its own network thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from v2xcloud.gateways.broker import Mosquitto


class Device:
    """Publishes QoS 1 with a persistent session; counts what the broker acknowledged."""

    def __init__(self, broker: Mosquitto, client_id: str) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.acked: set[int] = set()  # sequence numbers the broker PUBACKed
        self._by_mid: dict[int, int] = {}
        self._early: set[int] = set()  # mids acknowledged before publish() recorded them
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.on_message: Callable[[str, bytes], None] | None = None
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()

    def _on_publish(
        self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object
    ) -> None:
        with self._lock:
            seq = self._by_mid.pop(mid, None)
            if seq is not None:
                self.acked.add(seq)
            else:  # acknowledged before publish() noted its mid
                self._early.add(mid)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self.on_message is not None:
            self.on_message(msg.topic, msg.payload)

    def publish(self, topic: str, payload: bytes, seq: int = -1) -> None:
        """Queue one QoS 1 publish (paho resends it after a reconnect until acknowledged)."""
        # paho calls on_publish holding its message lock: calling publish() under our lock
        # would take the two locks in the opposite order (a deadlock seen under load)
        info = self.client.publish(topic, payload, qos=1)
        with self._lock:
            if seq < 0:
                self._early.discard(info.mid)
            elif info.mid in self._early:
                self._early.discard(info.mid)
                self.acked.add(seq)
            else:
                self._by_mid[info.mid] = seq

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1."""
        self.client.subscribe(topic, qos=1)

    def close(self) -> None:
        """Stop the network thread and disconnect."""
        self.client.disconnect()
        self.client.loop_stop()
