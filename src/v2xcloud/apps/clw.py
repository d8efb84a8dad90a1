"""CLW — control loss warning: a nearby vehicle reports ABS, traction or stability control.

A vehicle has lost (or is fighting to keep) control when it reports the ABS-activated,
traction-control-loss or stability-control event, or its brake status says ABS, traction or
stability control is engaged. Vehicles that approach it within ``radius_m`` are warned: those
behind it going the same way within two lanes (|lateral| ≤ ``corridor_m``) and oncoming
ones in the same corridor. Imminent when the time to reach it (gap / closing) ≤
``imminent_s``. Vehicles moving away from it are not warned.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import (
    F_ABS,
    F_STABILITY,
    F_TRACTION,
    is_motor,
    motor,
    toward,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, gap_hits
from v2xcloud.twin import SceneView

__all__ = ["ClwConfig", "ControlLossWarning"]

CONTROL_LOSS = F_ABS | F_TRACTION | F_STABILITY


class ClwConfig(AppConfig, frozen=True, kw_only=True):
    """CLW thresholds (assumed defaults, configurable)."""

    radius_m: float = 150.0
    corridor_m: float = 5.5
    same_way_deg: float = 45.0
    oncoming_deg: float = 135.0
    imminent_s: float = 1.5


class ControlLossWarning(App):
    """Control loss warning (see the module docstring)."""

    code = "CLW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = ClwConfig
    detail = "vehicle ahead lost control"
    config: ClwConfig

    def reach(self) -> tuple[Reach, ...]:
        """The vehicle losing control within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        if not view.any_flag(CONTROL_LOSS):
            return Hits.empty()
        losing = ((view.flags & CONTROL_LOSS) != 0) & motor(view)
        if not losing.any():
            return Hits.empty()
        pairs = toward(view, losing, cfg.radius_m)  # ego: the one to warn
        angle = pairs.heading_diff_deg
        related = (angle <= cfg.same_way_deg) | (angle >= cfg.oncoming_deg)
        keep = (
            related
            & (pairs.along_m > 0)
            & (np.abs(pairs.lateral_m) <= cfg.corridor_m)
            & pairs.same_level
            & is_motor(view, pairs.ego)
            & (pairs.closing_along_mps > 0)
        )
        return gap_hits(pairs.select(keep), imminent_s=cfg.imminent_s + cfg.lead_pad_s)
