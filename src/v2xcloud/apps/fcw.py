"""FCW — forward collision warning: the vehicle ahead in the same lane is being closed on.

For each vehicle, the nearest vehicle ahead in its lane (MAP lane when both are matched,
else lateral offset ≤ ``half_width_m``; same level; heading within ``max_heading_diff_deg``)
is checked: time to collision = bumper gap / closing speed, from the scene tracker's filtered
kinematics. It warns at TTC ≤ ``warn_ttc_s`` and is imminent at ≤ ``imminent_ttc_s`` (plus
the tick look-ahead), and only when the warning holds with the uncertainty: the level is
that of the TTC with the closing speed ``confidence_sigma`` standard deviations slower (the
two speeds' σ combined), so a closing speed made of roadside jitter warns nobody. The gap's
own error is left out: the two positions' absolute errors are largely common to both
(neighbours' GNSS errors are correlated, one roadside sensor's calibration is shared). A driver who is already braking at least the
required deceleration (closing² / 2·gap), where that deceleration is comfortable (≤
``comfortable_decel_mps2``), will stop in time: no warning — unless the tracker is sure
(one σ) that the braking falls short. Stopped vehicles (below ``min_speed_mps``) never get
an FCW, nor does a pair whose bodies already overlap along the lane (no bumper gap left:
they are side by side, or a roadside track jumped). The reported ``ttc_s`` is the estimate's.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.apps._select import (
    CONFIDENCE_SIGMA,
    SHARED_RADIUS_M,
    WARN_MIN_SPEED_MPS,
    first_per_ego,
    gap_m,
    in_lane_ahead,
    moving_motor_directed,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, level_from_time
from v2xcloud.apps.kinematics import gap_ttc, required_decel
from v2xcloud.twin import SceneView

__all__ = ["FcwConfig", "ForwardCollisionWarning"]


class FcwConfig(AppConfig, frozen=True, kw_only=True):
    """FCW thresholds (defaults: STANDARDS.md, FCW/EBW TTC 2.7 s / 1.5 s, SUMO DRAC 3 m/s²)."""

    warn_ttc_s: float = 2.7
    imminent_ttc_s: float = 1.5
    radius_m: float = SHARED_RADIUS_M
    half_width_m: float = 1.8
    max_heading_diff_deg: float = 30.0
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    comfortable_decel_mps2: float = 3.0
    confidence_sigma: float = CONFIDENCE_SIGMA


class ForwardCollisionWarning(App):
    """Forward collision warning (see the module docstring)."""

    code = "FCW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = FcwConfig
    detail = "forward collision: vehicle ahead in lane"
    config: FcwConfig

    def reach(self) -> tuple[Reach, ...]:
        """The vehicle ahead within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        pairs = moving_motor_directed(
            view, cfg.radius_m, cfg.max_heading_diff_deg, cfg.min_speed_mps
        )
        if len(pairs) == 0:
            return Hits.empty()
        pairs = pairs.select(
            in_lane_ahead(
                pairs, half_width_m=cfg.half_width_m, max_heading_diff_deg=cfg.max_heading_diff_deg
            )
        )
        gap = gap_m(pairs)
        closing = pairs.closing_along_mps
        ttc = gap_ttc(gap, closing)
        drac = required_decel(gap, closing)
        e, o, z = pairs.ego, pairs.other, cfg.confidence_sigma
        sd_closing = np.hypot(view.speed_sd_mps[e], view.speed_sd_mps[o])
        sure_ttc = gap_ttc(gap, closing - z * sd_closing)
        braking_enough = (-view.accel_mps2[e] >= drac) & (drac <= cfg.comfortable_decel_mps2)
        level = level_from_time(
            sure_ttc,
            warn_s=cfg.warn_ttc_s + cfg.lead_pad_s,
            imminent_s=cfg.imminent_ttc_s + cfg.lead_pad_s,
        )
        # bodies that already overlap along the lane (bumper gap ≤ 0) are side by side, or a
        # track's jump: a rear-end still to come has its gap ahead
        hit = ((level > 0) & ~braking_enough & (gap > 0)).nonzero()[0]
        if hit.size == 0:
            return Hits.empty()
        nearest = hit[first_per_ego(pairs.ego[hit], gap[hit])]  # the first one it would reach
        gap, closing, drac = gap[nearest], closing[nearest], drac[nearest]
        return Hits(
            ego=pairs.ego[nearest],
            other=pairs.other[nearest],
            level=level[nearest],
            ttc_s=ttc[nearest],
            values={"gap_m": gap, "closing_mps": closing, "required_decel_mps2": drac},
        )
