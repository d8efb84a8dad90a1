"""Stopped vehicle / possible incident in a travel lane.

A motor vehicle standing still counts towards an incident only while nothing explains it: it
is not waiting at a red (or yellow) light of its approach, and it is not queued behind another
standing vehicle a few metres ahead. So a queue at a red light is never an incident, while the
head of a queue that does not move off on green is. With a map, only vehicles on a mapped
approach lane (a travel lane) count; without one, every motor vehicle does.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import is_vehicle, on_approaches
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook
from v2xcloud.model import RoadEvent
from v2xcloud.model.thresholds import STANDSTILL_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import junctions_of

__all__ = ["StoppedVehicleDetector", "queued_behind"]


def queued_behind(
    view: SceneView, *, stopped: np.ndarray, gap_m: float = 12.0, cone_deg: float = 25.0
) -> np.ndarray:
    """Mask of stopped vehicles with another stopped vehicle within ``gap_m`` ahead (pairs
    from the view's spatial grid, so a large scene is no stopped × stopped matrix)."""
    idx = np.flatnonzero(stopped)
    out = np.zeros(len(view.ids), dtype=bool)
    if idx.size < 2:
        return out
    pairs = view.neighbours(idx, gap_m)
    q, j = pairs.ego, pairs.other
    keep = stopped[j]
    q, j = q[keep], j[keep]
    dx, dy = view.x_m[j] - view.x_m[q], view.y_m[j] - view.y_m[q]
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    off = np.abs((bearing - view.heading_deg[q] + 180.0) % 360.0 - 180.0)
    ahead = (off <= cone_deg) & (dist > 0.1) & (dist <= gap_m)
    out[q[ahead]] = True
    return out


class StoppedVehicleDetector:
    """``stopped_vehicle`` events for vehicles standing unexplained ≥ ``min_stopped_s``."""

    kind = "stopped_vehicle"

    def __init__(
        self,
        *,
        min_stopped_s: float = 20.0,
        standstill_mps: float = STANDSTILL_MPS,
        moving_mps: float = 2.0,
        event_type: int | None = None,
    ) -> None:
        self.min_stopped_ms = int(min_stopped_s * 1000)
        self.standstill_mps = standstill_mps
        self.moving_mps = moving_mps
        self.book = EventBook(
            kind=self.kind, event_type=event_type or DEFAULT_EVENT_TYPES[self.kind]
        )
        self._unexplained_ms: dict[str, int] = {}
        self._last_ms: int | None = None

    def _in_lane_and_waiting(self, view: SceneView, now_ms: int) -> tuple[set[int], set[int]]:
        """Rows on a mapped approach lane, and those of them facing a non-green light."""
        in_lane, waiting = set(), set()
        for a in on_approaches(view, range_m=1e9):
            in_lane.add(a.index)
            timings = [a.junction.phase(c.phase_id, now_ms) for c in a.junction.movements(a.lane)]
            if any(t is not None and not t.light.is_green for t in timings):
                waiting.add(a.index)
        return in_lane, waiting

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Update per-vehicle standstill clocks; return active and just-ended events."""
        dt = 0 if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        vehicles = is_vehicle(view)
        stopped = vehicles & (view.speed_mps < self.standstill_mps)
        explained = queued_behind(view, stopped=stopped)
        in_lane, waiting = self._in_lane_and_waiting(view, now_ms)
        has_map = any(len(j.lanes) for j in junctions_of(view).junctions)
        clocks = {}
        for i in np.flatnonzero(vehicles & (view.speed_mps < self.moving_mps)):
            pid = view.ids[i]
            off_road = has_map and int(i) not in in_lane
            unexplained = stopped[i] and not (explained[i] or off_road or int(i) in waiting)
            clocks[pid] = self._unexplained_ms.get(pid, 0) + (dt if unexplained else 0)
            if clocks[pid] >= self.min_stopped_ms and stopped[i]:
                conf = min(1.0, 0.5 + (clocks[pid] - self.min_stopped_ms) / 60_000)
                self.book.seen_vehicle(
                    view,
                    int(i),
                    now_ms,
                    radius_m=10.0,
                    confidence=conf,
                    description=f"vehicle {pid} stopped {clocks[pid] / 1000:.0f} s",
                    start_ms=now_ms - clocks[pid],
                )
        self._unexplained_ms = clocks  # vehicles that moved off or left start from zero
        return self.book.tick(now_ms)
