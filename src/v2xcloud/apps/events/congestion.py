"""Congestion per approach lane: speed, density, queue length and a level, from what is seen.

Each tick measures every ingress lane: vehicles on it, their mean speed, density, and the queue
standing back from the stop line. Levels come from the mean speed over ``window_s`` against the
lane's limit (0 free ≥ 70 %, 1 light ≥ 50 %, 2 moderate ≥ 30 %, 3 heavy below). A lane is
reported congested when its level is at least ``min_level`` and its queue has not cleared for
``min_duration_s``, of which at least ``min_green_s`` under green (when the SPAT is known): a
queue that waits out a long red, or empties on green, is normal signal operation.
"""

from __future__ import annotations

from collections import deque

import msgspec
import numpy as np

from v2xcloud.apps._v2i import on_approaches
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook
from v2xcloud.model import RoadEvent
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import Junction, junctions_of

__all__ = ["CongestionDetector", "LaneTraffic", "level_of", "queue_length_m"]

_LEVEL_BOUNDS = (0.7, 0.5, 0.3)


class LaneTraffic(msgspec.Struct, frozen=True, kw_only=True):
    """One lane's measurement at one tick."""

    node_id: int
    lane_id: int
    vehicle_count: int
    mean_speed_mps: float | None
    density_veh_per_km: float
    queue_length_m: float
    queue_count: int
    level: int


def level_of(speed_ratio: float) -> int:
    """Congestion level 0..3 of mean speed / limit."""
    return sum(speed_ratio < b for b in _LEVEL_BOUNDS)


def queue_length_m(
    to_stop_m: np.ndarray,
    speed_mps: np.ndarray,
    *,
    stopped_mps: float = 2.0,
    max_gap_m: float = 15.0,
) -> tuple[float, int]:
    """Length (m) and size of the standing queue that reaches back from the stop line."""
    standing = np.sort(to_stop_m[speed_mps < stopped_mps])
    length, count, prev = 0.0, 0, 0.0
    for d in standing:
        if d - prev > max_gap_m:
            break
        length, count, prev = float(d) + 2.5, count + 1, float(d)  # + half a car
    return length, count


