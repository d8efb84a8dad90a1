"""SLW, speed limit warning: a vehicle faster than the limit of its lane (MAP) or of a
speed-limit sign (RSI) whose zone it is in, by more than a tolerance."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import RoadApp, RoadHit, is_vehicle, on_approaches, road_signs
from v2xcloud.apps.base import AppConfig
from v2xcloud.geo.relevance import on_path
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView

__all__ = ["SlwConfig", "SpeedLimitWarning", "limits_from_signs_mps"]


def limits_from_signs_mps(view: SceneView) -> np.ndarray:
    """Per participant, the lowest limit of the RSI speed signs that apply (``inf``: none)."""
    limit = np.full(len(view.ids), np.inf)
    for sign in road_signs(view):
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


class SlwConfig(AppConfig, frozen=True, kw_only=True):
    """SLW settings: warn above the limit plus ``tolerance_mps``."""

    tolerance_mps: float = 5 / 3.6
    validity_ms: int = 2000


class SpeedLimitWarning(RoadApp):
    """Warn a vehicle exceeding its applicable limit by more than ``tolerance_mps``."""

    code = "SLW"
    config_type = SlwConfig
    config: SlwConfig

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """Speeding vehicles at ``now_ms``."""
        limit = limits_from_signs_mps(view)
        for a in on_approaches(view, range_m=1e9):
            lane_limit = a.junction.speed_limit_mps[a.lane]
            if lane_limit is not None:
                limit[a.index] = min(limit[a.index], lane_limit)
        speed = view.speed_mps
        over = is_vehicle(view) & np.isfinite(limit) & (speed > limit + self.config.tolerance_mps)
        return [
            RoadHit(
                row=int(i),
                level=AdvisoryLevel.WARNING,
                detail=f"{speed[i] * 3.6:.0f} km/h over limit {limit[i] * 3.6:.0f}",
                values={"speed_mps": float(speed[i]), "limit_mps": float(limit[i])},
            )
            for i in np.flatnonzero(over)
        ]
