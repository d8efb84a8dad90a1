"""VRUCW — vulnerable road user collision warning: a pedestrian or cyclist in the vehicle's path.

Pedestrians and cyclists come from any source (BSM, PSM or roadside RSM). For each moving
vehicle and each VRU nearby on the same level, both are predicted at constant velocity and
the time until the VRU comes within ``contact_m`` + half the vehicle's width of the centre of
the vehicle's front bumper is computed (``kinematics.time_to_contact``). Warning at ≤
``warn_s``, imminent at ≤ ``imminent_s``. A pedestrian walking along the pavement beside the
road never comes that close, so it gets no warning.
"""

from __future__ import annotations

from v2xcloud.apps._select import K_CYCLIST, K_PEDESTRIAN, is_motor
from v2xcloud.apps.base import App, AppConfig, Hits, level_from_time
from v2xcloud.apps.kinematics import time_to_contact
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView

__all__ = ["VruCollisionWarning", "VrucwConfig"]


class VrucwConfig(AppConfig, frozen=True, kw_only=True):
    """VRUCW thresholds (defaults: STANDARDS.md, time to conflict 3 s / 1.5 s)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    radius_m: float = 50.0
    min_speed_mps: float = MOVING_MPS
    contact_m: float = 0.8  # VRU radius plus a safety margin beyond the vehicle's half width


class VruCollisionWarning(App):
    """Vulnerable road user collision warning (see the module docstring)."""

    code = "VRUCW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = VrucwConfig
    detail = "vulnerable road user in the vehicle's path"
    config: VrucwConfig

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        if not view.has_kind(K_PEDESTRIAN, K_CYCLIST):
            return Hits.empty()
        vru = (view.kind == K_PEDESTRIAN) | (view.kind == K_CYCLIST)
        if not vru.any():
            return Hits.empty()
        pairs = view.neighbours(vru.nonzero()[0], cfg.radius_m)  # (vru, vehicle)
        keep = is_motor(view, pairs.other) & (view.speed_mps[pairs.other] >= cfg.min_speed_mps)
        pairs = pairs.select(keep & pairs.same_level)
        p, e = pairs.ego, pairs.other
        half_len = view.length_m[e] / 2.0
        front_x = view.x_m[e] + half_len * view.sin_heading[e]
        front_y = view.y_m[e] + half_len * view.cos_heading[e]
        width = view.width_m[e]
        ttc = time_to_contact(
            view.x_m[p] - front_x,
            view.y_m[p] - front_y,
            view.vx_mps[p] - view.vx_mps[e],
            view.vy_mps[p] - view.vy_mps[e],
            width / 2.0 + cfg.contact_m,
        )
        level = level_from_time(
            ttc, warn_s=cfg.warn_s + cfg.lookahead_s, imminent_s=cfg.imminent_s + cfg.lookahead_s
        )
        return Hits(ego=e, other=p, level=level, ttc_s=ttc)
