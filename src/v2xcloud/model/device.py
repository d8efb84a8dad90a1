"""A device of the deployment as the registry knows it: an RSU, an OBU, a radar, an EV terminal.

``message_set`` is the C-V2X message-set version the device speaks (``"csae2017"``,
``"csae2020"``, ``"day2"``), ``shape`` its vendor payload shape (the driver the gateways use:
``"uper"``, ``"hex"``, ``"csae-json"``, ``"openv2x-rsm"``, ``"radar-json"``, ...; empty = pick by
topic/detect). ``rate_limits_per_s`` overrides the per-message-type rate limits; ``addresses`` are the IP
addresses it sends raw UDP from (the UDP gateway names the device by them);
``password_hash`` its MQTT password for the broker's password listener, hashed
(PBKDF2-SHA512, ``$7$…`` as ``gateways.access.hash_password`` writes it; empty = certificate only). An RSU's
``range_m`` is how far its broadcasts reach (dissemination addresses it within that range).

>>> Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=31.2, lon_deg=121.4).is_enabled
True
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = ["Device", "DeviceKind", "DeviceState"]


class DeviceKind(StrEnum):
    """What sort of device a frame came from (the device registry's ``kind``)."""

    RSU = "rsu"
    OBU = "obu"
    RADAR = "radar"  # roadside radar / camera / fused perception unit
    EV_TERMINAL = "ev-terminal"  # GB/T 32960 vehicle terminal
    UNKNOWN = "unknown"


class DeviceState(StrEnum):
    """Whether the platform accepts the device's traffic."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class Device(msgspec.Struct, frozen=True, kw_only=True):
    """One registered device (positions WGS-84 degrees; ``None`` when unknown)."""

    device_id: str
    kind: DeviceKind
    tenant: str = "default"
    message_set: str = "csae2020"
    shape: str = ""
    lat_deg: float | None = None
    lon_deg: float | None = None
    range_m: float = 300.0
    state: DeviceState = DeviceState.ENABLED
    rate_limits_per_s: dict[str, float] = msgspec.field(default_factory=dict)
    registered_ms: int = 0
    addresses: tuple[str, ...] = ()
    password_hash: str = ""

    @property
    def is_enabled(self) -> bool:
        """Whether its traffic is accepted."""
        return self.state is DeviceState.ENABLED
