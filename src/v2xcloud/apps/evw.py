"""EVW — emergency vehicle warning: an emergency vehicle on a call is coming your way.

Emergency vehicles are those whose BSM emergency extension says they are on an emergency
call (response type "emergency", siren or lights in use). A vehicle is told to make way only
when it is *in the emergency vehicle's way*, not merely within range:

- **same road ahead**: it drives the same way (heading within ``max_heading_diff_deg`` of the
  emergency vehicle's path there), ahead of it, in its lane or the lane beside
  (``|lateral|`` ≤ ``corridor_m`` from its path: its arc while it turns), and the emergency
  vehicle closes on it (``closing_along`` ≥ ``min_closing_mps``): time to reach = gap /
  closing speed (centre to centre);
- **path crossing**: its heading line crosses the emergency vehicle's path ahead of both
  (at ``crossing_min_deg`` or more), the emergency vehicle reaches the crossing point at
  least ``min_closing_mps`` fast, and the vehicle can be there by then (its distance to the
  point ≤ its speed × that time + ``crossing_margin_m``: waiting at or driving towards the
  crossing, not a car that reaches it long after the emergency vehicle has passed);
  time to reach = the emergency vehicle's time to the crossing point.

Oncoming traffic on the other side of the road, traffic on parallel or distant roads and
vehicles already passed are not in its way. Warning when reached within ``warn_s``,
imminent within ``imminent_s``.
"""

from __future__ import annotations

import math

import numpy as np

from v2xcloud.apps._select import (
    F_EMERGENCY,
    IMMINENT,
    WARNING,
    is_motor,
    path_heading_cos,
    path_lateral_m,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach
from v2xcloud.twin import PairTable, SceneView

__all__ = ["EmergencyVehicleWarning", "EvwConfig"]


class EvwConfig(AppConfig, frozen=True, kw_only=True):
    """EVW thresholds (assumed defaults, configurable)."""

    warn_s: float = 10.0
    imminent_s: float = 3.0
    radius_m: float = 300.0
    min_closing_mps: float = 1.0
    max_heading_diff_deg: float = 30.0
    corridor_m: float = 4.0  # its own lane and the lane beside (lanes 3.0-3.5 m)
    crossing_min_deg: float = 45.0
    crossing_margin_m: float = 10.0  # a car waiting at its stop line is this close or closer


class EmergencyVehicleWarning(App):
    """Emergency vehicle warning (see the module docstring)."""

    code = "EVW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = EvwConfig
    detail = "emergency vehicle approaching: make way"
    config: EvwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Emergency vehicles within ``radius_m`` (only they are partners this far)."""
        return (Reach(self.config.radius_m, Partners.EMERGENCY),)

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
        t_reach = np.minimum(self._same_road(pairs), self._crossing(pairs))
        look = cfg.lead_pad_s
        level = np.where(
            t_reach <= cfg.imminent_s + look,
            IMMINENT,
            np.where(t_reach <= cfg.warn_s + look, WARNING, 0),
        )
        # the advisory goes to the vehicle that must make way, about the emergency vehicle
        return Hits(ego=pairs.other, other=pairs.ego, level=level.astype(np.int64), ttc_s=t_reach)

    def _same_road(self, pairs: PairTable) -> np.ndarray:
        """Seconds until the emergency vehicle reaches a same-way vehicle ahead in its lane or
        the lane beside (``inf``: not such a vehicle, or not closing)."""
        cfg = self.config
        same = (path_heading_cos(pairs) >= math.cos(math.radians(cfg.max_heading_diff_deg))) & (
            np.abs(path_lateral_m(pairs)) <= cfg.corridor_m
        )
        closing = pairs.closing_along_mps
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = pairs.along_m / closing
        return np.where(same & (closing >= cfg.min_closing_mps), reach, np.inf)

    def _crossing(self, pairs: PairTable) -> np.ndarray:
        """Seconds until the emergency vehicle reaches where a crossing vehicle's path meets
        its own, when that vehicle can be there by then (``inf`` otherwise)."""
        cfg = self.config
        view = pairs.view
        e, o = pairs.ego, pairs.other
        # the crossing point: ego at s_e along its heading, other at s_o along its heading
        sin_e, cos_e = view.sin_heading[e], view.cos_heading[e]
        sin_o, cos_o = view.sin_heading[o], view.cos_heading[o]
        det = sin_o * cos_e - cos_o * sin_e  # sin(h_e - h_o): 0 when parallel
        dx, dy = pairs.dx_m, pairs.dy_m
        crossing = np.abs(det) >= math.sin(math.radians(cfg.crossing_min_deg))
        with np.errstate(divide="ignore", invalid="ignore"):
            s_e = (dx * cos_o - dy * sin_o) / -det
            s_o = (dx * cos_e - dy * sin_e) / -det
        v_e = view.speed_mps[e]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_e = np.where(v_e >= cfg.min_closing_mps, s_e / v_e, np.inf)
        ahead = crossing & (s_e > 0) & (s_o > -view.length_m[o] / 2) & np.isfinite(t_e)
        reach = view.speed_mps[o] * np.where(ahead, t_e, 0.0)  # how far it gets meanwhile
        there = s_o <= reach + cfg.crossing_margin_m
        return np.where(ahead & there & (s_e <= cfg.radius_m), t_e, np.inf)
