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

__all__ = ["DEFAULT_RATES_PER_S", "RateLimits", "TokenBucket"]

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
