"""The device registry: which devices may talk to the platform, what they speak, where they are.

``DeviceRegistry`` keeps the ``model.Device`` records in memory (looked up for every frame) and
writes every change through to a ``DeviceRepository`` (the history store's ``devices`` table,
``store.devices.DeviceTable``), from which it is loaded at start. ``--devices FILE`` seeds it
from TOML (``[[device]]`` tables) or JSON (a list, or ``{"devices": [...]}``) with the
``model.Device`` fields. It is bounded: ``max_devices`` (an unknown device registered under
``--allow-unknown`` past the bound is refused) and, per tenant, ``device_quota(tenant)``
(``limits.TenantLimits.device_quota``, ``max_devices`` of ``--tenant-limits``): adding a device
to a tenant that holds its quota, or moving one there, is refused (``TenantFull``). With one
broker connection per device identity (``gateways.broker``) this bounds a tenant's MQTT
connections: Mosquitto has no per-user connection cap.

>>> registry = DeviceRegistry()
>>> registry.add(Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=31.2, lon_deg=121.4)).kind
<DeviceKind.RSU: 'rsu'>
>>> registry.disable("R1").state
<DeviceState.DISABLED: 'disabled'>
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec

from v2xcloud.codec import MessageSet
from v2xcloud.errors import ConfigError, QuotaExceeded
from v2xcloud.gateways import drivers
from v2xcloud.model import Device, DeviceKind, DeviceState
from v2xcloud.runtime.dissemination import Rsu

__all__ = [
    "DeviceRegistry",
    "DeviceRepository",
    "RegistryFull",
    "TenantFull",
    "load_devices_file",
]

logger = logging.getLogger(__name__)

#: Fields an operator may change with ``update`` (the id and kind are the identity).
UPDATABLE = frozenset(
    {
        "tenant",
        "message_set",
        "shape",
        "lat_deg",
        "lon_deg",
        "range_m",
        "state",
        "rate_limits_per_s",
        "addresses",
        "password_hash",
    }
)


class DeviceRepository(Protocol):
    """Where registry changes are kept (``store.devices.DeviceTable``)."""

    def save(self, device: Device) -> None:
        """Insert or replace one device."""
        ...

    def load_all(self) -> list[Device]:
        """Every saved device."""
        ...

    def delete(self, device_id: str) -> None:
        """Forget one device (nothing when it is not there)."""
        ...


class RegistryFull(QuotaExceeded):
    """The registry holds ``max_devices`` already."""


class TenantFull(QuotaExceeded):
    """The tenant holds its device quota already."""


class DeviceRegistry:
    """Devices by id; thread-safe (the API thread edits, the tick loop reads)."""

    def __init__(
        self,
        *,
        repository: DeviceRepository | None = None,
        max_devices: int = 100_000,
        device_quota: Callable[[str], int | None] | None = None,
    ) -> None:
        self.repository = repository
        self.max_devices = max_devices
        self.device_quota = device_quota
        self._devices: dict[str, Device] = {}
        self._per_tenant: Counter[str] = Counter()  # at most one key per registered device
        self._by_ip: dict[str, str] = {}  # UDP source address -> device id
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Device], None]] = []  # called after each change
        self.removal_listeners: list[Callable[[Device], None]] = []  # after each removal
        if repository is not None:
            for device in repository.load_all():
                self._index(device)
                self._devices[device.device_id] = device
            for tenant, count in self._per_tenant.items():
                quota = device_quota(tenant) if device_quota is not None else None
                if quota is not None and count > quota:  # kept; new ones are refused
                    logger.warning(
                        "tenant %r holds %d devices, over its quota of %d: no more are added",
                        tenant,
                        count,
                        quota,
                    )

    def get(self, device_id: str) -> Device | None:
        """The device with this id, or None."""
        return self._devices.get(device_id)

    def all(self) -> list[Device]:
        """Every device, by id."""
        with self._lock:
            return sorted(self._devices.values(), key=lambda d: d.device_id)

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def _put(self, device: Device) -> Device:
        self._check_addresses(device)
        self._check_quota(device)
        if self.repository is not None:
            self.repository.save(device)
        self._index(device)
        self._devices[device.device_id] = device
        for listener in self.listeners:
            listener(device)
        return device

    def _check_addresses(self, device: Device) -> None:
        for ip in device.addresses:
            holder = self._by_ip.get(ip)
            if holder is not None and holder != device.device_id:
                raise ConfigError(f"device {device.device_id!r}: address {ip} is {holder!r}'s")

    def _check_quota(self, device: Device) -> None:
        """``TenantFull`` when ``device`` would be one more than its tenant's quota."""
        old = self._devices.get(device.device_id)
        if self.device_quota is None or (old is not None and old.tenant == device.tenant):
            return
        quota = self.device_quota(device.tenant)
        if quota is not None and self._per_tenant[device.tenant] >= quota:
            raise TenantFull(
                f"tenant {device.tenant!r} holds {self._per_tenant[device.tenant]} devices, its "
                f"quota (max_devices of --tenant-limits) is {quota}; {device.device_id!r} not "
                "added"
            )

    def tenant_count(self, tenant: str) -> int:
        """How many devices ``tenant`` has registered."""
        return self._per_tenant[tenant]

    def _count_out(self, device: Device) -> None:
        self._per_tenant[device.tenant] -= 1
        if self._per_tenant[device.tenant] <= 0:
            del self._per_tenant[device.tenant]

    def _index(self, device: Device) -> None:
        old = self._devices.get(device.device_id)
        if old is not None:
            self._count_out(old)
        self._per_tenant[device.tenant] += 1
        for ip in old.addresses if old is not None else ():
            self._by_ip.pop(ip, None)
        for ip in device.addresses:
            self._by_ip[ip] = device.device_id

    def add(self, device: Device, *, replace: bool = False) -> Device:
        """Register a device; ``ConfigError`` if the id exists (unless ``replace``) or full."""
        if not device.device_id or any(c in device.device_id for c in "/+#"):
            raise ConfigError(f"device id {device.device_id!r} is empty or holds / + #")
        _check_message_set(device)
        with self._lock:
            if device.device_id in self._devices and not replace:
                raise ConfigError(f"device {device.device_id!r} is already registered")
            if device.device_id not in self._devices and len(self._devices) >= self.max_devices:
                raise RegistryFull(
                    f"the registry holds {self.max_devices} devices (max_devices); "
                    f"{device.device_id!r} not added"
                )
            return self._put(device)

    def update(self, device_id: str, changes: dict[str, Any]) -> Device:
        """Change some fields (``UPDATABLE``); ``ConfigError`` naming a bad field or value."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ConfigError(
                f"device {device_id!r}: cannot change {sorted(unknown)}; "
                f"changeable: {sorted(UPDATABLE)}"
            )
        with self._lock:
            current = self._devices.get(device_id)
            if current is None:
                raise KeyError(device_id)
            merged = msgspec.to_builtins(current) | changes
            try:
                device = msgspec.convert(merged, Device)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"device {device_id!r}: {exc}") from exc
            _check_message_set(device)
            return self._put(device)

    def disable(self, device_id: str) -> Device:
        """Refuse the device's traffic from now on (``DEVICE_DISABLED``)."""
        return self.update(device_id, {"state": DeviceState.DISABLED.value})

    def remove(self, device_id: str) -> Device:
        """Forget the device (``KeyError`` if unknown): its traffic is then ``UNKNOWN_DEVICE``.

        The change listeners see it disabled, then the removal listeners see it gone.
        """
        with self._lock:
            device = self._devices.pop(device_id)
            self._count_out(device)
            for ip in device.addresses:
                self._by_ip.pop(ip, None)
            if self.repository is not None:
                self.repository.delete(device_id)
        gone = msgspec.structs.replace(device, state=DeviceState.DISABLED)
        for listener in self.listeners:
            listener(gone)
        for listener in self.removal_listeners:
            listener(gone)
        return gone

    def register_unknown(self, device_id: str, kind: DeviceKind, now_ms: int) -> Device:
        """Register a device first heard now (``--allow-unknown``); ``RegistryFull`` if full."""
        device = Device(device_id=device_id, kind=kind, tenant="unregistered", registered_ms=now_ms)
        logger.info("registering unknown %s %r (--allow-unknown)", kind.value, device_id)
        return self.add(device)

    def by_address(self, ip: str) -> tuple[str, DeviceKind] | None:
        """The device that sends raw UDP from ``ip`` (its ``addresses``), for the UDP gateway."""
        device = self._devices.get(self._by_ip.get(ip, ""))
        return (device.device_id, device.kind) if device is not None else None

    def rsus(self) -> list[Rsu]:
        """Enabled RSUs with a position, for dissemination."""
        return [
            Rsu(rsu_id=d.device_id, lat_deg=d.lat_deg, lon_deg=d.lon_deg, range_m=d.range_m)
            for d in self.all()
            if d.kind is DeviceKind.RSU
            and d.is_enabled
            and d.lat_deg is not None
            and d.lon_deg is not None
        ]

    def seed(self, devices: list[Device]) -> int:
        """Add or replace every device of a seed file; returns how many."""
        for device in devices:
            self.add(device, replace=True)
        return len(devices)


