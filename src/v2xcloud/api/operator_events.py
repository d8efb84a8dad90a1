"""Road events posted by operators (``POST /api/events``), kept in the API process so that
``GET /api/events`` (and the console) shows them while they are in force, next to the events
the platform detected or received. Bounded: at most ``max_events``; ended events are dropped."""

from __future__ import annotations

import threading

from v2xcloud.model import RoadEvent

__all__ = ["OperatorEvents", "in_force"]


def in_force(event: RoadEvent, now_ms: int) -> bool:
    """Whether ``event`` is in force at ``now_ms``: started (or no start) and not ended."""
    started = event.start_ms is None or event.start_ms <= now_ms
    return started and (event.end_ms is None or event.end_ms > now_ms)


class OperatorEvents:
    """The operator-posted events of this process, by ``(source, event_id)``."""

    def __init__(self, max_events: int = 1024) -> None:
        self.max_events = max_events
        self._lock = threading.Lock()
        self._events: dict[tuple[str, int], RoadEvent] = {}
        self.evicted = 0  # dropped while still in force because the table was full

    def add(self, event: RoadEvent, now_ms: int) -> None:
        """Keep ``event`` (replacing one with the same source and id)."""
        with self._lock:
            self._prune(now_ms)
            self._events[(event.source, event.event_id)] = event
            while len(self._events) > self.max_events:  # oldest posted first
                del self._events[next(iter(self._events))]
                self.evicted += 1

    def in_force(self, now_ms: int) -> list[RoadEvent]:
        """The posted events in force at ``now_ms`` (started and not ended)."""
        with self._lock:
            self._prune(now_ms)
            return [e for e in self._events.values() if in_force(e, now_ms)]

    def _prune(self, now_ms: int) -> None:
        ended = [k for k, e in self._events.items() if e.end_ms is not None and e.end_ms <= now_ms]
        for key in ended:
            del self._events[key]
