"""BSW / LCW — blind spot warning and lane change warning.

The blind spot of a vehicle is **the adjacent lane of the same road** beside and behind it:
others driving the same way, on the same level, in the lane next to the ego's, from its front
(``front_m`` behind the front bumper) back to ``rear_m`` behind its rear bumper.

The adjacent lane (issue 15: by lane geometry, not offsets):

- with a MAP match for both, their lanes are two different lanes of one link (same upstream
  node and node) and the other's offset across the ego's heading is one lane over
  (``min_lateral_m``..``max_lateral_m``). Lanes of different links (a queue on the next
  approach, a turning lane of another road) are never adjacent;
- a vehicle without a lane match inside a MAP's junction area (within ``junction_m`` of a
  stop line but on no lane: in the junction box) is on no lane at all: it has no blind spot
  and is in nobody's;
- otherwise (no MAP, or a road the MAP does not cover) geometry alone decides: the other's
  offset across the ego's heading is one lane over and the two headings are parallel within
  ``max_heading_diff_deg`` (a lane change deviates from the road by a few degrees; a car
  turning in a junction or a cross street does not run beside the ego).
- either way, a vehicle that turns (``_select.is_turning``) away from the ego's side is
  leaving the lane beside it, not in it: a car ahead-beside turning off into the junction
  while the ego brakes to its own turn was a quarter of the bench's false LCW (grid, no MAP).

- BSW (INFO): another vehicle is in the blind spot.
- LCW: the vehicle intends to change lanes towards that side — it signals, or it moves
  towards that lane at ≥ ``drift_mps`` without pause for at least ``sustain_s``, having moved
  ``min_shift_m`` across its lane towards it meanwhile — while the
  gap is occupied (anyone beside it, from its front bumper back to the blind spot's end) or a vehicle approaches from behind in that lane and reaches the
  blind spot within ``closing_s``: WARNING; IMMINENT when the drift would close the lateral
  gap within ``imminent_s``. The lateral motion is the ego's own, relative to the road: its
  speed times the sine of its heading against its MAP lane's (``LaneMatch.lane_heading_deg``),
  the heading taken ``CONFIDENCE_SIGMA`` of the scene tracker's ``heading_sd_deg`` towards
  "no drift" (a jittery roadside heading must drift clearly).
  Without a lane match the road's direction is not known (the other's heading is no
  reference: a neighbour drifting towards the ego, or roadside heading jitter, made K733's
  vehicles "drift" into 12 false LCW warnings without its MAP), so there only the indicator
  shows intent. The pair's relative lateral rate is not used either, for the same reason. A vehicle that turns (``_select.is_turning``) changes no
  lane: its indicator is for the turn.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import (
    CONFIDENCE_SIGMA,
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    IMMINENT,
    INFO,
    JUNCTION_BOX_M,
    SHARED_RADIUS_M,
    WARN_MIN_SPEED_MPS,
    WARNING,
    in_junction_box,
    is_turning,
    lane_links,
    moving_motor_directed,
)
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach
from v2xcloud.twin import PairTable, SceneView

__all__ = ["BlindSpotWarning", "BswConfig", "LaneChangeWarning"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class BswConfig(AppConfig, frozen=True, kw_only=True):
    """Blind spot geometry and LCW thresholds (shared by BSW and LCW)."""

    radius_m: float = SHARED_RADIUS_M
    max_heading_diff_deg: float = 15.0
    min_lateral_m: float = 1.8
    max_lateral_m: float = 5.5
    front_m: float = 1.0
    rear_m: float = 3.0  # ISO 17387's blind zone: to 3 m behind the rear bumper
    drift_mps: float = 0.3
    sustain_s: float = 0.6
    min_shift_m: float = 0.25
    closing_s: float = 3.0
    imminent_s: float = 1.0
    junction_m: float = JUNCTION_BOX_M
    min_speed_mps: float = WARN_MIN_SPEED_MPS


def _adjacent(view: SceneView, pairs: PairTable, cfg: BswConfig) -> BoolArray:
    """Pairs whose other is in the lane next to the ego's, on the same road (module docstring)."""
    lateral = np.abs(pairs.lateral_m)
    o = pairs.other
    away = is_turning(view, o) & (np.sign(view.yaw_rate_dps[o]) == np.sign(pairs.lateral_m))
    geometry = (
        (lateral >= cfg.min_lateral_m)
        & (lateral <= cfg.max_lateral_m)
        & (pairs.heading_cos >= math.cos(math.radians(cfg.max_heading_diff_deg)))
        & ~away
    )
    if view.lanes is None or not geometry.any():
        return geometry
    lane_e, lane_o = view.lane[pairs.ego], view.lane[pairs.other]
    both = (lane_e >= 0) & (lane_o >= 0)
    link = lane_links(view.lanes)
    same_link = (
        both & (link[np.maximum(lane_e, 0)] == link[np.maximum(lane_o, 0)]) & (lane_e != lane_o)
    )
    rows = np.unique(np.concatenate([pairs.ego[geometry], pairs.other[geometry]]))
    boxed = np.zeros(len(view.ids), dtype=bool)
    boxed[rows] = in_junction_box(view, rows, within_m=cfg.junction_m)
    loose = ~both & ~boxed[pairs.ego] & ~boxed[pairs.other]
    # lateral_m is across the ego's heading: a lane over while the headings are parallel
    return geometry & (same_link | loose)


