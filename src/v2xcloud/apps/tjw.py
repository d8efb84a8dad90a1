"""TJW, traffic jam warning: a queue or slow traffic ahead on the vehicle's path, seen directly
(slow vehicles ahead in its direction) or announced as a congestion event in an RSI."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._v2i import advisory
from v2xcloud.apps.hlw import CONGESTION_KINDS
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin.relevance import concerned
from v2xcloud.twin.roadside import RoadsideView
from v2xcloud.twin.v2i import as_roadside
from v2xcloud.twin.view import SceneView

__all__ = ["TrafficJamWarning", "queue_ahead"]

FloatArray = npt.NDArray[np.float64]


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
    dx = x_m[slow][None, :] - x_m[fast][:, None]
    dy = y_m[slow][None, :] - y_m[fast][:, None]
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    hf = heading_deg[fast][:, None]
    off_axis = np.abs((bearing - hf + 180.0) % 360.0 - 180.0)
    same_dir = np.abs((heading_deg[slow][None, :] - hf + 180.0) % 360.0 - 180.0)
    in_queue = (off_axis <= cone_deg) & (same_dir <= heading_tol_deg)
    in_queue &= (dist >= min_gap_m) & (dist <= range_m)
    count[fast] = in_queue.sum(axis=1)
    warn[fast] = count[fast] >= min_count
    tail[fast] = np.where(in_queue, dist, np.inf).min(axis=1)
    tail[~warn] = np.nan
    return warn, tail, count


class TrafficJamWarning:
    """WARNING for vehicles approaching a queue or an announced congestion ahead."""

    code = "TJW"

    def __init__(
        self,
        *,
        range_m: float = 300.0,
        min_count: int = 3,
        approach_mps: float = 8.0,
        hold_ms: int = 2000,
    ) -> None:
        self.range_m = range_m
        self.min_count = min_count
        self.approach_mps = approach_mps
        self.hold_ms = hold_ms

    def on_tick(self, scene: SceneView | RoadsideView, now_ms: int) -> list[Advisory]:
        """Advisories for the vehicles with a queue ahead at ``now_ms``."""
        view = as_roadside(scene)
        vehicles = view.is_vehicle
        speed = np.where(vehicles, view.speed_mps, np.nan)  # only vehicles form or meet queues
        warn, tail, count = queue_ahead(
            view.x_m,
            view.y_m,
            view.heading_deg,
            speed,
            approach_mps=self.approach_mps,
            min_count=self.min_count,
            range_m=self.range_m,
        )
        out = [
            advisory(
                view,
                int(i),
                app=self.code,
                level=AdvisoryLevel.WARNING,
                hold_ms=self.hold_ms,
                detail=f"queue of {count[i]} vehicles ahead",
                values={"distance_m": float(tail[i]), "queue_count": float(count[i])},
            )
            for i in np.flatnonzero(warn)
        ]
        for event in view.events:
            if event.kind not in CONGESTION_KINDS:
                continue
            mask, dist = concerned(
                view,
                lat_deg=event.lat_deg,
                lon_deg=event.lon_deg,
                radius_m=event.radius_m,
                paths=event.reference_paths,
                range_m=self.range_m,
            )
            for i in np.flatnonzero(mask & vehicles & ~warn & (view.speed_mps >= 1.0)):
                out.append(
                    advisory(
                        view,
                        int(i),
                        app=self.code,
                        level=AdvisoryLevel.WARNING,
                        hold_ms=self.hold_ms,
                        detail=f"{event.kind} ahead",
                        other_id=f"event:{event.event_id}",
                        values={"distance_m": float(dist[i])},
                    )
                )
        return out
