"""Clocks: the wall clock for deployments, a manual one for tests and replays."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from v2xcloud.errors import ConfigError

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the platform time in UTC milliseconds."""

    def now_ms(self) -> int:
        """Current time, UTC ms."""
        ...


class SystemClock:
    """The host's wall clock."""

    def now_ms(self) -> int:
        """Current wall-clock time, UTC ms."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to (tests, replays, the simulator).

    >>> clock = ManualClock(1_000)
    >>> clock.advance(100)
    1100
    """

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        """The time set last, UTC ms."""
        return self._now_ms

    def advance(self, delta_ms: int) -> int:
        """Move forward by ``delta_ms`` (≥ 0) and return the new time."""
        if delta_ms < 0:
            raise ConfigError(f"a clock cannot go back ({delta_ms} ms); use set() to jump")
        self._now_ms += delta_ms
        return self._now_ms

    def set(self, now_ms: int) -> None:
        """Jump to ``now_ms``."""
        self._now_ms = now_ms
