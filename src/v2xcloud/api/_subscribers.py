"""The subscriber list every ``LiveSource`` keeps: thread-safe subscribe, unsubscribe, notify.

A subscriber that raises is an isolated failure (boundary ``subscriber:<callback name>``):
counted and logged once through ``failures``; the other subscribers still get the tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from v2xcloud.api.live import TickDelta, Unsubscribe
from v2xcloud.failures import FailureLog

__all__ = ["Subscribers"]

logger = logging.getLogger(__name__)


class Subscribers:
    """Callbacks told of every ``TickDelta``; safe to (un)subscribe from any thread while a
    tick notifies (a tick calls the callbacks subscribed when it started notifying)."""

    def __init__(self, *, failures: FailureLog | None = None) -> None:
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[TickDelta], None]] = []

    def subscribe(self, callback: Callable[[TickDelta], None]) -> Unsubscribe:
        """Add ``callback``; the returned function removes it (idempotent)."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def notify(self, delta: TickDelta) -> None:
        """Call every subscriber with ``delta`` (on the caller's thread)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(delta)
            except Exception as exc:  # one broken subscriber must not starve the others
                name = getattr(callback, "__qualname__", type(callback).__name__)
                self.failures.record(f"subscriber:{name}", exc, logger=logger)
