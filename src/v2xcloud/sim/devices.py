"""Simulated devices on MQTT: every RSU, OBU and radar of a scenario as its own MQTT client.

The bench's senders become the devices a deployment has: each connected vehicle an OBU that
publishes its BSM over cellular on ``V2X/OBU/{id}/BSM/UP``; each RSU (one per signalised
intersection, plus one per roadside sensor) publishes MAP, SPAT, the RSM of what its sensor sees
and a heartbeat ``{"rsuEsn", "timestamp"}`` on ``V2X/RSU/{esn}/{type}/UP``. Payloads are the
UPER MessageFrame by default, or its hex text, or the lossless CSAE JSON (``PayloadFormat``).

``MqttDevices`` runs N paho-mqtt 2 clients on one asyncio loop: each client's socket is watched
by the loop (``add_reader``/``add_writer``), a timer calls ``loop_misc`` for keep-alives, and
QoS 1 publishes are counted when the broker's PUBACK comes back. Clients are made when a
device first speaks. Past ``max_clients`` (default 1,000, below the process's file limit)
further devices share the existing connections round-robin, each still on its own topics;
``stats()["multiplexed_devices"]`` says how many.

On an authenticated broker (``gateways.broker.BrokerAuth``) each device logs in as itself:
``credentials(device_id)`` gives its ``MqttCredentials`` (its certificate over ``mqtts://``, or
its password); such devices never share a connection (the broker lets a connection publish only
its own device's topics), so ``max_clients`` must cover them all.

``DeviceSigning`` is the hook through which the bench's devices sign their frames (each with its
own certificate) before they go on air: the test bench does not import ``security``;
``cli`` wires ``security.signers.DeviceSigners`` in. Only UPER payloads can carry a signed frame.

>>> Device(DeviceKind.OBU, "5a000000000001").topic("BSM")
'V2X/OBU/5a000000000001/BSM/UP'
>>> Device(DeviceKind.RSU, "52000000000001").topic("HB")
'V2X/RSU/52000000000001/HB/UP'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from v2xcloud.errors import ConfigError, SimulationError
from v2xcloud.gateways import topics
from v2xcloud.gateways.base import DeviceKind

__all__ = [
    "Device",
    "DeviceDirectory",
    "DeviceSigning",
    "MqttDevices",
    "PayloadFormat",
    "broker_address",
    "heartbeat_payload",
    "render_payload",
]

if TYPE_CHECKING:
    from v2xcloud.gateways.mqtt import MqttCredentials

log = logging.getLogger(__name__)


class PayloadFormat(StrEnum):
    """How a simulated device writes a frame into its MQTT payload."""

    UPER = "uper"  # the MessageFrame bytes
    HEX = "hex"  # their hex text (ASCII)
    JSON = "json"  # lossless CSAE JSON of the frame (codec.json_form)


@dataclass(frozen=True)
class Device:
    """One simulated device: its kind and the id its topics carry."""

    kind: DeviceKind
    device_id: str

    def topic(self, message_type: str) -> str:
        """The up-link topic on which this device publishes ``message_type``."""
        return topics.up(self.kind, self.device_id, message_type)

    @property
    def client_id(self) -> str:
        """The MQTT client id this device connects with."""
        return f"{self.kind.value}-{self.device_id}"


@runtime_checkable
class DeviceSigning(Protocol):
    """Signs one frame as a simulated device (see the module docstring)."""

    def sign(
        self,
        payload: bytes,
        *,
        device_id: str,
        device_kind: str,
        message_type: str,
        generation_time_ms: int,
        lat_deg: float | None = None,
        lon_deg: float | None = None,
    ) -> bytes:
        """The signed secured frame wrapping ``payload`` (a UPER MessageFrame of
        ``message_type``: ``"BSM"``, ``"RSM"``, ``"SPAT"``, ``"MAP"``), signed by device
        ``device_id`` of kind ``device_kind`` (``"obu"``, ``"rsu"``) at ``generation_time_ms``
        (UTC ms), from the position ``lat_deg``/``lon_deg`` when the frame has one. Raises
        when the device cannot sign."""
        ...

    def stats(self) -> dict[str, Any]:
        """What was signed (per message type, certificates sent in full, devices, ...)."""
        ...


def _check_id(device_id: str) -> str:
    if not device_id or any(c in device_id for c in "/+#"):
        raise SimulationError(f"device id {device_id!r} cannot be an MQTT topic level")
    return device_id


class DeviceDirectory:
    """Which device sends each of the bench's frames.

    ``bsm_id`` turns a vehicle's SUMO id into its BSM id (``IdentityMap.bsm_id``), which is
    also its OBU id; ``rsu_at_node`` names the RSU of an intersection (the roadside sensor's
    RSU id where the scenario puts one there). A frame of kind ``BSM`` comes from the vehicle's
    OBU; ``RSM`` from the RSU named by the sender; ``SPAT``/``MAP`` (sender ``"rsu-<node>"``)
    from the RSU at that node, or an RSU ``"rsu-<node>"`` where the scenario has no sensor.
    ``rsus`` names the RSUs on the road from the start (they send heartbeats before any frame).
    """

    def __init__(
        self, *, bsm_id: Any, rsu_at_node: dict[str, str], rsus: Iterable[str] = ()
    ) -> None:
        self._bsm_id = bsm_id
        self._rsu_at_node = dict(rsu_at_node)
        self._cache: dict[tuple[str, str], Device] = {}
        self._rsus = {Device(DeviceKind.RSU, _check_id(r)) for r in rsus}

    def device_for(self, sender: str, kind: str) -> Device:
        """The device that sends a frame of ``kind`` from the bench's ``sender``."""
        key = (sender, kind)
        dev = self._cache.get(key)
        if dev is None:
            if kind in ("BSM", "PSM"):  # a vehicle's OBU, a pedestrian's personal device
                dev = Device(DeviceKind.OBU, _check_id(self._bsm_id(sender)))
            elif kind in ("SPAT", "MAP", "RSI") and sender.startswith("rsu-"):
                node = sender[4:]
                dev = Device(DeviceKind.RSU, _check_id(self._rsu_at_node.get(node, sender)))
            else:
                dev = Device(DeviceKind.RSU, _check_id(sender))
            self._cache[key] = dev
        return dev

    def rsus(self) -> list[Device]:
        """Every RSU: those named at construction and those met since (they send heartbeats)."""
        met = {d for d in self._cache.values() if d.kind is DeviceKind.RSU}
        return sorted(self._rsus | met, key=lambda d: d.device_id)


