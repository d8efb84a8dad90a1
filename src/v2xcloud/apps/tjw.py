"""TJW, traffic jam warning: a queue or slow traffic ahead on the vehicle's path, seen directly
(slow vehicles ahead in its direction) or announced as a congestion event in an RSI."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._v2i import (
    CONGESTION_KINDS,
    RoadApp,
    RoadHit,
    approaching,
    is_vehicle,
    road_events,
)
from v2xcloud.apps.base import AppConfig
from v2xcloud.geo.grid import SpatialGrid
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView

__all__ = ["TjwConfig", "TrafficJamWarning", "queue_ahead"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_CHUNK_PAIRS = 500_000  # (fast, slow) pairs tested at once
_GRID_SPAN = 6.0  # the grid pays off once the scene spans this many times the range


def queue_ahead(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_deg: FloatArray,
    speed_mps: FloatArray,
    *,
    approach_mps: float = 8.0,
    slow_mps: float = 2.5,
    min_count: int = 3,
    range_m: float = 300.0,
    min_gap_m: float = 10.0,
    cone_deg: float = 15.0,
    heading_tol_deg: float = 30.0,
) -> tuple[npt.NDArray[np.bool_], FloatArray, npt.NDArray[np.int64]]:
    """Per vehicle: whether ≥ ``min_count`` slow vehicles travel ahead of it in its direction
    (within ``cone_deg`` and ``range_m``) while it still approaches at ≥ ``approach_mps``;
    the distance to the queue's tail (m) and the queue size."""
    n = x_m.size
    fast = np.flatnonzero((speed_mps >= approach_mps) & ~np.isnan(heading_deg))
    slow = np.flatnonzero((speed_mps < slow_mps) & ~np.isnan(heading_deg))
    warn = np.zeros(n, dtype=bool)
    tail = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    if fast.size == 0 or slow.size == 0:
        return warn, tail, count
    nearest = np.full(n, np.inf)
    cos_cone = np.cos(np.radians(cone_deg))
    rad = np.radians(heading_deg)
    for f, s in _candidates(x_m, y_m, fast, slow, range_m):
        same_dir = np.abs((heading_deg[s] - heading_deg[f] + 180.0) % 360.0 - 180.0)
        keep = same_dir <= heading_tol_deg  # cheap test first: most pairs go other ways
        f, s = f[keep], s[keep]
        dx, dy = x_m[s] - x_m[f], y_m[s] - y_m[f]
        dist = np.hypot(dx, dy)
        along = dx * np.sin(rad[f]) + dy * np.cos(rad[f])  # = dist * cos(angle off the axis)
        in_queue = (along >= dist * cos_cone) & (dist >= min_gap_m) & (dist <= range_m)
        count += np.bincount(f[in_queue], minlength=n)
        np.minimum.at(nearest, f[in_queue], dist[in_queue])
    warn[:] = count >= min_count
    tail[warn] = nearest[warn]
    return warn, tail, count


def _candidates(
    x_m: FloatArray, y_m: FloatArray, fast: IntArray, slow: IntArray, range_m: float
) -> Iterator[tuple[IntArray, IntArray]]:
    """(fast, slow) row pairs to test, in chunks of at most ``_CHUNK_PAIRS``: every pair while
    the vehicles are few or close together, else only those within ``range_m`` (spatial
    grid), so a city-sized scene is never a fast × slow matrix."""
    rows = np.concatenate([fast, slow])
    span = max(float(np.ptp(x_m[rows])), float(np.ptp(y_m[rows])))
    if fast.size * slow.size > _CHUNK_PAIRS and span > _GRID_SPAN * range_m:
        grid = SpatialGrid(x_m[rows], y_m[rows], cell_m=range_m / 3)  # fewer candidates
        q, j = grid.neighbours(np.arange(fast.size), range_m)
        keep = j >= fast.size  # the other end is a slow vehicle
        yield rows[q[keep]], rows[j[keep]]
        return
    step = max(1, _CHUNK_PAIRS // slow.size)
    for k in range(0, fast.size, step):
        part = fast[k : k + step]
        yield np.repeat(part, slow.size), np.tile(slow, part.size)


class TjwConfig(AppConfig, frozen=True, kw_only=True):
    """TJW settings: ``min_count`` slow vehicles ahead within ``range_m`` make a queue for a
    vehicle still approaching at ``approach_mps`` or more."""

    range_m: float = 300.0
    min_count: int = 3
    approach_mps: float = 8.0
    validity_ms: int = 2000


class TrafficJamWarning(RoadApp):
    """WARNING for vehicles approaching a queue or an announced congestion ahead."""

    code = "TJW"
    config_type = TjwConfig
    config: TjwConfig

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """The vehicles with a queue ahead at ``now_ms``."""
        cfg = self.config
        vehicles = is_vehicle(view)
        speed = np.where(vehicles, view.speed_mps, np.nan)  # only vehicles form or meet queues
        warn, tail, count = queue_ahead(
            view.x_m,
            view.y_m,
            view.heading_deg,
            speed,
            approach_mps=cfg.approach_mps,
            min_count=cfg.min_count,
            range_m=cfg.range_m,
        )
        out = [
            RoadHit(
                row=int(i),
                level=AdvisoryLevel.WARNING,
                detail=f"queue of {count[i]} vehicles ahead",
                values={"distance_m": float(tail[i]), "queue_count": float(count[i])},
            )
            for i in np.flatnonzero(warn)
        ]
        for event in road_events(view):
            if event.kind not in CONGESTION_KINDS:
                continue
            mask, dist = approaching(view, event, range_m=cfg.range_m)
            for i in np.flatnonzero(mask & ~warn):
                out.append(
                    RoadHit(
                        row=int(i),
                        level=AdvisoryLevel.WARNING,
                        detail=f"{event.kind} ahead",
                        about=f"event:{event.event_id}",
                        values={"distance_m": float(dist[i])},
                    )
                )
        return out
