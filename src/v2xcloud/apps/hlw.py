"""HLW, hazardous location warning: RSI road events ahead on a vehicle's path (accidents,
stopped vehicles, wrong-way drivers, works...). Congestion is left to TJW."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import CONGESTION_KINDS, RoadApp, RoadHit, approaching, road_events
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView

__all__ = ["HazardousLocationWarning", "HlwConfig"]


class HlwConfig(AppConfig, frozen=True, kw_only=True):
    """HLW settings: hazards within ``range_m``; events below ``min_confidence`` ignored."""

    range_m: float = 300.0
    min_confidence: float = 0.5


class HazardousLocationWarning(RoadApp):
    """WARNING per (vehicle, hazard) while the hazard is ahead within ``range_m``."""

    code = "HLW"
    config_type = HlwConfig
    config: HlwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Hazard events (RSI) within ``range_m``."""
        return (Reach(self.config.range_m, Partners.ROAD_ITEMS),)

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """The vehicles with a hazard valid at ``now_ms`` ahead."""
        cfg = self.config
        out: list[RoadHit] = []
        for event in road_events(view):
            if event.kind in CONGESTION_KINDS:
                continue
            if event.confidence is not None and event.confidence < cfg.min_confidence:
                continue
            if event.start_ms is not None and event.start_ms > now_ms:
                continue
            mask, dist = approaching(view, event, range_m=cfg.range_m)
            for i in np.flatnonzero(mask & (dist <= cfg.range_m)):
                v = float(view.speed_mps[i])
                out.append(
                    RoadHit(
                        row=int(i),
                        level=AdvisoryLevel.WARNING,
                        detail=f"{event.kind or 'event'} {event.event_type} ahead",
                        about=f"event:{event.event_id}",
                        ttc_s=float(dist[i]) / v if v > 0.5 else None,
                        values={
                            "distance_m": float(dist[i]),
                            "event_type": float(event.event_type),
                        },
                    )
                )
        return out
