"""SLW, speed limit warning: a vehicle faster than the limit of its lane (MAP) or of a
speed-limit sign (RSI) whose zone it is in, by more than a tolerance."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import advisory, on_approaches
from v2xcloud.geo.relevance import on_path
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin.roadside import RoadsideView
from v2xcloud.twin.v2i import as_roadside
from v2xcloud.twin.view import SceneView

__all__ = ["SpeedLimitWarning", "limits_from_signs_mps"]


def limits_from_signs_mps(view: RoadsideView) -> np.ndarray:
    """Per participant, the lowest limit of the RSI speed signs that apply (``inf``: none)."""
    limit = np.full(len(view.ids), np.inf)
    for sign in view.signs:
        if sign.speed_limit_mps is None:
            continue
        for path in sign.reference_paths:
            lat = np.array([p[0] for p in path.points])
            lon = np.array([p[1] for p in path.points])
            px, py = view.frame.to_local(lat, lon)
            inside, _ = on_path(
                view.x_m, view.y_m, view.heading_deg, np.column_stack([px, py]), path.radius_m
            )
            limit = np.where(inside, np.minimum(limit, sign.speed_limit_mps), limit)
    return limit


class SpeedLimitWarning:
    """Warn a vehicle exceeding its applicable limit by more than ``tolerance_mps``."""

    code = "SLW"

    def __init__(self, *, tolerance_mps: float = 5 / 3.6, hold_ms: int = 2000) -> None:
        self.tolerance_mps = tolerance_mps
        self.hold_ms = hold_ms

    def on_tick(self, scene: SceneView | RoadsideView, now_ms: int) -> list[Advisory]:
        """Advisories for speeding vehicles at ``now_ms``."""
        view = as_roadside(scene)
        limit = limits_from_signs_mps(view)
        for a in on_approaches(view, range_m=1e9):
            lane_limit = a.junction.speed_limit_mps[a.lane]
            if lane_limit is not None:
                limit[a.index] = min(limit[a.index], lane_limit)
        over = view.is_vehicle & np.isfinite(limit) & (view.speed_mps > limit + self.tolerance_mps)
        return [
            advisory(
                view,
                int(i),
                app=self.code,
                level=AdvisoryLevel.WARNING,
                hold_ms=self.hold_ms,
                detail=f"{view.speed_mps[i] * 3.6:.0f} km/h over limit {limit[i] * 3.6:.0f}",
                values={"speed_mps": float(view.speed_mps[i]), "limit_mps": float(limit[i])},
            )
            for i in np.flatnonzero(over)
        ]
