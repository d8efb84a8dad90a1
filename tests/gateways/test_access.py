"""The broker rules generated from the registry (the broker itself: test_mqtt_auth.py)."""

from __future__ import annotations

import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.gateways.access import (
    device_acls,
    device_commands,
    dynsec_document,
    hash_password,
    verify_password,
)
from v2xcloud.model import Device, DeviceKind, DeviceState


def test_a_hash_verifies_its_password_only_and_has_the_mosquitto_passwd_shape() -> None:
    hashed = hash_password("right", iterations=2000)
    assert hashed.startswith("$7$2000$") and hashed.count("$") == 4
    assert verify_password("right", hashed) and not verify_password("wrong", hashed)
    assert hash_password("right") != hash_password("right")  # salted
    with pytest.raises(ConfigError, match="empty password"):
        hash_password("")


@pytest.mark.parametrize("bad", ["plain", "$6$abc$def", "$7$x$c2FsdA==$aGFzaA==", "$7$10$!!$!!"])
def test_a_malformed_hash_is_named_with_its_device(bad: str) -> None:
    device = Device(device_id="car-9", kind=DeviceKind.OBU, password_hash=bad)
    with pytest.raises(ConfigError, match=r"car-9.*password_hash"):
        dynsec_document([device], platform_id="p", control_id="p-control")


def test_each_kind_may_publish_its_own_up_links_and_read_its_own_down_links() -> None:
    rsu = {(a.acltype, a.topic) for a in device_acls(Device(device_id="R1", kind=DeviceKind.RSU))}
    assert rsu == {
        ("publishClientSend", "V2X/RSU/R1/+/UP"),
        ("publishClientSend", "V2X/RSU/R1/+/DOWN/ACK"),
        ("publishClientSend", "V2X/RSU/INFO/UP"),
        ("subscribePattern", "V2X/RSU/R1/+/DOWN"),
        ("publishClientReceive", "V2X/RSU/R1/+/DOWN"),
    }
    radar = device_acls(Device(device_id="rad", kind=DeviceKind.RADAR))
    assert [(a.acltype, a.topic) for a in radar] == [("publishClientSend", "V2X/RADAR/rad/+/UP")]
    assert device_acls(Device(device_id="VIN1", kind=DeviceKind.EV_TERMINAL)) == ()


def test_the_document_denies_by_default_and_keeps_only_hashes() -> None:
    hashed = hash_password("pw", iterations=1000)
    devices = [
        Device(device_id="R1", kind=DeviceKind.RSU),
        Device(device_id="car", kind=DeviceKind.OBU, password_hash=hashed),
        Device(device_id="off", kind=DeviceKind.OBU, state=DeviceState.DISABLED),
        Device(device_id="VIN1", kind=DeviceKind.EV_TERMINAL),
    ]
    doc = dynsec_document(devices, platform_id="platform", control_id="platform-control")
    assert not any(doc["defaultACLAccess"][k] for k in ("publishClientSend", "subscribe"))
    assert not doc["defaultACLAccess"]["publishClientReceive"]
    clients = {c["username"]: c for c in doc["clients"]}
    assert set(clients) == {"platform", "platform-control", "R1", "car", "off"}
    assert "password" not in clients["R1"]
    assert clients["car"]["iterations"] == 1000 and "pw" not in clients["car"].values()
    assert clients["off"]["disabled"] is True and "roles" not in clients["off"]
    # the gateway's identity is not the administrator; the control identity is, and only that
    assert "dynsec-admin" not in {r["rolename"] for r in clients["platform"]["roles"]}
    assert [r["rolename"] for r in clients["platform-control"]["roles"]] == ["dynsec-admin"]


def test_a_device_named_as_a_platform_identity_is_refused() -> None:
    for name in ("platform", "platform-control"):
        with pytest.raises(ConfigError, match=name):
            dynsec_document(
                [Device(device_id=name, kind=DeviceKind.OBU)],
                platform_id="platform",
                control_id="platform-control",
            )


def test_disabling_takes_the_role_before_kicking_and_enabling_gives_it_back() -> None:
    off = Device(device_id="R1", kind=DeviceKind.RSU, state=DeviceState.DISABLED)
    assert [c["command"] for c in device_commands(off)] == ["removeClientRole", "disableClient"]
    on = device_commands(Device(device_id="R1", kind=DeviceKind.RSU), password="new")
    names = [c["command"] for c in on]
    assert names[-3:] == ["addClientRole", "enableClient", "setClientPassword"]
    assert device_commands(Device(device_id="VIN1", kind=DeviceKind.EV_TERMINAL)) == []


def test_the_tenant_table_is_bounded() -> None:
    from v2xcloud.gateways.limits import TenantLimits

    limits = TenantLimits(default_per_s=1.0, max_tenants=3, idle_ms=1000)
    for k in range(10):  # ten tenants at once: three buckets, the rest share the overflow one
        limits.allow(f"t{k}", 0)
    assert len(limits) == 3
    assert limits.allow("t0", 5000) and len(limits) <= 3  # idle buckets expire


def test_a_change_after_the_gateways_stopped_is_kept_and_counted() -> None:
    import asyncio

    from v2xcloud.gateways.broker_control import AccessSync, DynsecControl
    from v2xcloud.gateways.mqtt import MqttCredentials
    from v2xcloud.gateways.registry import DeviceRegistry

    registry = DeviceRegistry()
    registry.add(Device(device_id="R1", kind=DeviceKind.RSU))
    loop = asyncio.new_event_loop()
    loop.close()
    control = DynsecControl("mqtt://127.0.0.1:1", credentials=MqttCredentials())
    sync = AccessSync(registry, control, loop)
    assert registry.disable("R1").state is DeviceState.DISABLED
    assert sync.counts["failed"] == 1