def render_payload(raw: bytes, fmt: PayloadFormat, *, message_set: str) -> bytes:
    """The MQTT payload of one UPER frame in ``fmt``.

    Raises ``SimulationError`` if JSON is asked for a frame the codec cannot decode.
    """
    if fmt is PayloadFormat.UPER:
        return raw
    if fmt is PayloadFormat.HEX:
        return raw.hex().encode("ascii")
    from v2xcloud.codec import Decoded, decode, message_set_of

    result = decode(raw, message_set=message_set_of(message_set), received_at_ms=0)
    if not isinstance(result, Decoded):
        raise SimulationError(f"cannot render frame as CSAE JSON: {result.reason}: {result.detail}")
    return msgspec.json.encode(result.json)


def heartbeat_payload(esn: str, now_ms: int) -> bytes:
    """An RSU heartbeat (``V2X/RSU/{esn}/HB/UP``): its ESN and the time, as JSON."""
    return msgspec.json.encode({"rsuEsn": esn, "timestamp": now_ms})


def broker_address(url: str) -> tuple[str, int]:
    """``mqtt://host:port`` (or ``tcp://``, ``mqtts://``, or bare ``host:port``) → (host, port)."""
    from v2xcloud.gateways.mqtt import parse_mqtt_url  # aiomqtt: only when devices connect

    try:
        return parse_mqtt_url(url if "://" in url else f"mqtt://{url}")
    except ConfigError as exc:
        raise ConfigError(
            f"MQTT URL must look like mqtt://HOST:PORT or mqtts://HOST:PORT, got {url!r}"
        ) from exc


@dataclass
class _Conn:
    """One MQTT connection and the publishes it still waits PUBACKs for."""

    client: Any
    client_id: str
    connected: asyncio.Future[bool]
    unacked: set[int] = field(default_factory=set)
    devices: int = 0
    is_up: bool = False
    packets: int = 0  # PUBACKs read (the reader goes on while each read completes one)


