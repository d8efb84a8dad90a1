"""ICW — intersection collision warning: two vehicles on crossing paths will meet.

For vehicle pairs on the same level whose headings cross (between ``min_angle_deg`` and
``180 - min_angle_deg``), the straight constant-velocity paths are intersected
(``kinematics.crossing_times``). Each vehicle occupies the conflict point for the time its
half length plus the other's half width takes to pass; the post-encroachment time (PET) is
the gap between the two occupations (≤ 0: they would collide). The ego is warned when it
reaches the conflict point within ``warn_s`` and the PET is ≤ ``pet_s``; imminent when the
occupations overlap and it gets there within ``imminent_s``. Paths already passed
(diverging), stopped vehicles and parallel traffic never qualify.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import DEFAULT_LENGTH_M, is_motor
from v2xcloud.apps.base import App, AppConfig, Hits
from v2xcloud.apps.kinematics import crossing_times
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView

__all__ = ["IcwConfig", "IntersectionCollisionWarning"]

DEFAULT_WIDTH_M = 1.8


class IcwConfig(AppConfig, frozen=True, kw_only=True):
    """ICW thresholds (defaults: STANDARDS.md, time to conflict 3 s, SUMO PET 2 s)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    pet_s: float = 2.0
    radius_m: float = 70.0
    min_speed_mps: float = 2.0
    min_angle_deg: float = 30.0


class IntersectionCollisionWarning(App):
    """Intersection collision warning (see the module docstring)."""

    code = "ICW"
    config_type = IcwConfig
    detail = "intersection collision: crossing vehicle"
    config: IcwConfig

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        pairs = view.pairs(cfg.radius_m)
        speed = view.speed_mps
        moving = (speed[pairs.ego] >= cfg.min_speed_mps) & (speed[pairs.other] >= cfg.min_speed_mps)
        pairs = pairs.select(np.flatnonzero(moving))
        angle = pairs.heading_diff_deg
        crossing = (angle >= cfg.min_angle_deg) & (angle <= 180.0 - cfg.min_angle_deg)
        pairs = pairs.select(
            crossing & pairs.same_level & is_motor(view, pairs.ego) & is_motor(view, pairs.other)
        )
        e, o = pairs.ego, pairs.other
        t_e, t_o, px, py = crossing_times(
            view.x_m[e], view.y_m[e], view.vx_mps[e], view.vy_mps[e],
            view.x_m[o], view.y_m[o], view.vx_mps[o], view.vy_mps[o],
        )  # fmt: skip
        half_e = self._occupancy_s(view, e, o)
        half_o = self._occupancy_s(view, o, e)
        pet = np.maximum(t_o - half_o - (t_e + half_e), t_e - half_e - (t_o + half_o))
        arrive = np.maximum(t_e - half_e, 0.0)
        ahead = (t_e + half_e > 0) & (t_o + half_o > 0)
        look = cfg.lookahead_s
        warn = ahead & (arrive <= cfg.warn_s + look) & (pet <= cfg.pet_s)
        imminent = warn & (pet <= 0) & (arrive <= cfg.imminent_s + look)
        level = np.where(
            imminent, int(AdvisoryLevel.IMMINENT), np.where(warn, int(AdvisoryLevel.WARNING), 0)
        )
        return Hits(
            ego=e,
            other=o,
            level=level.astype(np.int64),
            ttc_s=arrive,
            x_m=px,
            y_m=py,
            values={"pet_s": pet, "other_arrival_s": np.maximum(t_o - half_o, 0.0)},
        )

    @staticmethod
    def _occupancy_s(view: SceneView, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Half the time ``a`` spends in the conflict zone: (own half length + b's half width) / speed."""
        length = np.nan_to_num(view.length_m[a], nan=DEFAULT_LENGTH_M)
        width = np.nan_to_num(view.width_m[b], nan=DEFAULT_WIDTH_M)
        return (length + width) / 2.0 / np.maximum(view.speed_mps[a], 0.1)
