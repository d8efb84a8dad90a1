"""Results other processes produced, taken into this runtime's tick: the centre tier's intake.

On the backbone the edge workers run the scene and the applications for their tiles and
publish advisories, road events and dead letters; the centre tier reads them
(``gateways.nats.ResultConsumer``) and hands them to ``RemoteResults`` from its reader's
thread. ``RemoteResults`` is an application of the centre's own runtime (``code`` ``REMOTE``):
at each tick ``on_tick`` returns the advisories that arrived since the last one, so the
runtime puts them in force and tells its sinks exactly as if its own applications had issued
them: the live API, the dashboard's stream and the history see one view over every worker.
``feed(runtime, now_ms)`` (before the tick, on the tick's thread) hands the road events to the
scene as received events (an RSI per batch and tile, announced by ``REMOTE_ANNOUNCER:{tile}``:
each tile's worker numbers its own events, so two tiles' events may share an id), the dead
letters to the runtime's dead letters and the workers' misbehaviour reports to the runtime's
(``Runtime.record_misbehaviour``: the API and the history).

Each inbox is bounded (``capacity``): past it the oldest waiting item is dropped and counted
in ``counts["lost_<kind>"]`` (logged once per thousand), so a stalled tick cannot grow memory.

>>> r = RemoteResults(capacity=2)
>>> from v2xcloud.model import Advisory, AdvisoryLevel
>>> for i in range(3):
...     r.put_advisory(Advisory(app="FCW", level=AdvisoryLevel.WARNING, ego_id=str(i),
...                             issued_ms=0, expires_ms=1000))
>>> [a.ego_id for a in r.on_tick(None, 0)], r.counts["lost_advisories"]
(['1', '2'], 1)
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, TypeVar

from v2xcloud.model import Advisory, DeadLetter, MisbehaviourReport, RoadEvent, Rsi

if TYPE_CHECKING:
    from v2xcloud.runtime.core import Runtime

__all__ = ["REMOTE_ANNOUNCER", "RemoteResults"]

logger = logging.getLogger(__name__)

#: The RSU id under which the workers' road events enter the centre's scene.
REMOTE_ANNOUNCER = "backbone"

_T = TypeVar("_T")


class RemoteResults:
    """The centre's inbox of the workers' results (see the module docstring)."""

    code = "REMOTE"

    def __init__(self, *, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._advisories: deque[Advisory] = deque()
        self._events: deque[tuple[str, RoadEvent]] = deque()  # (tile, event)
        self._dead: deque[DeadLetter] = deque()
        self._misbehaviour: deque[MisbehaviourReport] = deque()

    def _put(self, box: deque[_T], item: _T, kind: str) -> None:
        with self._lock:
            if len(box) >= self.capacity:
                box.popleft()
                self.counts[f"lost_{kind}"] += 1
                if self.counts[f"lost_{kind}"] % 1000 == 1:
                    logger.warning(
                        "remote %s: inbox full (%d), oldest dropped (%d so far)",
                        kind,
                        self.capacity,
                        self.counts[f"lost_{kind}"],
                    )
            box.append(item)
            self.counts[kind] += 1

    def put_advisory(self, advisory: Advisory) -> None:
        """An advisory a worker issued (any thread)."""
        self._put(self._advisories, advisory, "advisories")

    def put_event(self, event: RoadEvent, subject: str = "") -> None:
        """A road event a worker detected (any thread), from ``subject``
        (``evt.{tenant}.{tile}.{kind}``: the tile its worker numbered it in)."""
        parts = subject.split(".")
        tile = parts[2] if len(parts) == 4 and parts[0] == "evt" else ""
        self._put(self._events, (tile, event), "events")

    def put_dead_letter(self, letter: DeadLetter) -> None:
        """A dead letter of a gateway or worker (any thread)."""
        self._put(self._dead, letter, "dead_letters")

    def put_misbehaviour(self, report: MisbehaviourReport) -> None:
        """A sender a worker flagged (any thread)."""
        self._put(self._misbehaviour, report, "misbehaviour")

    def _take(self, box: deque[_T]) -> list[_T]:
        with self._lock:
            items = list(box)
            box.clear()
        return items

    def on_tick(self, view: Any, now_ms: int) -> list[Advisory]:
        """The advisories that arrived since the last tick (the runtime puts them in force)."""
        return self._take(self._advisories)

    def feed(self, runtime: Runtime, now_ms: int) -> None:
        """Hand the waiting road events to the scene and dead letters to the runtime."""
        by_tile: dict[str, list[RoadEvent]] = {}
        for tile, event in self._take(self._events):
            by_tile.setdefault(tile, []).append(event)
        frame = runtime.scene.frame
        for tile, events in by_tile.items():
            announcer = f"{REMOTE_ANNOUNCER}:{tile}" if tile else REMOTE_ANNOUNCER
            rsi = Rsi(
                msg_count=0,
                rsu_id=announcer,
                ref_lat_deg=float(frame.origin_lat_deg),
                ref_lon_deg=float(frame.origin_lon_deg),
                timestamp_ms=now_ms,
                events=tuple(events),
            )
            runtime.scene.ingest(rsi, received_at_ms=now_ms, source=announcer)
        for letter in self._take(self._dead):
            runtime.dead_letter(letter)
        runtime.record_misbehaviour(self._take(self._misbehaviour))

    def stats(self) -> dict[str, int]:
        """Items received and lost per kind, and waiting now."""
        with self._lock:
            waiting = (
                len(self._advisories)
                + len(self._events)
                + len(self._dead)
                + len(self._misbehaviour)
            )
        return dict(self.counts) | {"waiting": waiting}