def _check_message_set(device: Device) -> None:
    """The message set is one the codec knows and the vendor shape one a driver reads."""
    drivers.check_shape(device.shape or None)
    try:
        MessageSet(device.message_set)
    except ValueError:
        choices = ", ".join(m.value for m in MessageSet)
        raise ConfigError(
            f"device {device.device_id!r}: message set {device.message_set!r} is not one of "
            f"{choices}"
        ) from None


def load_devices_file(path: str | Path) -> list[Device]:
    """Devices from TOML (``[[device]]``) or JSON (list or ``{"devices": [...]}``).

    ``ConfigError`` names the file and the entry that is wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--devices {path}: cannot read: {exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            doc: Any = tomllib.loads(text).get("device", [])
        else:
            doc = json.loads(text)
            if isinstance(doc, dict):
                doc = doc.get("devices", [])
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--devices {path}: not valid {path.suffix or 'JSON'}: {exc}") from exc
    if not isinstance(doc, list):
        raise ConfigError(f"--devices {path}: expected a list of devices")
    devices = []
    for i, entry in enumerate(doc):
        try:
            devices.append(msgspec.convert(entry, Device))
        except msgspec.ValidationError as exc:
            raise ConfigError(f"--devices {path}: device #{i + 1}: {exc}") from exc
    return devices
