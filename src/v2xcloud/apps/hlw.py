"""HLW, hazardous location warning: RSI road events ahead on a vehicle's path (accidents,
stopped vehicles, wrong-way drivers, works...). Congestion is left to TJW."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import advisory
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin.relevance import concerned
from v2xcloud.twin.roadside import RoadsideView
from v2xcloud.twin.v2i import as_roadside
from v2xcloud.twin.view import SceneView

__all__ = ["CONGESTION_KINDS", "HazardousLocationWarning"]

CONGESTION_KINDS = frozenset({"congestion", "queue", "slow_traffic"})


class HazardousLocationWarning:
    """WARNING per (vehicle, hazard) while the hazard is ahead within ``range_m``; events
    below ``min_confidence`` are ignored."""

    code = "HLW"

    def __init__(
        self, *, range_m: float = 300.0, min_confidence: float = 0.5, hold_ms: int = 1000
    ) -> None:
        self.range_m = range_m
        self.min_confidence = min_confidence
        self.hold_ms = hold_ms

    def on_tick(self, scene: SceneView | RoadsideView, now_ms: int) -> list[Advisory]:
        """Advisories for the hazards valid at ``now_ms``."""
        view = as_roadside(scene)
        out: list[Advisory] = []
        for event in view.events:
            if event.kind in CONGESTION_KINDS:
                continue
            if event.confidence is not None and event.confidence < self.min_confidence:
                continue
            if event.start_ms is not None and event.start_ms > now_ms:
                continue
            mask, dist = concerned(
                view,
                lat_deg=event.lat_deg,
                lon_deg=event.lon_deg,
                radius_m=event.radius_m,
                paths=event.reference_paths,
                range_m=self.range_m,
            )
            # a standing vehicle (such as the detected one itself) needs no warning
            mask &= view.is_vehicle & (dist <= self.range_m) & (view.speed_mps >= 1.0)
            for i in np.flatnonzero(mask):
                v = float(view.speed_mps[i])
                out.append(
                    advisory(
                        view,
                        int(i),
                        app=self.code,
                        level=AdvisoryLevel.WARNING,
                        hold_ms=self.hold_ms,
                        detail=f"{event.kind or 'event'} {event.event_type} ahead",
                        other_id=f"event:{event.event_id}",
                        ttc_s=float(dist[i]) / v if v > 0.5 else None,
                        values={
                            "distance_m": float(dist[i]),
                            "event_type": float(event.event_type),
                        },
                    )
                )
        return out
