"""Wrong-way driving: a moving motor vehicle on a mapped lane, before its stop line, heading
against the lane's direction for a sustained time."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from v2xcloud.apps._v2i import is_vehicle
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook, adopt_since, handover_since
from v2xcloud.model import RoadEvent
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import junctions_of

__all__ = ["WrongWayDetector"]


class WrongWayDetector:
    """``wrong_way`` events after ``min_duration_s`` of driving against the lane."""

    kind = "wrong_way"

    def __init__(
        self,
        *,
        min_speed_mps: float = 3.0,
        min_duration_s: float = 1.5,
        against_deg: float = 135.0,
        max_lateral_m: float = 1.5,
        event_type: int | None = None,
    ) -> None:
        self.min_speed_mps = min_speed_mps
        self.min_duration_ms = int(min_duration_s * 1000)
        self.against_deg = against_deg
        self.max_lateral_m = max_lateral_m
        self.book = EventBook(
            kind=self.kind, event_type=event_type or DEFAULT_EVENT_TYPES[self.kind]
        )
        self._since_ms: dict[str, int] = {}

    def _against(self, view: SceneView) -> np.ndarray:
        """Moving vehicles nearest to an ingress lane (whatever its direction), before its stop
        line, heading against it."""
        against = np.zeros(len(view.ids), dtype=bool)
        moving = np.flatnonzero(
            is_vehicle(view) & (view.speed_mps >= self.min_speed_mps) & ~np.isnan(view.heading_deg)
        )
        if moving.size == 0 or view.lanes is None:
            return against
        m = view.lanes.match(view.x_m[moving], view.y_m[moving], None)
        ingress = np.zeros(m.lane.size, dtype=bool)
        matched = m.lane >= 0
        ingress[matched] = junctions_of(view).junction_of_lane[m.lane[matched]] >= 0
        diff = np.abs((view.heading_deg[moving] - m.lane_heading_deg + 180.0) % 360.0 - 180.0)
        hit = ingress & (m.to_stop_m > 0) & (np.abs(m.lateral_m) <= self.max_lateral_m)
        against[moving[hit & (diff >= self.against_deg)]] = True
        return against

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Track how long each vehicle drives against its lane; return the events."""
        against = self._against(view)
        since = {}
        for i in np.flatnonzero(against):
            pid = view.ids[i]
            since[pid] = self._since_ms.get(pid, now_ms)
            if now_ms - since[pid] >= self.min_duration_ms:
                self.book.seen_vehicle(
                    view,
                    int(i),
                    now_ms,
                    radius_m=50.0,
                    confidence=0.8,
                    description=f"vehicle {pid} driving against the lane",
                    start_ms=since[pid],
                )
        self._since_ms = since
        return self.book.tick(now_ms)

    def handover(self, ids: Collection[str]) -> dict[str, int]:
        """The condition clocks (since ms) of the vehicles ``ids`` (``book.handover_since``)."""
        return handover_since(self._since_ms, ids)

    def adopt(self, clocks: Mapping[str, int], at_ms: int) -> int:
        """Take over clocks a predecessor handed (``handover`` at ``at_ms``)."""
        return adopt_since(self._since_ms, clocks)
