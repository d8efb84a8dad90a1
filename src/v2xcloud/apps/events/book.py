"""Bookkeeping shared by the event detectors: stable ids, start/end, confidence, RoadEvents.

A detector calls ``seen(key, now_ms, ...)`` each tick a condition holds; ``tick(now_ms)``
returns the events active now (``end_ms`` = now + ``validity_ms``, refreshed every tick) and
those that just ended (``end_ms`` = the last time the condition held); ``last_keys`` names the
condition (``key``: a vehicle id, a junction lane) of each event the last ``tick`` returned.

With ``stable_ids`` an event's id is derived from its kind and key (``stable_event_id``) when
that id is free, so two processes that detect the same condition (an edge worker and the one
that takes its tiles over) give it the same RSI ``rteId``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping

import msgspec

from v2xcloud.model import RoadEvent
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin import SceneView

__all__ = [
    "DEFAULT_EVENT_TYPES",
    "EventBook",
    "EventIds",
    "adopt_since",
    "handover_since",
    "stable_event_id",
]

#: event kind -> ``RoadEvent.event_type`` code. GB/T 29100-2012's table was not available to
#: check, so these are configurable defaults (unverified), not quotations of the standard.
DEFAULT_EVENT_TYPES: dict[str, int] = {
    "congestion": 401,
    "stopped_vehicle": 902,
    "wrong_way": 904,
    "slow_vehicle": 905,
}


def stable_event_id(kind: str, key: str) -> int:
    """An id 1..255 derived from an event's kind and condition key (the same in every process).

    >>> stable_event_id("stopped_vehicle", "car-7") == stable_event_id("stopped_vehicle", "car-7")
    True
    """
    digest = hashlib.blake2b(f"{kind}\x1f{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 255 + 1


def handover_since(since_ms: dict[str, int], ids: Collection[str]) -> dict[str, int]:
    """The condition clocks (``{vehicle: since ms}``) of ``ids``: what a detector hands to the
    process that takes over the place of those vehicles (an edge worker's successor on a
    tile), so an event that holds goes on there instead of starting its wait again."""
    return {pid: t for pid, t in since_ms.items() if pid in ids}


def adopt_since(since_ms: dict[str, int], clocks: Mapping[str, int]) -> int:
    """Take over handed clocks (the earlier start wins: both counted the same condition);
    returns how many were taken."""
    for pid, t in clocks.items():
        since_ms[pid] = min(since_ms.get(pid, t), t)
    return len(clocks)


class _Open(msgspec.Struct, kw_only=True):
    event_id: int
    start_ms: int
    last_ms: int
    event: RoadEvent  # latest content; ids and times are filled in by ``tick``


class EventIds:
    """Event ids 1..255 (the RSI ``rteId``), handed out in turn and never two open at once.

    Detectors whose events go out under one RSU id share one pool (``EventBook.ids``), so a
    receiver keying events by (RSU, id) never confuses two kinds. With all 255 open, the
    oldest id is reused.
    """

    def __init__(self) -> None:
        self._next = 1
        self._open: set[int] = set()

    def take(self, preferred: int | None = None) -> int:
        """``preferred`` when it is an id not in use, else the next id not in use."""
        if preferred is not None and 1 <= preferred <= 255 and preferred not in self._open:
            self._open.add(preferred)
            return preferred
        for _ in range(255):
            event_id, self._next = self._next, self._next % 255 + 1
            if event_id not in self._open:
                self._open.add(event_id)
                return event_id
        event_id, self._next = self._next, self._next % 255 + 1
        return event_id

    def release(self, event_id: int) -> None:
        """The event with ``event_id`` ended."""
        self._open.discard(event_id)


class EventBook:
    """Open and closed events of one detector ``kind``; ids from ``ids`` (its own pool unless
    one is shared, see ``EventIds``); ``stable_ids``: see the module docstring."""

    def __init__(
        self, *, kind: str, event_type: int, validity_ms: int = 2000, grace_ms: int = 1000
    ) -> None:
        self.kind = kind
        self.event_type = event_type
        self.validity_ms = validity_ms
        self.grace_ms = grace_ms
        self.ids = EventIds()
        self.stable_ids = False
        self.last_keys: list[str] = []
        self._open: dict[str, _Open] = {}

    def seen(
        self,
        key: str,
        now_ms: int,
        *,
        lat_deg: float,
        lon_deg: float,
        radius_m: float,
        confidence: float,
        description: str,
        start_ms: int | None = None,
        paths: tuple[ReferencePath, ...] = (),
    ) -> None:
        """The condition ``key`` holds at ``now_ms``; ``start_ms`` backdates a new event."""
        event = RoadEvent(
            event_id=0,
            event_type=self.event_type,
            source="detection",
            kind=self.kind,
            lat_deg=lat_deg,
            lon_deg=lon_deg,
            radius_m=radius_m,
            confidence=confidence,
            description=description,
            reference_paths=paths,
        )
        entry = self._open.get(key)
        if entry is None:
            self._open[key] = _Open(
                event_id=self.ids.take(
                    stable_event_id(self.kind, key) if self.stable_ids else None
                ),
                start_ms=now_ms if start_ms is None else start_ms,
                last_ms=now_ms,
                event=event,
            )
        else:
            entry.last_ms, entry.event = now_ms, event

    def seen_vehicle(
        self,
        view: SceneView,
        row: int,
        now_ms: int,
        *,
        radius_m: float,
        confidence: float,
        description: str,
        start_ms: int | None = None,
    ) -> None:
        """``seen`` for a condition about one participant (keyed by its id, at its position)."""
        lat, lon = view.to_wgs84([row])
        self.seen(
            view.ids[row],
            now_ms,
            lat_deg=float(lat[0]),
            lon_deg=float(lon[0]),
            radius_m=radius_m,
            confidence=confidence,
            description=description,
            start_ms=start_ms,
        )

    def tick(self, now_ms: int) -> list[RoadEvent]:
        """Active events (valid a little past now) and the ones that ended since last tick."""
        out = []
        self.last_keys = []
        for key, entry in list(self._open.items()):
            self.last_keys.append(key)
            ended = now_ms - entry.last_ms > self.grace_ms
            end = entry.last_ms if ended else now_ms + self.validity_ms
            out.append(
                msgspec.structs.replace(
                    entry.event, event_id=entry.event_id, start_ms=entry.start_ms, end_ms=end
                )
            )
            if ended:
                del self._open[key]
                self.ids.release(entry.event_id)
        return out
