"""Per-device, per-message-type rate limits: token buckets, so one flooding device is throttled
and no other device notices.

Each (device, message type) has a bucket that refills at ``rate_per_s`` and holds at most
``burst_s`` seconds' worth; a frame takes one token or is refused (``DropReason.RATE_LIMITED``).
The default rates are twice a well-behaved device's nominal rate (C-V2X messages at 10 Hz,
MAP at 1 Hz, heartbeats every few seconds); an RSU forwarding the BSMs it hears carries one
per vehicle in range, so its BSM rate is per vehicle times a busy junction. A device record's
``rate_limits_per_s`` overrides any of them. The bucket table is bounded: buckets of devices
silent for ``idle_ms`` are dropped, and there is at most one per registered device and type.

>>> limits = RateLimits()
>>> [limits.allow("car-1", "OBU:BSM", 0) for _ in range(21)].count(True)  # burst 1 s at 20/s
20
>>> limits.allow("car-1", "OBU:BSM", 100), limits.allow("car-2", "OBU:BSM", 100)
(True, True)
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

from v2xcloud.errors import ConfigError

__all__ = [
    "DEFAULT_RATES_PER_S",
    "RateLimits",
    "TenantLimits",
    "TokenBucket",
    "load_tenant_limits",
]

#: ``"KIND:TYPE"`` → sustained messages per second (kinds upper-case, as in the topic tree).
DEFAULT_RATES_PER_S: dict[str, float] = {
    "OBU:BSM": 20.0,
    "RSU:BSM": 2000.0,  # forwarded BSMs: ~100 vehicles in range at 10 Hz, twice over
    "RSU:RSM": 20.0,
    "RSU:SPAT": 20.0,
    "RSU:MAP": 5.0,
    "RSU:RSI": 50.0,
    "RSU:HB": 5.0,
    "RSU:INFO": 5.0,
    "RADAR:TRACK": 50.0,
    "RADAR:EVENT": 50.0,
    "RADAR:FLOW": 10.0,
    "RADAR:STATUS": 5.0,
    "RADAR:CROSS": 20.0,
}
_FALLBACK_RATE_PER_S = 20.0


class TokenBucket:
    """``rate_per_s`` tokens per second, at most ``capacity``; starts full."""

    __slots__ = ("capacity", "last_ms", "rate_per_ms", "tokens")

    def __init__(self, rate_per_s: float, capacity: float, now_ms: int) -> None:
        self.rate_per_ms = rate_per_s / 1000.0
        self.capacity = capacity
        self.tokens = capacity
        self.last_ms = now_ms

    def take(self, now_ms: int) -> bool:
        """Take one token if there is one."""
        elapsed = now_ms - self.last_ms
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_ms)
            self.last_ms = now_ms
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimits:
    """The buckets of every (device, ``"KIND:TYPE"``), created on first use."""

    def __init__(
        self,
        *,
        rates_per_s: dict[str, float] | None = None,
        burst_s: float = 1.0,
        idle_ms: int = 60_000,
        max_buckets: int = 200_000,
    ) -> None:
        self.rates_per_s = dict(DEFAULT_RATES_PER_S if rates_per_s is None else rates_per_s)
        self.burst_s = burst_s
        self.idle_ms = idle_ms
        self.max_buckets = max_buckets
        self.refused = 0
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def rate_of(self, key: str, overrides: dict[str, float] | None = None) -> float:
        """Messages/s allowed for ``"KIND:TYPE"`` (a device override by ``TYPE`` wins)."""
        if overrides:
            message_type = key.split(":", 1)[-1]
            if message_type in overrides:
                return overrides[message_type]
        return self.rates_per_s.get(key, _FALLBACK_RATE_PER_S)

    def allow(
        self, device_id: str, key: str, now_ms: int, overrides: dict[str, float] | None = None
    ) -> bool:
        """Whether one more ``key`` message from ``device_id`` is within its rate."""
        bucket = self._buckets.get((device_id, key))
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self.expire(now_ms)
            rate = self.rate_of(key, overrides)
            bucket = TokenBucket(rate, max(1.0, rate * self.burst_s), now_ms)
            self._buckets[(device_id, key)] = bucket
        if bucket.take(now_ms):
            return True
        self.refused += 1
        return False

    def forget(self, device_id: str) -> None:
        """Drop a device's buckets (its limits changed or it was removed)."""
        for k in [k for k in self._buckets if k[0] == device_id]:
            del self._buckets[k]

    def expire(self, now_ms: int) -> int:
        """Drop buckets idle for ``idle_ms`` (they would be full again anyway)."""
        stale = [k for k, b in self._buckets.items() if now_ms - b.last_ms >= self.idle_ms]
        for k in stale:
            del self._buckets[k]
        return len(stale)

    def __len__(self) -> int:
        return len(self._buckets)


