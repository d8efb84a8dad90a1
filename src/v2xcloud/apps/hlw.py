"""HLW, hazardous location warning: RSI road events ahead on a vehicle's path (accidents,
stopped vehicles, wrong-way drivers, works...). Congestion is left to TJW.

The path is TJW's (``apps.tjw``): straight ahead, except for a vehicle on a MAP approach lane
that announces a turn (its indicator, or a lane without a straight-on movement). Its path is
its approach up to ``turn_margin_m`` past the stop line and then the road its turn enters, so
a hazard straight on beyond the junction is on a road it does not take."""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._v2i import (
    CONGESTION_KINDS,
    Exit,
    RoadApp,
    RoadHit,
    approaching,
    exit_of,
    on_approaches,
    on_exit_road,
    road_events,
    turns_taken,
)
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.model import AdvisoryLevel
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Flag
from v2xcloud.twin.movements import movements_of

__all__ = ["HazardousLocationWarning", "HlwConfig"]


class HlwConfig(AppConfig, frozen=True, kw_only=True):
    """HLW settings: hazards within ``range_m``; events below ``min_confidence`` ignored."""

    range_m: float = 300.0
    min_confidence: float = 0.5
    #: a turning vehicle's path ends this far past its stop line (the junction box's edge)
    turn_margin_m: float = 5.0


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
        turners: dict[int, tuple[float, list[Exit]]] | None = None
        for event in road_events(view):
            if event.kind in CONGESTION_KINDS:
                continue
            if event.confidence is not None and event.confidence < cfg.min_confidence:
                continue
            if event.start_ms is not None and event.start_ms > now_ms:
                continue
            mask, dist = approaching(view, event, range_m=cfg.range_m)
            if event.lat_deg is not None and event.lon_deg is not None:
                # a vehicle announcing its turn: its path, not the cone ahead, says (``_turners``)
                turners = self._turners(view) if turners is None else turners
                ex, ey = (float(c) for c in view.frame.to_local(event.lat_deg, event.lon_deg))
                for i, turner in turners.items():
                    d = float(np.hypot(view.x_m[i] - ex, view.y_m[i] - ey))
                    mask[i] = self._on_turn_path(turner, d, ex, ey, ahead=bool(mask[i]))
                    dist[i] = d
            rows = np.flatnonzero(mask & (dist <= cfg.range_m))
            for i in rows.tolist():
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

    def _turners(self, view: SceneView) -> dict[int, tuple[float, list[Exit]]]:
        """Row -> (distance to its stop line, the exits of the movements it may take) of each
        vehicle on a MAP approach lane that announces a turn (``turns_taken``); a vehicle whose
        lane has no movement of the announced kind keeps its straight-ahead path."""
        moves = movements_of(view)
        if moves is None:
            return {}
        signals = int(Flag.LEFT_SIGNAL) | int(Flag.RIGHT_SIGNAL)
        out: dict[int, tuple[float, list[Exit]]] = {}
        for a in on_approaches(view, range_m=self.config.range_m):
            if not view.speed_mps[a.index] >= MOVING_MPS:
                continue  # standing (the hazard's own vehicle, a queue): no warning
            signal = int(view.flags[a.index]) & signals
            taken = turns_taken(moves.lane_movements(int(view.lane[a.index])), signal)
            if taken:
                out[a.index] = (a.to_stop_m, [exit_of(p) for p in taken if len(p.xy) >= 2])
        return out

    def _on_turn_path(
        self,
        turner: tuple[float, list[Exit]],
        dist_m: float,
        x_m: float,
        y_m: float,
        *,
        ahead: bool,
    ) -> bool:
        """Whether a hazard at (``x_m``, ``y_m``), ``dist_m`` from a turning vehicle, is on its
        path: ahead of it (``ahead``: the road-ahead cone) before the end of its turn's
        junction box, or on the road its turn enters."""
        to_stop, exits = turner
        if ahead and dist_m <= to_stop + self.config.turn_margin_m:
            return True
        return on_exit_road(exits, x_m, y_m, range_m=self.config.range_m - to_stop)
