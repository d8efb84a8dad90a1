"""Per-tenant device quotas (``max_devices`` of ``--tenant-limits``) in the device registry:
with one broker connection per device identity they bound a tenant's MQTT connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.errors import ConfigError, QuotaExceeded
from v2xcloud.gateways.limits import load_tenant_limits
from v2xcloud.gateways.registry import DeviceRegistry, TenantFull
from v2xcloud.model import Device, DeviceKind


def _limits(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def _obu(device_id: str, tenant: str) -> Device:
    return Device(device_id=device_id, kind=DeviceKind.OBU, tenant=tenant)


def test_the_file_gives_quotas_and_rates_apart(tmp_path: Path) -> None:
    limits = load_tenant_limits(
        _limits(
            tmp_path,
            "[default]\nmax_devices = 3\n"
            "[tenants.fleet]\nmax_devices = 2\n"
            "[tenants.city]\nmessages_per_s = 50\n",
        )
    )
    assert limits.device_quota("fleet") == 2
    assert limits.device_quota("city") == 3  # the default's quota
    assert limits.rate_of("fleet") is None and limits.rate_of("city") == 50.0
    assert (
        load_tenant_limits(_limits(tmp_path, "[tenants.a]\nmessages_per_s = 1\n")).device_quota("a")
        is None
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[tenants.a]\nmax_devices = 0\n", r"\[tenants.a\]: max_devices must be a positive"),
        ("[tenants.a]\nmax_devices = 1.5\n", r"\[tenants.a\]: max_devices"),
        ("[default]\nmax_devices = true\n", r"\[default\]: max_devices"),
        ("[tenants.a]\nmax_device = 3\n", r"\[tenants.a\]: give messages_per_s and/or"),
        ("[tenants.a]\nmax_devices = 3\nmax_conns = 1\n", r"unknown keys \['max_conns'\]"),
    ],
)
def test_a_bad_quota_is_named(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_tenant_limits(_limits(tmp_path, text))


def test_the_registry_refuses_a_device_past_its_tenants_quota(tmp_path: Path) -> None:
    limits = load_tenant_limits(
        _limits(tmp_path, "[default]\nmax_devices = 3\n[tenants.fleet]\nmax_devices = 2\n")
    )
    registry = DeviceRegistry(device_quota=limits.device_quota)
    registry.add(_obu("f1", "fleet"))
    registry.add(_obu("f2", "fleet"))
    with pytest.raises(TenantFull, match=r"tenant 'fleet' holds 2 devices.*quota.*2.*'f3'"):
        registry.add(_obu("f3", "fleet"))
    assert "f3" not in registry and registry.tenant_count("fleet") == 2
    assert issubclass(TenantFull, QuotaExceeded)
    registry.add(_obu("f2", "fleet"), replace=True)  # the same device again is not one more
    registry.update("f1", {"lat_deg": 31.0})
    for k in range(3):  # other tenants have the default quota
        registry.add(_obu(f"c{k}", "city"))
    with pytest.raises(TenantFull):
        registry.add(_obu("c3", "city"))
    with pytest.raises(TenantFull):  # moving a device into a full tenant is one more too
        registry.update("c0", {"tenant": "fleet"})
    assert registry.get("c0").tenant == "city"  # type: ignore[union-attr]
    registry.remove("f2")  # a removal frees a place
    registry.update("c0", {"tenant": "fleet"})
    assert registry.tenant_count("fleet") == 2 and registry.tenant_count("city") == 2
    registry.add(_obu("c3", "city"))
    assert registry.tenant_count("city") == 3


def test_unknown_devices_count_against_the_unregistered_tenant(tmp_path: Path) -> None:
    limits = load_tenant_limits(_limits(tmp_path, "[tenants.unregistered]\nmax_devices = 1\n"))
    registry = DeviceRegistry(device_quota=limits.device_quota)
    registry.register_unknown("u1", DeviceKind.OBU, 0)
    with pytest.raises(TenantFull):
        registry.register_unknown("u2", DeviceKind.OBU, 0)
