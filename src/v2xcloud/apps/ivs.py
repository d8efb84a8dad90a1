"""IVS, in-vehicle signage: RSI traffic signs shown to the vehicles whose path they apply to."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import advisory
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin.relevance import concerned
from v2xcloud.twin.roadside import RoadsideView
from v2xcloud.twin.v2i import as_roadside
from v2xcloud.twin.view import SceneView

__all__ = ["InVehicleSignage"]


class InVehicleSignage:
    """One INFO advisory per (vehicle, sign) while the sign applies to the vehicle's path."""

    code = "IVS"

    def __init__(self, *, range_m: float = 300.0, hold_ms: int = 2000) -> None:
        self.range_m = range_m
        self.hold_ms = hold_ms

    def on_tick(self, scene: SceneView | RoadsideView, now_ms: int) -> list[Advisory]:
        """Advisories for every sign valid at ``now_ms`` and the vehicles it concerns."""
        view = as_roadside(scene)
        out: list[Advisory] = []
        vehicles = view.is_vehicle
        for sign in view.signs:
            if sign.start_ms is not None and sign.start_ms > now_ms:
                continue
            mask, dist = concerned(
                view,
                lat_deg=sign.lat_deg,
                lon_deg=sign.lon_deg,
                radius_m=None,
                paths=sign.reference_paths,
                range_m=self.range_m,
            )
            values = {"sign_type": float(sign.sign_type)}
            if sign.speed_limit_mps is not None:
                values["limit_mps"] = sign.speed_limit_mps
            for i in np.flatnonzero(mask & vehicles):
                out.append(
                    advisory(
                        view,
                        int(i),
                        app=self.code,
                        level=AdvisoryLevel.INFO,
                        hold_ms=self.hold_ms,
                        detail=sign.description or f"sign {sign.sign_type}",
                        other_id=f"sign:{sign.sign_id}",
                        values={**values, "distance_m": float(dist[i])},
                    )
                )
        return out
