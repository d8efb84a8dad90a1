"""BSW / LCW — blind spot warning and lane change warning.

The blind spot of a vehicle is the adjacent lane beside and behind it: others driving the
same way (heading difference ≤ ``max_heading_diff_deg``), on the same level, between
``min_lateral_m`` and ``max_lateral_m`` to its left or right, from its front
(``front_m`` behind the front bumper) back to ``rear_m`` behind its rear bumper.

- BSW (INFO): another vehicle is in the blind spot.
- LCW: the vehicle intends to change lanes towards that side — it signals, or it drifts
  towards the other at ≥ ``drift_mps`` — while the gap is occupied (blind spot) or a vehicle
  approaches from behind in that lane and reaches the blind spot within ``closing_s``:
  WARNING; IMMINENT when the drift would close the lateral gap within ``imminent_s``.
  A vehicle that turns (``_select.is_turning``: in a junction or a bend) changes no lane:
  its indicator is for the turn, its lateral drift is the curve, and "beside" in its heading
  frame is not a lane beside it.
"""

from __future__ import annotations

import math

import numpy as np

from v2xcloud.apps._select import (
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    IMMINENT,
    INFO,
    SHARED_RADIUS_M,
    WARN_MIN_SPEED_MPS,
    WARNING,
    is_turning,
    moving_motor_directed,
)
from v2xcloud.apps.base import App, AppConfig, Hits
from v2xcloud.twin import PairTable, SceneView

__all__ = ["BlindSpotWarning", "BswConfig", "LaneChangeWarning"]


class BswConfig(AppConfig, frozen=True, kw_only=True):
    """Blind spot geometry and LCW thresholds (shared by BSW and LCW)."""

    radius_m: float = SHARED_RADIUS_M
    max_heading_diff_deg: float = 30.0
    min_lateral_m: float = 1.8
    max_lateral_m: float = 5.5
    front_m: float = 1.0
    rear_m: float = 6.0
    drift_mps: float = 0.3
    closing_s: float = 3.0
    imminent_s: float = 1.0
    min_speed_mps: float = WARN_MIN_SPEED_MPS


def _side_pairs(view: SceneView, cfg: BswConfig) -> PairTable:
    """Directed same-way pairs where the other is in the lane beside (either side)."""
    pairs = moving_motor_directed(view, cfg.radius_m, cfg.max_heading_diff_deg, cfg.min_speed_mps)
    lateral = np.abs(pairs.lateral_m)
    keep = (
        (lateral >= cfg.min_lateral_m)
        & (lateral <= cfg.max_lateral_m)
        & (pairs.heading_cos >= math.cos(math.radians(cfg.max_heading_diff_deg)))
    )
    return pairs.select(keep)


def _zone(view: SceneView, pairs: PairTable, cfg: BswConfig) -> tuple[np.ndarray, np.ndarray]:
    """(in the blind spot, seconds until an other behind reaches it; 0 inside, inf never)."""
    le, lo = view.length_m[pairs.ego], view.length_m[pairs.other]
    other_front = pairs.along_m + lo / 2
    other_rear = pairs.along_m - lo / 2
    zone_back = -le / 2 - cfg.rear_m
    zone_front = le / 2 - cfg.front_m
    inside = (other_front >= zone_back) & (other_rear <= zone_front)
    catching = -pairs.closing_along_mps  # > 0 when the other gains on the ego
    with np.errstate(divide="ignore", invalid="ignore"):
        t_reach = np.where(catching > 0, (zone_back - other_front) / catching, np.inf)
    behind = other_front < zone_back
    return inside, np.where(inside, 0.0, np.where(behind, t_reach, np.inf))


def _beside(view: SceneView, cfg: BswConfig) -> tuple[PairTable, np.ndarray, np.ndarray]:
    """Side pairs with their blind-spot zone test, computed once per tick for BSW and LCW."""

    def compute() -> tuple[PairTable, np.ndarray, np.ndarray]:
        pairs = _side_pairs(view, cfg)
        inside, t_reach = _zone(view, pairs, cfg)
        return pairs, inside, t_reach

    return view.shared(f"beside:{cfg!r}", compute)


class BlindSpotWarning(App):
    """BSW: another vehicle in the blind spot (INFO level)."""

    code = "BSW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = BswConfig
    detail = "vehicle in the blind spot"
    config: BswConfig

    def detect(self, view: SceneView) -> Hits:
        pairs, inside, _ = _beside(view, self.config)
        pairs = pairs.select(inside)
        level = np.full(len(pairs), INFO, dtype=np.int64)
        return Hits(
            ego=pairs.ego, other=pairs.other, level=level, ttc_s=np.full(len(pairs), np.inf)
        )


class LaneChangeWarning(App):
    """LCW: changing lanes into an occupied or closing gap (see the module docstring)."""

    code = "LCW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = BswConfig
    detail = "lane change into an occupied gap"
    config: BswConfig

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        pairs, inside, t_reach = _beside(view, cfg)
        flags = view.flags[pairs.ego]
        right = pairs.lateral_m > 0
        signals = np.where(right, flags & F_RIGHT_SIGNAL, flags & F_LEFT_SIGNAL) != 0
        toward = np.where(right, -pairs.lateral_rate_mps, pairs.lateral_rate_mps)  # gap shrink rate
        drifting = toward >= cfg.drift_mps
        occupied = inside | (t_reach <= cfg.closing_s + cfg.lookahead_s)
        hit = (signals | drifting) & occupied & ~is_turning(view, pairs.ego)
        pairs, toward, t_reach = pairs.select(hit), toward[hit], t_reach[hit]
        gap = np.abs(pairs.lateral_m) - view.width_m[pairs.ego]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_side = np.where(toward > 0, np.maximum(gap, 0.0) / toward, np.inf)
        level = np.where(t_side <= cfg.imminent_s, IMMINENT, WARNING)
        return Hits(
            ego=pairs.ego,
            other=pairs.other,
            level=level.astype(np.int64),
            ttc_s=np.maximum(t_side, np.maximum(t_reach, 0.0)),
            values={"time_to_zone_s": t_reach, "lateral_closing_mps": toward},
        )
