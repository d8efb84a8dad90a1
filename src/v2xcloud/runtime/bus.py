"""An in-process publish/subscribe bus (the embedded stand-in for NATS subjects)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from v2xcloud.failures import FailureLog

__all__ = ["InProcessBus"]

logger = logging.getLogger(__name__)

Handler = Callable[[str, Any], None]


class InProcessBus:
    """Synchronous topic bus. A subscription to ``"a.b"`` receives ``"a.b"``; one to ``"a.>"``
    receives every topic below ``a`` (NATS's full wildcard).

    A handler that raises does not stop delivery to the others; the error is counted in
    ``errors`` with the topic, kept (last 100) in ``last_errors`` and handed to ``failures``
    (boundary ``bus:<pattern>``: logged once with its traceback, counted per pattern).

    >>> bus = InProcessBus()
    >>> got = []
    >>> bus.subscribe("advisory.>", lambda topic, msg: got.append((topic, msg)))
    >>> bus.publish("advisory.FCW", 1)
    1
    >>> got
    [('advisory.FCW', 1)]
    """

    def __init__(self, *, failures: FailureLog | None = None) -> None:
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.errors = 0
        self.last_errors: list[tuple[str, BaseException]] = []

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Call ``handler(topic, message)`` for every message published under ``pattern``."""
        self._handlers[pattern].append(handler)

    def unsubscribe(self, pattern: str, handler: Handler) -> None:
        """Stop calling ``handler`` for ``pattern``; unknown pairs are ignored."""
        handlers = self._handlers.get(pattern, [])
        if handler in handlers:
            handlers.remove(handler)

    def publish(self, topic: str, message: Any) -> int:
        """Deliver to every matching handler now; returns how many were called."""
        delivered = 0
        for pattern, handlers in list(self._handlers.items()):
            if not self._matches(pattern, topic):
                continue
            for handler in list(handlers):
                delivered += 1
                try:
                    handler(topic, message)
                except Exception as exc:  # one faulty subscriber must not stop the others
                    self.errors += 1
                    self.last_errors = [*self.last_errors[-99:], (topic, exc)]
                    self.failures.record(f"bus:{pattern}", exc, logger=logger)
        return delivered

    @staticmethod
    def _matches(pattern: str, topic: str) -> bool:
        if pattern.endswith(".>"):
            return topic.startswith(pattern[:-1])
        return pattern == topic
