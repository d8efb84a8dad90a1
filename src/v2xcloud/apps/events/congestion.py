"""Congestion per approach lane: speed, density, queue length and a level, from what is seen.

Each tick measures every ingress lane: vehicles on it, their mean speed, density, and the queue
standing back from the stop line. Levels come from the mean speed over ``window_s`` against the
lane's limit (0 free ≥ 70 %, 1 light ≥ 50 %, 2 moderate ≥ 30 %, 3 heavy below). A lane is
reported congested when its level is at least ``min_level`` and its queue has not cleared for
``min_duration_s``, of which at least ``min_green_s`` under green (when the SPAT is known): a
queue that waits out a long red, or empties on green, is normal signal operation.

The detector works in two steps: ``lane_samples(view, now_ms)`` reads each lane from the
scene (``LaneSample``: the lane's geometry, limit and light, and the vehicles on it), and
``measure(samples, frame, now_ms)`` judges them. ``on_tick`` does both on one scene; on the
backbone the edge workers take the samples of their own tiles and the centre merges them
(``merge_samples``) and measures the whole corridor (``runtime.corridor``), which gives the
events one scene holding every vehicle would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import msgspec
import numpy as np

from v2xcloud.apps._v2i import on_approaches
from v2xcloud.apps.events.book import DEFAULT_EVENT_TYPES, EventBook
from v2xcloud.geo import LocalFrame
from v2xcloud.model import RoadEvent
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin import SceneView
from v2xcloud.twin.junction import junctions_of

__all__ = [
    "CongestionDetector",
    "LaneSample",
    "LaneTraffic",
    "lane_samples",
    "level_of",
    "merge_samples",
    "queue_length_m",
]

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


class LaneSample(msgspec.Struct, frozen=True, kw_only=True):
    """One ingress lane at one detection round: what the congestion measure needs.

    ``node_id`` and ``lane`` (index in the junction's lanes) name it. The lane part
    (``lane_id``, ``limit_mps``, ``length_m``, ``tail``: its last two points (lat, lon) up to
    the stop line, ``green``: its main movement's light is green now, ``None`` without a
    SPAT) is empty (``lane_id`` -1) in a sample that carries only vehicles; the vehicles on
    it: ``ids``, ``to_stop_m``, ``speed_mps`` (one entry each).
    """

    node_id: int
    lane: int
    lane_id: int = -1
    limit_mps: float | None = None
    length_m: float = 0.0
    tail: tuple[tuple[float, float], ...] = ()
    green: bool | None = None
    ids: tuple[str, ...] = ()
    to_stop_m: tuple[float, ...] = ()
    speed_mps: tuple[float, ...] = ()

    @property
    def has_lane(self) -> bool:
        """Whether the lane part is given (not only vehicles)."""
        return self.lane_id >= 0


def lane_samples(view: SceneView, now_ms: int) -> list[LaneSample]:
    """Every ingress lane of the view's junctions with the vehicles on it (``on_approaches``)."""
    on_lane: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for a in on_approaches(view, range_m=1e9):
        key = (a.junction.node.id.id, a.lane)
        on_lane.setdefault(key, []).append((a.index, a.to_stop_m))
    out = []
    for junction in junctions_of(view).junctions:
        for lane in range(len(junction.lanes)):
            rows = on_lane.get((junction.node.id.id, lane), [])
            timing = junction.phase(junction.main_movement(lane).phase_id, now_ms)
            pts = junction.lanes[lane].points
            out.append(
                LaneSample(
                    node_id=junction.node.id.id,
                    lane=lane,
                    lane_id=junction.lanes[lane].lane_id,
                    limit_mps=junction.speed_limit_mps[lane],
                    length_m=float(junction.length_m[lane]),
                    tail=tuple((float(p[0]), float(p[1])) for p in pts[-2:]),
                    green=None if timing is None else bool(timing.light.is_green),
                    ids=tuple(view.ids[r] for r, _ in rows),
                    to_stop_m=tuple(float(d) for _, d in rows),
                    speed_mps=tuple(float(view.speed_mps[r]) for r, _ in rows),
                )
            )
    return out


def merge_samples(parts: Iterable[LaneSample]) -> list[LaneSample]:
    """One sample per lane from the parts several processes took (the lane part from the one
    that gave it, the vehicles of all, each vehicle once); lanes without a lane part are left
    out (nobody measured the lane itself), in the order of the lane parts."""
    lanes: dict[tuple[int, int], LaneSample] = {}
    vehicles: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
    for part in parts:
        key = (part.node_id, part.lane)
        if part.has_lane and key not in lanes:
            lanes[key] = part
        seen = vehicles.setdefault(key, {})
        for pid, d, v in zip(part.ids, part.to_stop_m, part.speed_mps, strict=True):
            seen.setdefault(pid, (d, v))
    out = []
    for key, lane in lanes.items():
        on = vehicles.get(key, {})
        out.append(
            msgspec.structs.replace(
                lane,
                ids=tuple(on),
                to_stop_m=tuple(d for d, _ in on.values()),
                speed_mps=tuple(v for _, v in on.values()),
            )
        )
    return out


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
        self.samples: list[LaneSample] = []  # the last round's, when it read a scene

    def on_tick(self, view: SceneView, now_ms: int) -> list[RoadEvent]:
        """Measure every lane, update the windows, return active and just-ended events."""
        self.samples = lane_samples(view, now_ms)
        return self.measure(self.samples, view.frame, now_ms)

    def measure(
        self, samples: Sequence[LaneSample], frame: LocalFrame, now_ms: int
    ) -> list[RoadEvent]:
        """Judge one round's lane samples (``frame``: where event positions are computed);
        return active and just-ended events."""
        self._dt_ms = 0 if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        self.traffic = []
        measured = set()
        for sample in samples:
            if not sample.has_lane:
                continue
            measured.add((sample.node_id, sample.lane))
            self._measure(frame, now_ms, sample)
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

    def _measure(self, frame: LocalFrame, now_ms: int, sample: LaneSample) -> None:
        key = (sample.node_id, sample.lane)
        to_stop = np.array(sample.to_stop_m, dtype=np.float64)
        speeds = np.array(sample.speed_mps, dtype=np.float64)
        q_len, q_count = queue_length_m(to_stop, speeds)
        window = self._speeds.setdefault(key, deque())
        if speeds.size:
            window.append((now_ms, float(speeds.mean())))
        while window and now_ms - window[0][0] > self.window_ms:
            window.popleft()
        limit = sample.limit_mps or self.default_limit_mps
        mean = float(np.mean([s for _, s in window])) if window else None
        level = 0 if mean is None else level_of(mean / limit)
        length_km = max(sample.length_m / 1000.0, 1e-3)
        self.traffic.append(
            LaneTraffic(
                node_id=sample.node_id,
                lane_id=sample.lane_id,
                vehicle_count=int(speeds.size),
                mean_speed_mps=mean,
                density_veh_per_km=speeds.size / length_km,
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
        if sample.green:
            self._green_ms[key] = self._green_ms.get(key, 0) + self._dt_ms
        survived_green = sample.green is None or self._green_ms.get(key, 0) >= self.min_green_ms
        if level >= self.min_level and now_ms - since >= self.min_duration_ms and survived_green:
            self._report(frame, now_ms, sample, q_len, level, since)

    def _report(
        self,
        frame: LocalFrame,
        now_ms: int,
        sample: LaneSample,
        q_len: float,
        level: int,
        since: int,
    ) -> None:
        pts = sample.tail
        xy = np.array([frame.to_local(p[0], p[1]) for p in pts], dtype=np.float64)
        stop = xy[-1]
        direction = (xy[-1] - xy[-2]) / max(float(np.hypot(*(xy[-1] - xy[-2]))), 1e-9)
        tail = stop - direction * q_len
        mid = (stop + tail) / 2
        lat, lon = frame.to_wgs84(mid[0], mid[1])
        t_lat, t_lon = frame.to_wgs84(tail[0], tail[1])
        path = ReferencePath(points=((float(t_lat), float(t_lon)), pts[-1]), radius_m=3.0)
        self.book.seen(
            f"{sample.node_id}/{sample.lane_id}",
            now_ms,
            lat_deg=float(lat),
            lon_deg=float(lon),
            radius_m=max(q_len / 2, 10.0),
            confidence=min(1.0, 0.4 + 0.2 * level),
            start_ms=since,
            paths=(path,),
            description=f"level {level}, queue {q_len:.0f} m on lane {sample.lane_id}",
        )
