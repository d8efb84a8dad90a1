"""Abnormally slow vehicle: a motor vehicle crawling on an approach whose light is green (or
far from the stop line), with no queue in front of it to explain the low speed."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from v2xcloud.apps._v2i import is_vehicle, on_approaches
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook, adopt_since, handover_since
from v2xcloud.apps.events.stopped import queued_behind
from v2xcloud.model import RoadEvent
from v2xcloud.model.thresholds import STANDSTILL_MPS
from v2xcloud.twin import SceneView

__all__ = ["SlowVehicleDetector"]


class SlowVehicleDetector:
    """``slow_vehicle`` events after ``min_duration_s`` below ``fraction`` of the lane limit."""

    kind = "slow_vehicle"

    def __init__(
        self,
        *,
        fraction: float = 0.3,
        min_speed_mps: float = STANDSTILL_MPS,
        min_duration_s: float = 15.0,
        free_distance_m: float = 80.0,
        event_type: int | None = None,
    ) -> None:
        self.fraction = fraction
        self.min_speed_mps = min_speed_mps
        self.min_duration_ms = int(min_duration_s * 1000)
        self.free_distance_m = free_distance_m
        self.book = EventBook(
            kind=self.kind, event_type=event_type or DEFAULT_EVENT_TYPES[self.kind]
        )
        self._since_ms: dict[str, int] = {}

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Track how long each vehicle crawls unexplained; return the events."""
        slowish = is_vehicle(view) & (view.speed_mps < 2.5)
        blocked = queued_behind(view, stopped=slowish, gap_m=25.0)
        since = {}
        for a in on_approaches(view, range_m=1e9):
            limit = a.junction.speed_limit_mps[a.lane]
            v = float(view.speed_mps[a.index])
            if limit is None or not (self.min_speed_mps <= v < self.fraction * limit):
                continue
            timing = a.junction.phase(a.junction.main_movement(a.lane).phase_id, now_ms)
            free_flow = a.to_stop_m > self.free_distance_m or (
                timing is not None and timing.light.is_green
            )
            if not free_flow or blocked[a.index]:
                continue
            pid = view.ids[a.index]
            since[pid] = self._since_ms.get(pid, now_ms)
            if now_ms - since[pid] >= self.min_duration_ms:
                self.book.seen_vehicle(
                    view,
                    int(a.index),
                    now_ms,
                    radius_m=30.0,
                    confidence=0.6,
                    description=f"vehicle {pid} at {v * 3.6:.0f} km/h, limit "
                    f"{limit * 3.6:.0f} km/h",
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