def _side_pairs(view: SceneView, cfg: BswConfig) -> PairTable:
    """Directed same-way pairs where the other is in the adjacent lane (either side)."""
    pairs = moving_motor_directed(view, cfg.radius_m, 30.0, cfg.min_speed_mps)
    return pairs.select(_adjacent(view, pairs, cfg))


def _zone(
    view: SceneView, pairs: PairTable, cfg: BswConfig
) -> tuple[BoolArray, BoolArray, FloatArray]:
    """(in the blind spot; beside: anywhere from the ego's front bumper back to the blind
    spot's end, the gap a lane change needs; seconds until an other behind reaches the blind
    spot: 0 inside, inf never)."""
    le, lo = view.length_m[pairs.ego], view.length_m[pairs.other]
    other_front = pairs.along_m + lo / 2
    other_rear = pairs.along_m - lo / 2
    zone_back = -le / 2 - cfg.rear_m
    inside = (other_front >= zone_back) & (other_rear <= le / 2 - cfg.front_m)
    beside = (other_front >= zone_back) & (other_rear <= le / 2)
    catching = -pairs.closing_along_mps  # > 0 when the other gains on the ego
    with np.errstate(divide="ignore", invalid="ignore"):
        t_reach = np.where(catching > 0, (zone_back - other_front) / catching, np.inf)
    behind = other_front < zone_back
    return inside, beside, np.where(beside, 0.0, np.where(behind, t_reach, np.inf))


def _beside(view: SceneView, cfg: BswConfig) -> tuple[PairTable, BoolArray, BoolArray, FloatArray]:
    """Side pairs with their blind-spot zone test, computed once per tick for BSW and LCW."""

    def compute() -> tuple[PairTable, BoolArray, BoolArray, FloatArray]:
        pairs = _side_pairs(view, cfg)
        return (pairs, *_zone(view, pairs, cfg))

    return view.shared(f"beside:{cfg!r}", compute)


def _road_frame(view: SceneView, pairs: PairTable) -> tuple[FloatArray, FloatArray]:
    """(the ego's own lateral speed towards the other's side relative to its MAP lane, NaN
    without a lane match; their offset across the road: across the lane's heading, else the
    other's). The ego's heading frame would turn with a lane change and swing a car 30 m
    back a metre sideways."""
    e = pairs.ego
    road = view.heading_deg[pairs.other]
    lane_heading = np.full(len(pairs), np.nan)
    if view.lanes is not None:  # the scene's own lane match of the ego
        matched = np.flatnonzero(view.lane[e] >= 0)
        if matched.size:
            lane_heading[matched] = view.lane_heading_deg[e[matched]]
    known = lane_heading == lane_heading
    road = np.where(known, lane_heading, road)
    off = (view.heading_deg[e] - road + 180.0) % 360.0 - 180.0  # deg, > 0: to the right
    side = np.where(pairs.lateral_m > 0, 1.0, -1.0)
    # the heading the scene's tracker is sure of: moved CONFIDENCE_SIGMA towards "no drift"
    sure = side * off - CONFIDENCE_SIGMA * view.heading_sd_deg[e]
    toward = np.where(known, view.speed_mps[e] * np.sin(np.radians(sure)), np.nan)
    r = np.radians(road)
    across = np.abs(pairs.dx_m * np.cos(r) - pairs.dy_m * np.sin(r))
    return toward, across