class MqttDevices:
    """Simulated devices publishing on one broker from one asyncio loop.

    ``await start()`` checks the broker answers; ``await publish(items)`` publishes
    ``(device, message_type, payload)`` items in order, connecting devices on first use (each
    device's frames keep their order: one connection per device, MQTT keeps a connection's
    order); ``await flush(timeout_s)`` waits until the broker has acknowledged every QoS 1
    publish; ``await stop()`` disconnects. Raises ``SimulationError`` when the broker cannot
    be reached or does not acknowledge in time.
    """

    def __init__(
        self,
        url: str,
        *,
        qos: int = 1,
        max_clients: int = 1000,
        inflight: int = 200,
        keepalive_s: int = 30,
        credentials: Callable[[str], MqttCredentials] | None = None,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ConfigError(f"MQTT QoS must be 0, 1 or 2, got {qos}")
        if max_clients < 1:
            raise ConfigError(f"max_clients must be at least 1, got {max_clients}")
        self.host, self.port = broker_address(url)
        self.is_tls = url.startswith(("mqtts://", "ssl://"))
        self.credentials = credentials
        self.qos = qos
        self.max_clients = max_clients
        self.inflight = inflight
        self.keepalive_s = keepalive_s
        self._conns: list[_Conn] = []
        self._of_device: dict[Device, _Conn] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._misc: asyncio.Task[None] | None = None
        self._acked_event = asyncio.Event()
        self.published = 0
        self.acked = 0
        self.failed = 0
        self.disconnects = 0
        self.multiplexed = 0
        self.clients_made = 0
        self.devices_seen = 0
        self._pending = 0  # publishes awaiting their PUBACK, over all connections

    async def start(self) -> None:
        """Take the running loop and start the keep-alive timer."""
        self._loop = asyncio.get_running_loop()
        self._misc = asyncio.create_task(self._keepalive(), name="v2xsim-mqtt-misc")

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for conn in self._conns:
                conn.client.loop_misc()

    def _log_in(self, client: Any, device_id: str) -> None:
        """The device's own certificate (``mqtts://``) or password, when ``credentials``."""
        if self.credentials is None:
            if self.is_tls:
                raise ConfigError("an mqtts:// broker needs the devices' credentials")
            return
        creds = self.credentials(device_id)
        if self.is_tls:
            if creds.ca_certs is None:
                raise ConfigError(f"device {device_id!r}: TLS needs the broker's CA (ca_certs)")
            client.tls_set(ca_certs=creds.ca_certs, certfile=creds.certfile, keyfile=creds.keyfile)
        if creds.username is not None:
            client.username_pw_set(creds.username, creds.password)

    def _new_client(self, client_id: str, device_id: str) -> _Conn:
        import paho.mqtt.client as mqtt

        loop = self._loop
        assert loop is not None, "start() first"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.max_inflight_messages_set(self.inflight)
        client.max_queued_messages_set(0)  # unbounded in the client: flush() bounds the wait
        self._log_in(client, device_id)
        conn = _Conn(client=client, client_id=client_id, connected=loop.create_future())
        c_read = client.loop_read

        def read() -> None:  # paho reads one packet a call: take every PUBACK that is there
            for _ in range(256):
                before = conn.packets
                if c_read() != 0 or conn.packets == before:
                    return
            sock = client.socket()
            if sock is not None and getattr(sock, "pending", lambda: 0)():
                loop.call_soon(read)  # TLS: decrypted bytes wait that the socket won't signal

        def on_open(c: Any, _u: Any, sock: Any) -> None:
            loop.add_reader(sock, read)

        def on_close(_c: Any, _u: Any, sock: Any) -> None:
            loop.remove_reader(sock)
            loop.remove_writer(sock)

        def on_want(c: Any, _u: Any, sock: Any) -> None:
            loop.add_writer(sock, c.loop_write)

        def on_unwant(_c: Any, _u: Any, sock: Any) -> None:
            loop.remove_writer(sock)

        def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if not conn.connected.done():
                if rc.is_failure:
                    conn.connected.set_exception(
                        SimulationError(f"broker refused MQTT client {client_id}: {rc}")
                    )
                else:
                    conn.connected.set_result(True)
            conn.is_up = not rc.is_failure

        def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if conn.is_up:
                self.disconnects += 1
                log.warning("simulated device client %s disconnected: %s", client_id, rc)
            conn.is_up = False

        def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
            conn.packets += 1
            if mid in conn.unacked:
                conn.unacked.discard(mid)
                self.acked += 1
                self._pending -= 1
                if not self._pending:
                    self._acked_event.set()

        client.on_socket_open = on_open
        client.on_socket_close = on_close
        client.on_socket_register_write = on_want
        client.on_socket_unregister_write = on_unwant
        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        try:
            client.connect(self.host, self.port, keepalive=self.keepalive_s)
        except OSError as exc:
            raise SimulationError(
                f"MQTT broker {self.host}:{self.port} unreachable for {client_id}: {exc}"
            ) from exc
        self._conns.append(conn)
        self.clients_made += 1
        return conn

    async def _conn_for(self, device: Device) -> _Conn:
        conn = self._of_device.get(device)
        if conn is not None:
            return conn
        if len(self._conns) < self.max_clients:
            conn = self._new_client(device.client_id, device.device_id)
            try:
                await asyncio.wait_for(asyncio.shield(conn.connected), timeout=10.0)
            except TimeoutError as exc:
                raise SimulationError(
                    f"MQTT broker {self.host}:{self.port} did not accept {device.client_id} "
                    "within 10 s"
                ) from exc
        elif self.credentials is not None:
            raise SimulationError(
                f"{len(self._conns)} authenticated devices connected (max_clients): device "
                f"{device.device_id!r} cannot share another's connection; raise max_clients"
            )
        else:
            conn = self._conns[len(self._of_device) % self.max_clients]
            self.multiplexed += 1
        conn.devices += 1
        self.devices_seen += 1
        self._of_device[device] = conn
        return conn

    async def connect(self, devices: Iterable[Device]) -> None:
        """Connect the devices not connected yet (concurrently)."""
        todo = [d for d in dict.fromkeys(devices) if d not in self._of_device]
        room = max(0, self.max_clients - len(self._conns))
        fresh, rest = todo[:room], todo[room:]
        await asyncio.gather(*(self._conn_for(d) for d in fresh))
        for d in rest:
            await self._conn_for(d)

    async def publish(self, items: Iterable[tuple[Device, str, bytes]]) -> int:
        """Publish ``(device, message_type, payload)`` items in order; returns how many.

        A publish the client refuses (e.g. a payload over the MQTT limit) is counted in
        ``failed`` and logged; the others still go.
        """
        items = list(items)
        await self.connect(d for d, _, _ in items)
        n = 0
        for device, message_type, payload in items:
            conn = self._of_device[device]
            info = conn.client.publish(device.topic(message_type), payload, qos=self.qos)
            if info.rc != 0 and info.rc != 4:  # 4 = MQTT_ERR_NO_CONN: queued for reconnect
                self.failed += 1
                log.warning("publish on %s refused: rc=%s", device.topic(message_type), info.rc)
                continue
            self.published += 1
            n += 1
            if self.qos:
                conn.unacked.add(info.mid)
                self._pending += 1
            else:
                self.acked += 1
        return n

    @property
    def unacked(self) -> int:
        """QoS 1/2 publishes the broker has not acknowledged yet."""
        return self._pending

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the broker has acknowledged every publish; ``SimulationError`` if not."""
        deadline = time.monotonic() + timeout_s
        while self.unacked:
            self._acked_event.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise SimulationError(
                    f"broker {self.host}:{self.port} left {self.unacked} QoS {self.qos} "
                    f"publishes unacknowledged after {timeout_s} s"
                )
            try:
                await asyncio.wait_for(self._acked_event.wait(), timeout=min(left, 0.5))
            except TimeoutError:
                continue

    async def stop(self) -> None:
        """Disconnect every client and stop the keep-alive timer."""
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc
            self._misc = None
        for conn in self._conns:
            conn.is_up = False
            conn.client.disconnect()
        await asyncio.sleep(0)  # let the DISCONNECT packets leave
        self._conns.clear()
        self._of_device.clear()

    def stats(self) -> dict[str, int]:
        """Counters: published, acked, failed, clients, devices, multiplexed devices."""
        return {
            "published": self.published,
            "acked": self.acked,
            "failed": self.failed,
            "disconnects": self.disconnects,
            "clients": self.clients_made,
            "devices": self.devices_seen,
            "multiplexed_devices": self.multiplexed,
        }
