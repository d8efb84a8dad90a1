"""Device identity on a real Mosquitto with TLS: who may connect, publish and read, revocation.

The broker is started by the test on 127.0.0.1 with a mutual-TLS listener and a password
listener, the dynamic-security plugin configured from a device registry
(``gateways.access``), and stopped by pid afterwards. The platform is the ``MqttGateway``
logged in with its own certificate; devices are paho clients with their own certificates or
passwords. Every refusal is checked at the platform: what the broker refused never arrives.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from v2xcloud.gateways.access import dynsec_document, hash_password
from v2xcloud.gateways.base import IngressQueue
from v2xcloud.gateways.broker import BrokerAuth, Mosquitto
from v2xcloud.gateways.broker_control import AccessSync, DynsecControl
from v2xcloud.gateways.mqtt import MqttCredentials, MqttGateway
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import DeadLetter, Device, DeviceKind
from v2xcloud.security.tls import TlsPki, revoke, write_tls_pki

CERT_DEVICES = {"R1": DeviceKind.RSU, "R2": DeviceKind.RSU, "car-1": DeviceKind.OBU}
PASSWORDS = {"car-pw": "pw-of-car", "R-pw": "pw-of-rsu"}
PASSWORD_KINDS = {"car-pw": DeviceKind.OBU, "R-pw": DeviceKind.RSU}
CONNECT_TIMEOUT_S = 5.0


def _registry() -> DeviceRegistry:
    registry = DeviceRegistry()
    for device_id, kind in CERT_DEVICES.items():
        registry.add(Device(device_id=device_id, kind=kind, tenant="city"))
    for device_id, kind in PASSWORD_KINDS.items():
        hashed = hash_password(PASSWORDS[device_id], iterations=1000)
        registry.add(Device(device_id=device_id, kind=kind, tenant="fleet", password_hash=hashed))
    return registry


@pytest.fixture
def pki(tmp_path: Path) -> TlsPki:
    return write_tls_pki(tmp_path / "pki", list(CERT_DEVICES))


@pytest.fixture
def registry() -> DeviceRegistry:
    return _registry()


@pytest.fixture
def broker(
    mosquitto_factory: type[Mosquitto], pki: TlsPki, registry: DeviceRegistry
) -> Iterator[Mosquitto]:
    auth = BrokerAuth(
        cafile=pki.ca_cert,
        certfile=pki.server_cert,
        keyfile=pki.server_key,
        crlfile=pki.crl,
        dynsec=dynsec_document(
            registry.all(), platform_id="v2xcloud-platform", control_id="v2xcloud-platform-control"
        ),
    )
    broker = mosquitto_factory(auth=auth)
    broker.start()
    yield broker


def _platform_credentials(pki: TlsPki) -> MqttCredentials:
    return MqttCredentials(
        ca_certs=str(pki.ca_cert), certfile=str(pki.platform_cert), keyfile=str(pki.platform_key)
    )


def _control_credentials(pki: TlsPki) -> MqttCredentials:
    return MqttCredentials(
        ca_certs=str(pki.ca_cert), certfile=str(pki.control_cert), keyfile=str(pki.control_key)
    )


class Client:
    """A paho device on its own thread: records the broker's answer to its connect, its
    first disconnect, what it received and which publishes were acked."""

    def __init__(self, client_id: str) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.reason: str | None = None
        self.disconnected_at: float | None = None
        self.received: list[str] = []
        self.acked: set[int] = set()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_publish = lambda c, u, mid, rc, p: self.acked.add(mid)

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        self.reason = str(rc)
        if not getattr(rc, "is_failure", True):
            self.connected.set()
        self.answered.set()

    def _on_disconnect(self, c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        if self.disconnected_at is None:  # the first one (paho may reconnect afterwards)
            self.disconnected_at = time.monotonic()
        self.connected.clear()
        self.answered.set()

    def connect(self, host: str, port: int) -> bool:
        """True when the broker accepted; False when it refused or the handshake failed."""
        try:
            self.client.connect(host, port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        self.answered.wait(CONNECT_TIMEOUT_S)
        return self.connected.is_set()

    def publish(self, topic: str, payload: bytes) -> int:
        return self.client.publish(topic, payload, qos=1).mid

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _tls_client(broker: Mosquitto, client_id: str, ca: Path, cert: Path | None, key: Path | None):  # type: ignore[no-untyped-def]
    client = Client(client_id)
    client.client.tls_set(
        ca_certs=str(ca), certfile=str(cert) if cert else None, keyfile=str(key) if key else None
    )
    assert broker.auth is not None
    return client, client.connect(broker.host, broker.auth.tls_port)


def _device(broker: Mosquitto, pki: TlsPki, device_id: str) -> Client:
    client, ok = _tls_client(
        broker, f"c-{device_id}", pki.ca_cert, pki.device_cert(device_id), pki.device_key(device_id)
    )
    assert ok, f"{device_id} with its own certificate was refused: {client.reason}"
    return client


def _password_client(broker: Mosquitto, client_id: str, user: str | None, password: str | None):  # type: ignore[no-untyped-def]
    client = Client(client_id)
    if user is not None:
        client.client.username_pw_set(user, password)
    return client, client.connect(broker.host, broker.port)


class Platform:
    """The MqttGateway logged in as the platform, on its own event loop thread."""

    def __init__(self, broker: Mosquitto, pki: TlsPki) -> None:
        self.queue = IngressQueue(capacity=1_000_000)
        self.letters: list[DeadLetter] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        assert broker.tls_url is not None
        self.gateway = MqttGateway(
            broker.tls_url,
            self.queue,
            dead_letter=self.letters.append,
            credentials=_platform_credentials(pki),
            client_id="platform-under-test",
        )
        self.call(self.gateway.start())
        self.frames: Counter[str] = Counter()  # per topic

    def call(self, coro, timeout_s: float = 15.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def drain(self) -> Counter[str]:
        for frame in self.queue.drain():
            self.frames[frame.channel] += 1
        return self.frames

    def wait_for(self, topic: str, count: int, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.drain()[topic] >= count:
                return True
            time.sleep(0.02)
        return self.drain()[topic] >= count

    def close(self) -> None:
        try:
            self.call(self.gateway.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@pytest.fixture
def platform(broker: Mosquitto, pki: TlsPki) -> Iterator[Platform]:
    platform = Platform(broker, pki)
    try:
        yield platform
    finally:
        platform.close()


# -- who may connect --------------------------------------------------------------------------


def test_a_device_without_a_certificate_is_refused(broker: Mosquitto, pki: TlsPki) -> None:
    client, ok = _tls_client(broker, "no-cert", pki.ca_cert, None, None)
    client.close()
    assert not ok
    anonymous, ok = _password_client(broker, "anon", None, None)
    anonymous.close()
    assert not ok, "anonymous login on the password listener was accepted"


def test_a_certificate_from_another_ca_is_refused(
    broker: Mosquitto, pki: TlsPki, tmp_path: Path
) -> None:
    other = write_tls_pki(tmp_path / "other", ["R1"])  # same CN, another CA
    client, ok = _tls_client(
        broker, "other-ca", pki.ca_cert, other.device_cert("R1"), other.device_key("R1")
    )
    client.close()
    assert not ok


def test_password_devices_wrong_password_refused_right_one_works(
    broker: Mosquitto, pki: TlsPki, platform: Platform
) -> None:
    wrong, ok = _password_client(broker, "pw-wrong", "car-pw", "not-the-password")
    wrong.close()
    assert not ok and wrong.reason is not None
    other_user, ok = _password_client(broker, "pw-other", "car-pw", PASSWORDS["R-pw"])
    other_user.close()
    assert not ok, "a device logged in with another device's password"
    cert_only, ok = _password_client(broker, "pw-cert-only", "R1", "")
    cert_only.close()
    assert not ok, "a certificate-only device logged in without a password"
    right, ok = _password_client(broker, "pw-right", "car-pw", PASSWORDS["car-pw"])
    try:
        assert ok
        right.publish("V2X/OBU/car-pw/BSM/UP", b"\x01")
        assert platform.wait_for("V2X/OBU/car-pw/BSM/UP", 1)
    finally:
        right.close()


# -- who may publish and read -----------------------------------------------------------------


def test_publishing_on_another_devices_topic_is_not_delivered(
    broker: Mosquitto, pki: TlsPki, platform: Platform
) -> None:
    r1 = _device(broker, pki, "R1")
    try:
        for topic in ("V2X/RSU/R2/RSM/UP", "V2X/OBU/car-1/BSM/UP", "V2X/RSU/R2/RSI/DOWN"):
            r1.publish(topic, b"forged")
        r1.publish("V2X/RSU/R1/RSM/UP", b"own")  # after the forgeries, on the same connection
        assert platform.wait_for("V2X/RSU/R1/RSM/UP", 1)
        time.sleep(0.3)
        frames = platform.drain()
        assert frames == Counter({"V2X/RSU/R1/RSM/UP": 1}), frames
    finally:
        r1.close()


def test_subscribing_to_another_devices_down_link_receives_nothing(
    broker: Mosquitto, pki: TlsPki, platform: Platform
) -> None:
    r1, r2 = _device(broker, pki, "R1"), _device(broker, pki, "R2")
    try:
        r1.client.subscribe([("V2X/RSU/R2/+/DOWN", 1), ("V2X/#", 1), ("#", 1)])
        r2.client.subscribe("V2X/RSU/R2/+/DOWN", 1)
        time.sleep(0.3)
        platform.call(platform.gateway.publish("V2X/RSU/R2/RSI/DOWN", b"for R2"))
        r2.publish("V2X/RSU/R2/HB/UP", b"{}")  # and an up-link r1 must not see either
        deadline = time.monotonic() + 5
        while not r2.received and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert r2.received == ["V2X/RSU/R2/RSI/DOWN"]
        assert r1.received == []
    finally:
        r1.close()
        r2.close()


# -- revocation -------------------------------------------------------------------------------


def _revoke_live(
    broker: Mosquitto, pki: TlsPki, registry: DeviceRegistry, platform: Platform, device_id: str
) -> float:
    """Disable ``device_id`` in the registry with its broker rights kept in step; returns the
    seconds from the registry change to its live connection being cut."""
    control = DynsecControl(broker.tls_url or "", credentials=_control_credentials(pki))
    platform.call(control.start())
    sync = AccessSync(registry, control, platform.loop)
    try:
        live = _device(broker, pki, device_id)
        t0 = time.monotonic()
        registry.disable(device_id)
        while live.disconnected_at is None and time.monotonic() - t0 < 5:
            time.sleep(0.001)
        assert live.disconnected_at is not None, "the live connection was not cut"
        while not sync.counts and time.monotonic() - t0 < 5:  # the plugin's answer follows
            time.sleep(0.01)
        assert sync.counts["applied"] == 1 and sync.counts["errors"] == 0, sync.counts
        live.client.loop_stop()
        return live.disconnected_at - t0
    finally:
        platform.call(control.stop())


def test_a_disabled_device_is_cut_off_live_and_cannot_come_back(
    broker: Mosquitto, pki: TlsPki, registry: DeviceRegistry, platform: Platform
) -> None:
    cut_s = _revoke_live(broker, pki, registry, platform, "R1")
    assert cut_s < 2.0, f"cut after {cut_s:.3f} s"
    # its certificate still verifies (no CRL yet): it connects, and is allowed nothing
    again = _device(broker, pki, "R1")
    try:
        again.publish("V2X/RSU/R1/RSM/UP", b"after revocation")
        again.publish("V2X/RSU/R2/RSM/UP", b"after revocation")
        time.sleep(0.5)
        assert platform.drain() == Counter()
    finally:
        again.close()
    # with the certificate on the CRL and the broker reloaded, the handshake itself fails
    assert revoke(pki, ["R1"])
    broker.reload()
    time.sleep(0.3)
    client, ok = _tls_client(
        broker, "R1-after-crl", pki.ca_cert, pki.device_cert("R1"), pki.device_key("R1")
    )
    client.close()
    assert not ok
    # and the others carry on after the reload
    r2 = _device(broker, pki, "R2")
    try:
        r2.publish("V2X/RSU/R2/RSM/UP", b"still here")
        assert platform.wait_for("V2X/RSU/R2/RSM/UP", 1)
    finally:
        r2.close()


def test_a_disabled_password_device_is_cut_off_and_refused(
    broker: Mosquitto, pki: TlsPki, registry: DeviceRegistry, platform: Platform
) -> None:
    control = DynsecControl(broker.tls_url or "", credentials=_control_credentials(pki))
    platform.call(control.start())
    AccessSync(registry, control, platform.loop)
    try:
        live, ok = _password_client(broker, "pw-live", "car-pw", PASSWORDS["car-pw"])
        assert ok
        registry.disable("car-pw")
        deadline = time.monotonic() + 5
        while live.disconnected_at is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert live.disconnected_at is not None
        live.client.loop_stop()
        again, ok = _password_client(broker, "pw-again", "car-pw", PASSWORDS["car-pw"])
        again.close()
        assert not ok
        registry.update("car-pw", {"state": "enabled"})  # enabled again: the same password works
        time.sleep(0.3)
        back, ok = _password_client(broker, "pw-back", "car-pw", PASSWORDS["car-pw"])
        back.close()
        assert ok
    finally:
        platform.call(control.stop())


# -- the legitimate devices lose nothing while the attacks run --------------------------------

LEGIT_MESSAGES = 400


def _publish_all(client: Client, topic: str, count: int, stop: threading.Event) -> None:
    for seq in range(count):
        if stop.is_set():
            return
        client.publish(topic, f"{seq}".encode())
        time.sleep(0.004)


def _attack(broker: Mosquitto, pki: TlsPki, stop: threading.Event, tries: Counter[str]) -> None:
    """No-certificate handshakes, wrong passwords, anonymous logins, in a loop."""
    while not stop.is_set():
        for name, (client, ok) in {
            "no_cert": _tls_client(broker, "atk-nocert", pki.ca_cert, None, None),
            "wrong_password": _password_client(broker, "atk-pw", "car-pw", "guess"),
            "anonymous": _password_client(broker, "atk-anon", None, None),
        }.items():
            client.close()
            tries[name if not ok else f"{name}_ACCEPTED"] += 1


def test_legitimate_devices_lose_nothing_while_attacks_and_a_revocation_run(
    broker: Mosquitto, pki: TlsPki, registry: DeviceRegistry, platform: Platform
) -> None:
    control = DynsecControl(broker.tls_url or "", credentials=_control_credentials(pki))
    platform.call(control.start())
    sync = AccessSync(registry, control, platform.loop)
    legit = {
        "V2X/RSU/R2/RSM/UP": _device(broker, pki, "R2"),
        "V2X/OBU/car-1/BSM/UP": _device(broker, pki, "car-1"),
    }
    pw_client, ok = _password_client(broker, "legit-pw", "R-pw", PASSWORDS["R-pw"])
    assert ok
    legit["V2X/RSU/R-pw/SPAT/UP"] = pw_client
    spoofer = _device(broker, pki, "R1")  # legitimate itself, until it forges and is revoked
    spoofer.client.subscribe([("V2X/#", 1), ("#", 1)])
    stop, tries = threading.Event(), Counter[str]()
    threads = [
        threading.Thread(target=_publish_all, args=(c, t, LEGIT_MESSAGES, stop), daemon=True)
        for t, c in legit.items()
    ]
    threads.append(threading.Thread(target=_attack, args=(broker, pki, stop, tries), daemon=True))
    try:
        for thread in threads:
            thread.start()
        sent_s: dict[int, float] = {}
        for seq in range(150):  # R1: its own topic (accepted) and R2's (refused), then revoked
            sent_s[seq] = time.monotonic()
            spoofer.publish("V2X/RSU/R1/RSM/UP", f"{seq}".encode())
            spoofer.publish("V2X/RSU/R2/RSM/UP", b"forged")
            time.sleep(0.004)
            if seq == 100:
                t_disable = time.monotonic()
                registry.disable("R1")
        for thread in threads[:-1]:
            thread.join(30)
        stop.set()
        threads[-1].join(30)
        for topic in legit:
            assert platform.wait_for(topic, LEGIT_MESSAGES, timeout_s=20), platform.drain()
        time.sleep(0.5)
        frames = platform.drain()
    finally:
        stop.set()
        for client in (*legit.values(), spoofer):
            client.close()
        platform.call(control.stop())
    assert {t: frames[t] for t in legit} == dict.fromkeys(legit, LEGIT_MESSAGES)
    assert frames["V2X/RSU/R2/RSM/UP"] == LEGIT_MESSAGES  # not one forged frame among them
    assert not platform.letters
    assert tries and not any(k.endswith("_ACCEPTED") for k in tries), tries
    assert spoofer.received == [], "the spoofer read other devices' traffic"
    assert sync.counts["applied"] == 1 and sync.counts["errors"] == 0
    r1_accepted = frames["V2X/RSU/R1/RSM/UP"]
    assert r1_accepted <= 102  # nothing it sent after the broker applied the revocation
    assert spoofer.disconnected_at is not None
    cut_ms = (spoofer.disconnected_at - t_disable) * 1000
    print(
        f"\nrevocation: live connection cut {cut_ms:.1f} ms after the registry change; "
        f"R1 frames accepted {r1_accepted} of 150 (disabled after #100); attacks refused: "
        f"{dict(tries)}; legitimate: {LEGIT_MESSAGES} x {len(legit)} QoS 1, all delivered"
    )
    assert cut_ms < 2000


# -- the simulated devices log in as themselves -----------------------------------------------


def test_simulated_devices_publish_with_their_certificates_and_passwords(
    broker: Mosquitto, pki: TlsPki, platform: Platform
) -> None:
    from v2xcloud.errors import SimulationError
    from v2xcloud.sim.devices import Device as SimDevice
    from v2xcloud.sim.devices import MqttDevices

    def tls_identity(device_id: str) -> MqttCredentials:
        return MqttCredentials(
            ca_certs=str(pki.ca_cert),
            certfile=str(pki.device_cert(device_id)),
            keyfile=str(pki.device_key(device_id)),
        )

    def password_identity(device_id: str) -> MqttCredentials:
        return MqttCredentials(username=device_id, password=PASSWORDS[device_id])

    async def run(url: str, identity, devices, *, max_clients: int = 10) -> dict[str, int]:  # type: ignore[no-untyped-def]
        devs = MqttDevices(url, credentials=identity, max_clients=max_clients)
        await devs.start()
        try:
            for seq in range(50):
                await devs.publish((d, t, f"{seq}".encode()) for d, t in devices)
            await devs.flush(10.0)
        finally:
            await devs.stop()
        return devs.stats()

    tls_devices = [
        (SimDevice(DeviceKind.RSU, "R1"), "RSM"),
        (SimDevice(DeviceKind.OBU, "car-1"), "BSM"),
    ]
    assert broker.tls_url is not None
    stats = asyncio.run(run(broker.tls_url, tls_identity, tls_devices))
    assert stats["acked"] == 100 and stats["multiplexed_devices"] == 0
    pw_devices = [(SimDevice(DeviceKind.OBU, "car-pw"), "BSM")]
    assert asyncio.run(run(broker.url, password_identity, pw_devices))["acked"] == 50
    for topic in ("V2X/RSU/R1/RSM/UP", "V2X/OBU/car-1/BSM/UP", "V2X/OBU/car-pw/BSM/UP"):
        assert platform.wait_for(topic, 50), platform.drain()
    with pytest.raises(SimulationError, match="cannot share"):  # one connection per identity
        asyncio.run(run(broker.tls_url, tls_identity, tls_devices, max_clients=1))


def test_a_broker_configured_elsewhere_is_brought_in_step_with_the_registry(
    mosquitto_factory: type[Mosquitto], pki: TlsPki, registry: DeviceRegistry
) -> None:
    auth = BrokerAuth(  # the plugin knows the platform only, none of the devices
        cafile=pki.ca_cert,
        certfile=pki.server_cert,
        keyfile=pki.server_key,
        crlfile=pki.crl,
        dynsec=dynsec_document(
            [], platform_id="v2xcloud-platform", control_id="v2xcloud-platform-control"
        ),
    )
    broker = mosquitto_factory(auth=auth)
    broker.start()
    platform = Platform(broker, pki)
    try:
        r1 = _device(broker, pki, "R1")
        r1.publish("V2X/RSU/R1/RSM/UP", b"before")
        time.sleep(0.3)
        assert platform.drain() == Counter()  # R1 has no rights yet
        r1.close()
        registry.disable("R2")
        control = DynsecControl(broker.tls_url or "", credentials=_control_credentials(pki))
        platform.call(control.start())
        try:
            sync = AccessSync(registry, control, platform.loop)
            assert platform.call(sync.sync_all(registry.all(), per_message=2)) == 5
            assert sync.counts.get("errors", 0) == 0, sync.counts
        finally:
            platform.call(control.stop())
        r1 = _device(broker, pki, "R1")
        r2 = _device(broker, pki, "R2")  # disabled in the registry: connects, may do nothing
        r1.publish("V2X/RSU/R1/RSM/UP", b"after")
        r2.publish("V2X/RSU/R2/RSM/UP", b"after")
        assert platform.wait_for("V2X/RSU/R1/RSM/UP", 1)
        time.sleep(0.3)
        assert platform.drain() == Counter({"V2X/RSU/R1/RSM/UP": 1})
        r1.close()
        r2.close()
    finally:
        platform.close()
