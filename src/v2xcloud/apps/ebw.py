"""EBW — emergency brake warning: a vehicle ahead in the lane brakes hard.

A vehicle brakes hard when it reports the hard-braking event (its own measurement) or when
the scene tracker's deceleration is at least ``hard_decel_mps2`` with its uncertainty: the
filtered acceleration plus ``confidence_sigma`` standard deviations is still ≤
-``hard_decel_mps2``. A single jittery sample of a roadside track or cheap GNSS does not
make a hard brake; a measured BSM deceleration does within a report or two, a roadside
track's after the braking has lasted (the filter's σ shrinks as reports agree). Every vehicle behind it in the same lane
within ``radius_m`` (not only the one directly behind: the brake light two cars ahead is
hidden) that follows at a time headway ≤ ``max_headway_s`` is warned; the time to collision
assumes the braking vehicle keeps braking until it stops while the follower keeps its speed
(``kinematics.ttc_lead_braking``), imminent at ≤ ``imminent_s``.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import (
    CONFIDENCE_SIGMA,
    F_HARD_BRAKING,
    IMMINENT,
    WARN_MIN_SPEED_MPS,
    WARNING,
    following_in_lane,
    gap_m,
    motor,
    toward,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach
from v2xcloud.apps.kinematics import ttc_lead_braking
from v2xcloud.twin import SceneView

__all__ = ["EbwConfig", "EmergencyBrakeWarning"]


class EbwConfig(AppConfig, frozen=True, kw_only=True):
    """EBW thresholds (defaults: STANDARDS.md FCW/EBW 2.7 s / 1.5 s; 0.4 g hard braking)."""

    warn_ttc_s: float = 2.7
    imminent_ttc_s: float = 1.5
    hard_decel_mps2: float = 4.0
    max_headway_s: float = 4.0
    radius_m: float = 150.0
    half_width_m: float = 1.8
    max_heading_diff_deg: float = 30.0
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    confidence_sigma: float = CONFIDENCE_SIGMA


class EmergencyBrakeWarning(App):
    """Emergency brake warning (see the module docstring)."""

    code = "EBW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = EbwConfig
    detail = "emergency braking ahead"
    config: EbwConfig

    def reach(self) -> tuple[Reach, ...]:
        """The braking vehicle ahead within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        sure = view.accel_mps2 + cfg.confidence_sigma * view.accel_sd_mps2
        hard = sure <= -cfg.hard_decel_mps2
        if not view.any_flag(F_HARD_BRAKING) and not hard.any():
            return Hits.empty()
        braking = ((view.flags & F_HARD_BRAKING) != 0) | hard
        braking &= motor(view)
        if not braking.any():
            return Hits.empty()
        pairs = toward(view, braking, cfg.radius_m)  # ego: the follower, other: the braker
        keep = following_in_lane(
            pairs,
            half_width_m=cfg.half_width_m,
            max_heading_diff_deg=cfg.max_heading_diff_deg,
            min_speed_mps=cfg.min_speed_mps,
        )
        pairs = pairs.select(keep)
        gap = gap_m(pairs)
        v_ego = view.speed_mps[pairs.ego]
        decel = np.maximum(-view.accel_mps2[pairs.other], cfg.hard_decel_mps2)
        ttc = ttc_lead_braking(gap, v_ego, view.speed_mps[pairs.other], decel)
        headway = np.maximum(gap, 0.0) / np.maximum(v_ego, 0.1)
        look = cfg.lead_pad_s
        warn = (headway <= cfg.max_headway_s) | (ttc <= cfg.warn_ttc_s + look)
        level = np.where(
            ttc <= cfg.imminent_ttc_s + look,
            IMMINENT,
            np.where(warn, WARNING, 0),
        )
        return Hits(
            ego=pairs.ego,
            other=pairs.other,
            level=level.astype(np.int64),
            ttc_s=ttc,
            values={"gap_m": gap, "headway_s": headway},
        )