class CongestionDetector:
    """``congestion`` events per lane; ``traffic`` holds the last tick's ``LaneTraffic``."""

    kind = "congestion"

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        min_duration_s: float = 60.0,
        min_level: int = 2,
        min_green_s: float = 10.0,
        default_limit_mps: float = 50 / 3.6,
        event_type: int | None = None,
    ) -> None:
        self.window_ms = int(window_s * 1000)
        self.min_duration_ms = int(min_duration_s * 1000)
        self.min_level = min_level
        self.min_green_ms = int(min_green_s * 1000)
        self.default_limit_mps = default_limit_mps
        self.book = EventBook(
            kind=self.kind, event_type=event_type or DEFAULT_EVENT_TYPES[self.kind]
        )
        self._speeds: dict[tuple[int, int], deque[tuple[int, float]]] = {}
        self._queued_since: dict[tuple[int, int], int] = {}
        self._green_ms: dict[tuple[int, int], int] = {}
        self._last_ms: int | None = None
        self._dt_ms = 0
        self.traffic: list[LaneTraffic] = []

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Measure every lane, update the windows, return active and just-ended events."""
        on_lane: dict[tuple[int, int], list[tuple[int, float]]] = {}
        for a in on_approaches(view, range_m=1e9):
            key = (a.junction.node.id.id, a.lane)
            on_lane.setdefault(key, []).append((a.index, a.to_stop_m))
        self._dt_ms = 0 if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        self.traffic = []
        measured = set()
        for junction in junctions_of(view).junctions:
            for lane in range(len(junction.lanes)):
                key = (junction.node.id.id, lane)
                measured.add(key)
                self._measure(view, now_ms, junction, lane, on_lane.get(key, []))
        self._forget_lanes_except(measured)
        return self.book.tick(now_ms)

    def lanes_tracked(self) -> int:
        """Lanes with a speed window kept (those of the junctions in the last view)."""
        return len(self._speeds)

    def _forget_lanes_except(self, measured: set[tuple[int, int]]) -> None:
        """Drop the windows of lanes whose junction left the scene (its MAP expired or was
        evicted), so the per-lane state is bounded by the scene's junctions."""
        if len(self._speeds) <= len(measured):
            return
        for key in self._speeds.keys() - measured:
            del self._speeds[key]
            self._queued_since.pop(key, None)
            self._green_ms.pop(key, None)

    def _measure(
        self,
        view: SceneView,
        now_ms: int,
        junction: Junction,
        lane: int,
        rows: list[tuple[int, float]],
    ) -> None:
        key = (junction.node.id.id, lane)
        idx = np.array([r[0] for r in rows], dtype=np.int64)
        to_stop = np.array([r[1] for r in rows])
        speeds = view.speed_mps[idx]
        q_len, q_count = queue_length_m(to_stop, speeds)
        window = self._speeds.setdefault(key, deque())
        if idx.size:
            window.append((now_ms, float(speeds.mean())))
        while window and now_ms - window[0][0] > self.window_ms:
            window.popleft()
        limit = junction.speed_limit_mps[lane] or self.default_limit_mps
        mean = float(np.mean([s for _, s in window])) if window else None
        level = 0 if mean is None else level_of(mean / limit)
        length_km = max(float(junction.length_m[lane]) / 1000.0, 1e-3)
        lane_id = junction.lanes[lane].lane_id
        self.traffic.append(
            LaneTraffic(
                node_id=junction.node.id.id,
                lane_id=lane_id,
                vehicle_count=int(idx.size),
                mean_speed_mps=mean,
                density_veh_per_km=idx.size / length_km,
                queue_length_m=q_len,
                queue_count=q_count,
                level=level,
            )
        )
        if q_count == 0:
            self._queued_since.pop(key, None)
            self._green_ms.pop(key, None)
            return
        since = self._queued_since.setdefault(key, now_ms)
        timing = junction.phase(junction.main_movement(lane).phase_id, now_ms)
        if timing is not None and timing.light.is_green:
            self._green_ms[key] = self._green_ms.get(key, 0) + self._dt_ms
        survived_green = timing is None or self._green_ms.get(key, 0) >= self.min_green_ms
        if level >= self.min_level and now_ms - since >= self.min_duration_ms and survived_green:
            self._report(view, now_ms, junction, lane, q_len, level, since)

    def _report(
        self,
        view: SceneView,
        now_ms: int,
        junction: Junction,
        lane: int,
        q_len: float,
        level: int,
        since: int,
    ) -> None:
        pts = junction.lanes[lane].points
        xy = np.array([view.frame.to_local(p[0], p[1]) for p in pts], dtype=np.float64)
        stop = xy[-1]
        direction = (xy[-1] - xy[-2]) / max(float(np.hypot(*(xy[-1] - xy[-2]))), 1e-9)
        tail = stop - direction * q_len
        mid = (stop + tail) / 2
        lat, lon = view.frame.to_wgs84(mid[0], mid[1])
        t_lat, t_lon = view.frame.to_wgs84(tail[0], tail[1])
        path = ReferencePath(points=((float(t_lat), float(t_lon)), pts[-1]), radius_m=3.0)
        self.book.seen(
            f"{junction.node.id.id}/{junction.lanes[lane].lane_id}",
            now_ms,
            lat_deg=float(lat),
            lon_deg=float(lon),
            radius_m=max(q_len / 2, 10.0),
            confidence=min(1.0, 0.4 + 0.2 * level),
            start_ms=since,
            paths=(path,),
            description=f"level {level}, queue {q_len:.0f} m on lane "
            f"{junction.lanes[lane].lane_id}",
        )
