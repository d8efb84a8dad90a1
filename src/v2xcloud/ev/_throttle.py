"""At most one log record per kind per interval, however often an attacker triggers it.

The first event of a kind is logged; later ones are counted and logged again (with the count
since the last record) at most every ``every_s`` seconds. Kinds are few and come from code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__: list[str] = []


class LogThrottle:
    """Rate-limits records per kind (``monotonic`` is injectable for tests)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.every_s, self.monotonic = logger, every_s, monotonic
        self._state: dict[str, tuple[float, int]] = {}  # kind -> (last logged, since then)

    def log(self, kind: str, level: int, message: str, *args: object) -> bool:
        """Log ``message % args`` if due for ``kind``; returns whether it was logged."""
        now = self.monotonic()
        last = self._state.get(kind)
        if last is not None and now - last[0] < self.every_s:
            self._state[kind] = (last[0], last[1] + 1)
            return False
        skipped = last[1] if last is not None else 0
        self._state[kind] = (now, 0)
        suffix = f" ({skipped} more since the last record)" if skipped else ""
        self.logger.log(level, message + suffix, *args)
        return True
