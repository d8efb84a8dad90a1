"""EVW — emergency vehicle warning: an emergency vehicle on a call is coming towards you.

Emergency vehicles are those whose BSM emergency extension says they are on an emergency
call (response type "emergency", siren or lights in use). Every other vehicle within
``radius_m`` on the same level that the emergency vehicle is closing on (range rate ≤
−``min_closing_mps``) and that is ahead of it (in its direction of travel) is advised to
make way when it will be reached within ``warn_s``; imminent within ``imminent_s``.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import F_EMERGENCY, IMMINENT, WARNING, is_motor
from v2xcloud.apps.base import App, AppConfig, Hits
from v2xcloud.twin import SceneView

__all__ = ["EmergencyVehicleWarning", "EvwConfig"]


class EvwConfig(AppConfig, frozen=True, kw_only=True):
    """EVW thresholds (assumed defaults, configurable)."""

    warn_s: float = 10.0
    imminent_s: float = 3.0
    radius_m: float = 300.0
    min_closing_mps: float = 1.0


class EmergencyVehicleWarning(App):
    """Emergency vehicle warning (see the module docstring)."""

    code = "EVW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = EvwConfig
    detail = "emergency vehicle approaching: make way"
    config: EvwConfig

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        if not view.any_flag(F_EMERGENCY):
            return Hits.empty()
        ev = (view.flags & F_EMERGENCY) != 0
        if not ev.any():
            return Hits.empty()
        pairs = view.neighbours(ev.nonzero()[0], cfg.radius_m)  # ego: the emergency vehicle
        pairs = pairs.select(
            (pairs.along_m > 0) & pairs.same_level & is_motor(view, pairs.other) & ~ev[pairs.other]
        )
        dist = np.maximum(pairs.dist_m, 0.1)
        range_rate = (pairs.dx_m * pairs.dvx_mps + pairs.dy_m * pairs.dvy_mps) / dist
        closing = -range_rate
        with np.errstate(divide="ignore"):
            t_reach = np.where(closing >= cfg.min_closing_mps, dist / closing, np.inf)
        look = cfg.lookahead_s
        level = np.where(
            t_reach <= cfg.imminent_s + look,
            IMMINENT,
            np.where(t_reach <= cfg.warn_s + look, WARNING, 0),
        )
        # the advisory goes to the vehicle that must make way, about the emergency vehicle
        return Hits(ego=pairs.other, other=pairs.ego, level=level.astype(np.int64), ttc_s=t_reach)
