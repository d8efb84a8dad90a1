"""The platform service on an authenticated broker it started itself (``serve --mqtt-tls DIR
--mqtt-broker``): devices added, disabled and removed over REST lose or gain their rights on
the broker; a removed device's certificate is revoked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.cli._mqtt_auth import (
    control_credentials,
    platform_credentials,
    revoke_on_removal,
    start_broker,
)
from v2xcloud.cli._platform import Platform
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.broker import Mosquitto, find_mosquitto
from v2xcloud.gateways.limits import load_tenant_limits
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import Device, DeviceKind
from v2xcloud.runtime import Runtime
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.security.tls import is_revoked, write_tls_pki
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from .conftest import _require_mosquitto
from .test_mqtt_auth import Client, _password_client, _tls_client

ADMIN = {"Authorization": "Bearer " + "a" * 24}


class AuthRig:
    def __init__(self, pki_dir: Path) -> None:
        self.registry = DeviceRegistry()
        for device_id in ("R1", "R2"):
            self.registry.add(Device(device_id=device_id, kind=DeviceKind.RSU))
        self.pki = write_tls_pki(pki_dir, ["R1", "R2"])
        self.runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
        url = "mqtts://127.0.0.1:0"
        _, credentials = platform_credentials(str(pki_dir), url)
        self.broker: Mosquitto = start_broker(url, self.registry, self.pki)
        assert self.broker.tls_url is not None
        revoke_on_removal(self.registry, self.pki, self.broker)
        self.platform = Platform(
            self.runtime,
            self.registry,
            mqtt_url=self.broker.tls_url,
            mqtt_client_id="platform-auth",
            mqtt_credentials=credentials,
            control_credentials=control_credentials(self.pki),
            manage_broker_access=True,
            broker=self.broker,
        )
        self.platform.start()
        self.live = RuntimeLive(self.runtime, before_tick=self.platform.before_tick)
        self.live.start(hz=20)
        self.store = DuckDbStore(data_dir=None)
        app = create_app(
            live=self.live,
            store=self.store,
            settings=ApiSettings(admin_token="a" * 24),
            devices=self.platform,
        )
        self.api = TestClient(app)

    def tls_device(self, device_id: str) -> tuple[Client, bool]:
        return _tls_client(
            self.broker,
            f"c-{device_id}-{time.monotonic_ns()}",
            self.pki.ca_cert,
            self.pki.device_cert(device_id),
            self.pki.device_key(device_id),
        )

    def applied(self, count: int) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            access = self.platform.access
            if access is not None and access.counts["applied"] >= count:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.live.stop()
        self.platform.stop()  # and the broker
        self.store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AuthRig]:
    _require_mosquitto()
    assert find_mosquitto() is not None
    r = AuthRig(tmp_path / "pki")
    try:
        yield r
    finally:
        r.close()


def _wait_cut(client: Client, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while client.disconnected_at is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return client.disconnected_at is not None


def test_a_device_added_with_a_password_over_rest_can_publish_and_removal_cuts_it(
    rig: AuthRig,
) -> None:
    body = {"device_id": "car-9", "kind": "obu", "password": "car-9-secret"}
    response = rig.api.post("/api/devices", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["has_password"] is True and "password_hash" not in view and "password" not in view
    assert rig.registry.get("car-9").password_hash.startswith("$7$")  # type: ignore[union-attr]
    assert rig.applied(1)
    car, ok = _password_client(rig.broker, "car-9-client", "car-9", "car-9-secret")
    assert ok, car.reason
    bsm = bsm_at("00000000000000a9", x_m=1.0, y_m=2.0, t_ms=int(time.time() * 1000))
    car.publish("V2X/OBU/car-9/BSM/UP", encode_model(bsm, message_set=MessageSet.CSAE2020))
    deadline = time.monotonic() + 10
    while rig.runtime.stats()["messages_in"].get("Bsm", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rig.runtime.stats()["messages_in"].get("Bsm", 0) == 1
    assert rig.api.delete("/api/devices/car-9", headers=ADMIN).status_code == 200
    assert _wait_cut(car)
    car.client.loop_stop()
    again, ok = _password_client(rig.broker, "car-9-again", "car-9", "car-9-secret")
    again.close()
    assert not ok
    assert rig.api.delete("/api/devices/car-9", headers=ADMIN).status_code == 404


def test_disable_over_rest_cuts_a_certificate_device_and_removal_revokes_its_certificate(
    rig: AuthRig,
) -> None:
    r1, ok = rig.tls_device("R1")
    assert ok
    assert rig.api.post("/api/devices/R1/disable", headers=ADMIN).status_code == 200
    assert _wait_cut(r1)
    r1.client.loop_stop()
    assert not is_revoked(rig.pki, "R1")  # disabled, not revoked: it may be enabled again
    r2, ok = rig.tls_device("R2")
    assert ok
    assert rig.api.delete("/api/devices/R2", headers=ADMIN).status_code == 200
    assert _wait_cut(r2)
    r2.client.loop_stop()
    assert is_revoked(rig.pki, "R2")
    time.sleep(0.3)  # the broker re-reads the CRL on SIGHUP
    again, ok = rig.tls_device("R2")
    again.close()
    assert not ok, "a removed device's certificate still completes a handshake"
    stats = rig.api.get("/api/stats").json()["gateways"]["broker_access"]
    assert stats.get("errors", 0) == 0 and stats["applied"] >= 3, stats


def test_one_connection_per_device_identity_and_the_platform_connections_stay_up(
    rig: AuthRig,
) -> None:
    """A device connecting twice with its certificate (different client ids) holds one
    connection: the broker takes the username as the client id, so the second takes the first
    over. The platform's gateway and control connections (two identities) both stay up."""
    first, ok = rig.tls_device("R1")
    assert ok, first.reason
    second, ok = rig.tls_device("R1")  # another client id, the same certificate
    assert ok, second.reason
    assert _wait_cut(first), "the first connection of R1 was not taken over"
    first.client.loop_stop()  # paho would reconnect and take the second over in turn
    time.sleep(0.3)
    assert second.disconnected_at is None and second.connected.is_set()
    # the second connection is the device: its up-link reaches the platform
    bsm = bsm_at("00000000000000b1", x_m=1.0, y_m=2.0, t_ms=int(time.time() * 1000))
    second.publish("V2X/RSU/R1/BSM/UP", encode_model(bsm, message_set=MessageSet.CSAE2020))
    deadline = time.monotonic() + 10
    while rig.runtime.stats()["messages_in"].get("Bsm", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rig.runtime.stats()["messages_in"].get("Bsm", 0) == 1
    # the control connection still answers: a device added now gets its rights applied
    body = {"device_id": "car-7", "kind": "obu", "password": "car-7-secret"}
    assert rig.api.post("/api/devices", json=body, headers=ADMIN).status_code == 201
    assert rig.applied(1)
    # one connection per identity on the password listener too
    car_a, ok = _password_client(rig.broker, "car-7-a", "car-7", "car-7-secret")
    assert ok, car_a.reason
    car_b, ok = _password_client(rig.broker, "car-7-b", "car-7", "car-7-secret")
    assert ok, car_b.reason
    assert _wait_cut(car_a)
    car_a.client.loop_stop()
    car_b.close()
    second.close()
    stats = rig.api.get("/api/stats").json()["gateways"]["broker_access"]
    assert stats.get("errors", 0) == 0 and stats.get("failed", 0) == 0, stats
    assert rig.broker.log_path is not None
    taken_over = [
        line for line in rig.broker.log_path.read_text().splitlines() if "already connected" in line
    ]
    assert any("R1" in line for line in taken_over), taken_over
    assert not any("v2xcloud-platform" in line for line in taken_over), taken_over


def test_the_tenant_quota_refuses_the_extra_device_and_the_broker_never_knows_it(
    rig: AuthRig, tmp_path: Path
) -> None:
    """A tenant's connections <= its devices <= its quota: the device past the quota is
    refused over REST (409) and gets no client on the broker, so it cannot connect."""
    limits_file = tmp_path / "tenants.toml"
    limits_file.write_text("[tenants.fleet]\nmax_devices = 1\n")
    rig.registry.device_quota = load_tenant_limits(limits_file).device_quota
    first = {"device_id": "car-1", "kind": "obu", "tenant": "fleet", "password": "pw-one"}
    assert rig.api.post("/api/devices", json=first, headers=ADMIN).status_code == 201
    assert rig.applied(1)
    extra = {"device_id": "car-2", "kind": "obu", "tenant": "fleet", "password": "pw-two"}
    response = rig.api.post("/api/devices", json=extra, headers=ADMIN)
    assert response.status_code == 409, response.text
    assert "tenant 'fleet'" in response.text and "max_devices" in response.text
    assert "car-2" not in rig.registry
    other = {"device_id": "car-3", "kind": "obu", "tenant": "city", "password": "pw-three"}
    assert rig.api.post("/api/devices", json=other, headers=ADMIN).status_code == 201
    assert rig.applied(2)
    car1, ok = _password_client(rig.broker, "car-1-client", "car-1", "pw-one")
    assert ok, car1.reason
    car2, ok = _password_client(rig.broker, "car-2-client", "car-2", "pw-two")
    car2.close()
    assert not ok, "the device refused by the quota logged in"
    moved = rig.api.patch("/api/devices/car-3", json={"tenant": "fleet"}, headers=ADMIN)
    assert moved.status_code == 409, moved.text
    car1.close()