class BlindSpotWarning(App):
    """BSW: another vehicle in the blind spot (INFO level)."""

    code = "BSW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = BswConfig
    detail = "vehicle in the blind spot"
    config: BswConfig

    def reach(self) -> tuple[Reach, ...]:
        """Vehicles beside or closing from behind within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def detect(self, view: SceneView) -> Hits:
        pairs, inside, _, _ = _beside(view, self.config)
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

    def reach(self) -> tuple[Reach, ...]:
        """Vehicles beside or closing from behind within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        # (ego uid, side: +1 right / -1 left) -> when its drift to that side began (ms) and
        # its lane offset then (m); rebuilt every tick from the egos drifting now, so it
        # holds no one else
        self._drift_since: dict[tuple[int, int], tuple[int, float]] = {}

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        pairs, _, beside, t_reach = _beside(view, cfg)
        flags = view.flags[pairs.ego]
        right = pairs.lateral_m > 0
        signals = np.where(right, flags & F_RIGHT_SIGNAL, flags & F_LEFT_SIGNAL) != 0
        toward, across = _road_frame(view, pairs)  # the ego's own motion towards that lane
        with np.errstate(invalid="ignore"):  # NaN (no lane: road unknown) is no drift
            drifting = self._sustained(view, pairs.ego, right, toward >= cfg.drift_mps)
        occupied = beside | (t_reach <= cfg.closing_s + cfg.lead_pad_s)
        hit = (signals | drifting) & occupied & ~is_turning(view, pairs.ego)
        pairs, toward, t_reach = pairs.select(hit), toward[hit], t_reach[hit]
        gap = across[hit] - view.width_m[pairs.ego]
        with np.errstate(divide="ignore", invalid="ignore"):
            t_side = np.where(toward > 0, np.maximum(gap, 0.0) / toward, np.inf)
        toward = np.nan_to_num(toward, nan=0.0)
        level = np.where(t_side <= cfg.imminent_s, IMMINENT, WARNING)
        return Hits(
            ego=pairs.ego,
            other=pairs.other,
            level=level.astype(np.int64),
            ttc_s=np.maximum(t_side, np.maximum(t_reach, 0.0)),
            values={"time_to_zone_s": t_reach, "lateral_closing_mps": toward},
        )

    def _sustained(
        self,
        view: SceneView,
        ego: npt.NDArray[np.int64],
        right: BoolArray,
        now_drifting: BoolArray,
    ) -> BoolArray:
        """Pairs whose ego has drifted to that side without pause for ``sustain_s`` and has
        moved across its lane towards it by ``min_shift_m`` since (its MAP lane offset: a
        heading a few degrees off the lane's, as on a curve the MAP draws coarsely, moves
        nothing)."""
        cfg = self.config
        now = view.now_ms
        side = np.where(right, 1, -1)
        on = np.flatnonzero(now_drifting)  # only the drifting pairs (few) are looked at
        keys = list(zip(view.uid[ego[on]].tolist(), side[on].tolist(), strict=True))
        offsets = view.lane_offset_m[ego[on]].tolist()
        since = self._drift_since
        kept: dict[tuple[int, int], tuple[int, float]] = {}
        for key, offset in zip(keys, offsets, strict=True):
            kept[key] = since.get(key, (now, offset))
        self._drift_since = kept
        need_ms = cfg.sustain_s * 1000.0
        out = np.zeros(ego.size, dtype=bool)
        for k, key, offset in zip(on.tolist(), keys, offsets, strict=True):
            start_ms, start_offset = kept[key]
            shift = (offset - start_offset) * key[1]
            out[k] = now - start_ms >= need_ms and shift >= cfg.min_shift_m
        return out
