"""Runtime statistics: counters and percentiles over a bounded window of samples."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

__all__ = ["Percentiles", "RuntimeStats"]


class Percentiles:
    """The newest ``window`` samples of a quantity, with percentiles on demand."""

    def __init__(self, *, window: int = 10_000) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0

    def add(self, value: float) -> None:
        """Record one sample."""
        self._samples.append(value)
        self.count += 1

    def extend(self, values: list[float]) -> None:
        """Record many samples."""
        self._samples.extend(values)
        self.count += len(values)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0–100) of the window, ``None`` without samples."""
        if not self._samples:
            return None
        return float(np.percentile(np.fromiter(self._samples, dtype=np.float64), q))

    def summary(self) -> dict[str, float | None]:
        """p50, p99 and max of the window."""
        return {
            "p50": self.percentile(50),
            "p99": self.percentile(99),
            "max": self.percentile(100),
        }


class RuntimeStats:
    """What the runtime has done: messages in (per type), advisories out (per app), app
    errors, ticks, tick CPU time (ms) and arrival-to-advisory latency (ms).

    The latency of an advisory is the time from the arrival of the newest report of its ego
    or other participant to the end of the tick that issued it; refreshes (the same level
    re-issued before expiry) are not data-driven and are left out.
    """

    def __init__(self) -> None:
        self.messages_in: Counter[str] = Counter()
        self.advisories_out: Counter[str] = Counter()
        self.app_errors: Counter[str] = Counter()
        self.ticks = 0
        self.tick_ms = Percentiles()
        self.latency_ms = Percentiles()

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly snapshot."""
        return {
            "messages_in": dict(self.messages_in),
            "advisories_out": dict(self.advisories_out),
            "app_errors": dict(self.app_errors),
            "ticks": self.ticks,
            "tick_ms": self.tick_ms.summary(),
            "latency_ms": self.latency_ms.summary(),
        }
