"""IVS, in-vehicle signage: RSI traffic signs shown to the vehicles whose path they apply to."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import RoadApp, RoadHit, is_vehicle, road_signs
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView
from v2xcloud.twin.relevance import concerned

__all__ = ["InVehicleSignage", "IvsConfig"]


class IvsConfig(AppConfig, frozen=True, kw_only=True):
    """IVS settings: signs without reference paths concern vehicles heading for them within
    ``range_m``."""

    range_m: float = 300.0
    validity_ms: int = 2000


class InVehicleSignage(RoadApp):
    """One INFO advisory per (vehicle, sign) while the sign applies to the vehicle's path."""

    code = "IVS"
    config_type = IvsConfig
    config: IvsConfig

    def reach(self) -> tuple[Reach, ...]:
        """Road signs (RSI) within ``range_m``."""
        return (Reach(self.config.range_m, Partners.ROAD_ITEMS),)

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """Every sign valid at ``now_ms`` for the vehicles it concerns."""
        out: list[RoadHit] = []
        vehicles = is_vehicle(view)
        for sign in road_signs(view):
            if sign.start_ms is not None and sign.start_ms > now_ms:
                continue
            mask, dist = concerned(
                view,
                lat_deg=sign.lat_deg,
                lon_deg=sign.lon_deg,
                radius_m=None,
                paths=sign.reference_paths,
                range_m=self.config.range_m,
            )
            values = {"sign_type": float(sign.sign_type)}
            if sign.speed_limit_mps is not None:
                values["limit_mps"] = sign.speed_limit_mps
            for i in np.flatnonzero(mask & vehicles):
                out.append(
                    RoadHit(
                        row=int(i),
                        level=AdvisoryLevel.INFO,
                        detail=sign.description or f"sign {sign.sign_type}",
                        about=f"sign:{sign.sign_id}",
                        values={**values, "distance_m": float(dist[i])},
                    )
                )
        return out
