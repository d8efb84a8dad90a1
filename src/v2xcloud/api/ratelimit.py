"""Per-client request-rate limit: a token bucket per key (token id, OIDC subject or IP).

Each key may make ``burst`` requests at once and ``rate_per_s`` sustained; past that
``allow`` answers ``False`` (the gate then answers 429 with ``Retry-After``). The table of
keys is bounded: at most ``max_keys`` buckets, the least recently used one forgotten first
(counted in ``evicted``); a forgotten key starts again with a full bucket, which at worst
gives it ``burst`` more requests.

>>> limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=lambda: 0.0)
>>> [limiter.allow("ip:10.0.0.1") for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from v2xcloud.errors import ConfigError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets per client key; see the module docstring. Event-loop only (not locked)."""

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ConfigError(
                f"rate limit: rate_per_s {rate_per_s} > 0, burst {burst} >= 1, "
                f"max_keys {max_keys} >= 1 required"
            )
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.limited = 0
        self.evicted = 0

    def allow(self, key: str) -> bool:
        """Take one request from ``key``'s bucket; ``False`` (counted) when it is empty."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
        is_allowed = tokens >= 1.0
        if is_allowed:
            tokens -= 1.0
        else:
            self.limited += 1
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
            self.evicted += 1
        return is_allowed

    def retry_after_s(self) -> int:
        """Seconds until one more request is allowed to an empty bucket (at least 1)."""
        return max(1, int(1.0 / self.rate_per_s + 0.999))

    def __len__(self) -> int:
        return len(self._buckets)
