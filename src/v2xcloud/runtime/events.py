"""The live set of road events: detected by the platform, or received in RSI messages.

``LiveEvents`` runs the event detectors (``apps.events.DETECTORS``) every ``every_ms`` on the
tick's scene view and keeps, per event key (``source|kind|id``), the latest ``RoadEvent``:

- detected events are added when a detector first reports them (``start_ms`` set), replaced
  by each later report (``updates``), and removed when the detector reports them ended
  (``end_ms`` ≤ now) or their validity runs out without a new report (``expiry``);
- received events are those of the RSI messages the scene holds (the scene expires them at
  their ``end_ms`` or when their RSU stops repeating them).

A detector that raises is counted in ``errors`` (per kind), logged once through ``failures``
(boundary ``detector:<kind>``) and skipped for that round; the other detectors and the tick
carry on. Detected events are fed back into the scene as an RSI
of ``platform_rsu_id`` so that HLW and TJW warn about them like about any announced event;
those echoes are not counted again as received events.

``round`` keeps what the detectors reported in the last detection round (active and
just-ended events, each with its condition key: ``EventBook.last_keys``), for a process that
passes its events on (the edge worker publishes its tiles' events on the backbone);
``stable_ids`` gives the detectors' events ids derived from kind and key (``EventBook``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from v2xcloud.apps.events import DETECTORS
from v2xcloud.apps.events.book import EventIds
from v2xcloud.errors import ConfigError
from v2xcloud.failures import FailureLog
from v2xcloud.model import RoadEvent, Rsi
from v2xcloud.runtime.identity import detector_announcer, from_platform
from v2xcloud.twin import SceneView

__all__ = ["EventDetector", "LiveEvents", "default_detectors", "event_key"]

logger = logging.getLogger(__name__)


@runtime_checkable
class EventDetector(Protocol):
    """What ``LiveEvents`` needs of a detector: a ``kind`` and ``on_tick(view, now_ms)``
    returning the events active now and those that just ended."""

    @property
    def kind(self) -> str:
        """The event kind, e.g. ``"stopped_vehicle"``."""
        ...

    def on_tick(self, view: Any, now_ms: int) -> list[RoadEvent]:
        """This round's active and just-ended events."""
        ...


def default_detectors() -> list[EventDetector]:
    """One instance of every registered detector (``apps.events.DETECTORS``), defaults."""
    return [detector() for detector in DETECTORS]


def event_key(event: RoadEvent, rsu_id: str | None = None) -> str:
    """Stable identity of an event across updates: ``source|kind|id`` (plus the RSU id for
    received events, whose ids are only unique per RSU)."""
    head = f"{event.source}|{event.kind}|{event.event_id}"
    return head if rsu_id is None else f"{head}|{rsu_id}"


class LiveEvents:
    """Detected and received road events; see the module docstring.

    ``every_ms`` is the detection period (1000 = 1 Hz). The detectors' event books are given
    a grace and validity of at least two periods, so an event that still holds is never
    ended between two detection rounds, and one shared id pool, as all detected events go out
    in RSI under the platform's one RSU id.
    """

    def __init__(
        self,
        *,
        detectors: Sequence[EventDetector],
        every_ms: int = 1000,
        failures: FailureLog | None = None,
        stable_ids: bool = False,
    ) -> None:
        if every_ms <= 0:
            raise ConfigError(f"LiveEvents: every_ms must be positive, got {every_ms}")
        self.detectors = list(detectors)
        self.failures = failures if failures is not None else FailureLog(logger=logger)
        self.every_ms = every_ms
        ids = EventIds()
        for detector in self.detectors:
            book = getattr(detector, "book", None)
            if book is not None:
                book.ids = ids
                book.stable_ids = stable_ids
                book.grace_ms = max(book.grace_ms, 2 * every_ms)
                book.validity_ms = max(book.validity_ms, 2 * every_ms)
        self.detected: dict[str, RoadEvent] = {}
        self.received: dict[str, RoadEvent] = {}
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()  # started/updated/ended/expired + per kind
        self._last_run_ms: int | None = None
        self.round: list[tuple[str, RoadEvent]] = []  # (condition key, event) of the last round
        self.round_ms: int | None = None

    def due(self, now_ms: int) -> bool:
        """Whether a detection round is due at ``now_ms``."""
        return self._last_run_ms is None or now_ms - self._last_run_ms >= self.every_ms

    def update(self, view: SceneView, now_ms: int) -> list[Rsi]:
        """Take the received events from ``view`` and, when due, run the detectors.

        Returns the RSIs to feed back into the scene with this round's active detected events,
        one per kind (``identity.detector_announcer(kind)``, as event ids are only unique per
        detector).
        """
        self.received = {
            event_key(a.event, a.rsu_id): a.event
            for a in view.events
            if not from_platform(a.rsu_id)
        }
        for key, event in list(self.detected.items()):
            if event.end_ms is not None and event.end_ms <= now_ms:
                del self.detected[key]
                self.counts["expired"] += 1
        if not self.due(now_ms):
            return []
        self._last_run_ms = now_ms
        self.round, self.round_ms = [], now_ms
        out = []
        for detector in self.detectors:
            try:
                events = detector.on_tick(view, now_ms)
            except Exception as exc:  # a detector bug must not stop the tick
                self.errors[detector.kind] += 1
                self.failures.record(f"detector:{detector.kind}", exc, logger=logger)
                continue
            book = getattr(detector, "book", None)
            keys = getattr(book, "last_keys", None)
            if keys is None or len(keys) != len(events):
                keys = [event_key(e) for e in events]
            self.round.extend(zip(keys, events, strict=True))
            fresh = tuple(e for e in events if self._take(e, now_ms))
            if fresh:
                out.append(
                    Rsi(
                        msg_count=0,
                        rsu_id=detector_announcer(detector.kind),
                        ref_lat_deg=float(view.frame.origin_lat_deg),
                        ref_lon_deg=float(view.frame.origin_lon_deg),
                        timestamp_ms=now_ms,
                        events=fresh,
                    )
                )
        return out

    def _take(self, event: RoadEvent, now_ms: int) -> bool:
        """Record one detector report; True when the event is active."""
        key = event_key(event)
        if event.end_ms is not None and event.end_ms <= now_ms:
            if self.detected.pop(key, None) is not None:
                self.counts["ended"] += 1
            return False
        before = self.detected.get(key)
        self.detected[key] = event
        if before is None:
            self.counts["started"] += 1
            self.counts[f"started:{event.kind}"] += 1
        else:
            self.counts["updated"] += 1
        return True

    def active(
        self, now_ms: int | None = None, *, origin: Literal["all", "detected", "received"] = "all"
    ) -> list[RoadEvent]:
        """Live events (detected ones first, then received ones, or only those of ``origin``);
        with ``now_ms``, only those already started and not ended."""
        out = [
            *(self.detected.values() if origin != "received" else ()),
            *(self.received.values() if origin != "detected" else ()),
        ]
        if now_ms is None:
            return out
        return [
            e
            for e in out
            if (e.end_ms is None or e.end_ms > now_ms)
            and (e.start_ms is None or e.start_ms <= now_ms)
        ]

    def stats(self) -> dict[str, Any]:
        """Live counts by origin and kind, lifecycle counters and detector errors."""
        kinds = Counter(e.kind or "event" for e in self.detected.values())
        return {
            "detected": len(self.detected),
            "received": len(self.received),
            "detected_by_kind": dict(kinds),
            "lifecycle": dict(self.counts),
            "detector_errors": dict(self.errors),
        }
