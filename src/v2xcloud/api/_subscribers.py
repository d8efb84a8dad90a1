"""The subscriber list every ``LiveSource`` keeps: thread-safe subscribe, unsubscribe, notify."""

from __future__ import annotations

import threading
from collections.abc import Callable

from v2xcloud.api.live import TickDelta, Unsubscribe

__all__ = ["Subscribers"]


class Subscribers:
    """Callbacks told of every ``TickDelta``; safe to (un)subscribe from any thread while a
    tick notifies (a tick calls the callbacks subscribed when it started notifying)."""

    def __init__(self) -> None:
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
            callback(delta)