class TenantLimits:
    """Messages per second per tenant, all its devices together (a token bucket per tenant),
    and how many devices a tenant may register.

    ``rates_per_s`` names tenants' rates; ``default_per_s`` applies to the others (None: no
    limit for them). ``max_devices`` / ``default_max_devices`` are the device quotas the
    registry enforces (``device_quota``; ``DeviceRegistry(device_quota=...)``): with one broker
    connection per device identity (``gateways.broker``) they bound a tenant's MQTT
    connections, which Mosquitto cannot cap per user. A tenant over its rate has its frames refused (``RATE_LIMITED``, counted
    per tenant in ``refused``) while other tenants' flow on. The table is bounded: at most
    ``max_tenants`` buckets (idle ones are dropped first; past the bound new tenants share one
    overflow bucket at the rate of the first of them).

    >>> limits = TenantLimits({"fleet": 2.0})
    >>> [limits.allow("fleet", 0) for _ in range(3)], limits.allow("city", 0)
    ([True, True, False], True)
    """

    _OVERFLOW = "\x00overflow"

    def __init__(
        self,
        rates_per_s: dict[str, float] | None = None,
        *,
        default_per_s: float | None = None,
        burst_s: float = 1.0,
        idle_ms: int = 60_000,
        max_tenants: int = 10_000,
        max_devices: dict[str, int] | None = None,
        default_max_devices: int | None = None,
    ) -> None:
        self.rates_per_s = dict(rates_per_s or {})
        self.default_per_s = default_per_s
        self.max_devices = dict(max_devices or {})
        self.default_max_devices = default_max_devices
        self.burst_s = burst_s
        self.idle_ms = idle_ms
        self.max_tenants = max_tenants
        self.refused: Counter[str] = Counter()
        self._buckets: dict[str, TokenBucket] = {}

    def rate_of(self, tenant: str) -> float | None:
        """The tenant's messages/s, or None when unlimited."""
        return self.rates_per_s.get(tenant, self.default_per_s)

    def device_quota(self, tenant: str) -> int | None:
        """How many devices ``tenant`` may register, or None when unbounded."""
        return self.max_devices.get(tenant, self.default_max_devices)

    def allow(self, tenant: str, now_ms: int) -> bool:
        """Whether one more message of ``tenant`` is within its rate."""
        rate = self.rate_of(tenant)
        if rate is None:
            return True
        bucket = self._buckets.get(tenant)
        if bucket is None:
            if len(self._buckets) >= self.max_tenants:
                self._expire(now_ms)
            full = len(self._buckets) >= self.max_tenants - 1  # one place kept for overflow
            key = self._OVERFLOW if full else tenant
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(rate, max(1.0, rate * self.burst_s), now_ms)
                self._buckets[key] = bucket
        if bucket.take(now_ms):
            return True
        if tenant in self.refused or len(self.refused) < self.max_tenants:
            self.refused[tenant] += 1
        return False

    def _expire(self, now_ms: int) -> None:
        stale = [k for k, b in self._buckets.items() if now_ms - b.last_ms >= self.idle_ms]
        for k in stale:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


def load_tenant_limits(path: str | Path) -> TenantLimits:
    """``TenantLimits`` from TOML: ``[default]`` and ``[tenants.NAME]`` tables, each with
    ``messages_per_s = N`` (positive number) and/or ``max_devices = N`` (positive integer);
    ``ConfigError`` naming the file and entry."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--tenant-limits {path}: {exc}") from exc

    def limits(entry: object, where: str) -> tuple[float | None, int | None]:
        if not isinstance(entry, dict) or not {"messages_per_s", "max_devices"} & set(entry):
            raise ConfigError(
                f"--tenant-limits {path}: {where}: give messages_per_s and/or max_devices"
            )
        unknown = set(entry) - {"messages_per_s", "max_devices"}
        if unknown:
            raise ConfigError(f"--tenant-limits {path}: {where}: unknown keys {sorted(unknown)}")
        rate = entry.get("messages_per_s")
        if rate is not None and (
            not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0
        ):
            raise ConfigError(
                f"--tenant-limits {path}: {where}: messages_per_s must be a positive number"
            )
        devices = entry.get("max_devices")
        if devices is not None and (
            not isinstance(devices, int) or isinstance(devices, bool) or devices < 1
        ):
            raise ConfigError(
                f"--tenant-limits {path}: {where}: max_devices must be a positive integer"
            )
        return (float(rate) if rate is not None else None), devices

    tenants = doc.get("tenants", {})
    if not isinstance(tenants, dict):
        raise ConfigError(f"--tenant-limits {path}: [tenants.NAME] tables expected")
    default_rate, default_devices = (
        limits(doc["default"], "[default]") if "default" in doc else (None, None)
    )
    rates: dict[str, float] = {}
    quotas: dict[str, int] = {}
    for name, entry in tenants.items():
        rate, devices = limits(entry, f"[tenants.{name}]")
        if rate is not None:
            rates[name] = rate
        if devices is not None:
            quotas[name] = devices
    return TenantLimits(
        rates,
        default_per_s=default_rate,
        max_devices=quotas,
        default_max_devices=default_devices,
    )
