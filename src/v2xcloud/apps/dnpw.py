"""DNPW — do not pass warning: overtaking into the opposing lane with oncoming traffic.

A vehicle intends to pass when it signals left at overtaking speed (≥ ``min_speed_mps``):
oncoming vehicles (heading difference ≥ ``min_oncoming_deg``) within ``radius_m`` ahead of it
in the corridor it needs — its own lane and the opposing lane to its left (lateral from
−``opposing_lane_m`` − ``half_width_m`` to ``half_width_m``) — are checked: the time until
they meet (gap / closing speed) must leave room for the pass. A vehicle already in the
opposing lane has an oncoming vehicle straight ahead in its own corridor (|lateral| ≤
``half_width_m``); this head-on check runs for every fast vehicle, so it uses the shared
short-range pairs (``head_on_radius_m``: at 70 m it sees 3 s ahead up to 23 m/s closing).
Warning when it is ≤ ``pass_s`` (the time an overtaking manoeuvre needs), imminent when ≤
``imminent_s``. Oncoming traffic in its own lane on the other side of the road, as on any
two-way road, is not a hazard.

A left signal means a pass only while driving straight (``_select.is_turning``: a turning
driver signals for its turn), with a reason and a need for the opposing lane: a slower
vehicle ahead in its lane within ``lead_m``, and (with a MAP match) no other same-way lane on
its link (a multi-lane road is passed on its own side) and no left turn allowed from its lane
within ``turn_zone_m`` of the stop line (a driver indicating to turn at the junction). While
a MAP is awaited (``_signals.MapWait``: its SPAT has come first) a signalling vehicle without
lane match is not taken to pass: it may be about to turn at the junction. A slower vehicle
ahead that itself signals left is queueing for the same turn, not being passed (and a
vehicle signalling left is passed on its right, never into the opposing lane).

Only an actual pass is warned (issue 15: in busy two-lane districts every DNPW warning was
false). The head-on check needs the ego to be out in the opposing lane *passing*: a slower
same-way vehicle one lane to its right (``passed_lateral_m``), from ``passed_behind_m``
behind (just passed: the ego has yet to cut back in) to ``lead_m`` ahead, the ego driving straight and, with a MAP, not matched to a lane of its own direction
(a vehicle in its own lane is not out in the opposing one). The other party must be
oncoming traffic in the opposing lane: not turning (a car turning in a junction ahead
sweeps across the ego's heading line) and, that close, facing the ego within
``head_on_min_deg`` (K733 without its MAP: a car starting from the stop line beside another
had a turner 52 m ahead at 152°, its yaw from roadside headings too noisy to call it turning). A vehicle leaving a junction with its heading still
off the road's, or one behind a turner, is no pass. Without a MAP only this geometry
decides (no lane count: a left signal behind a slower, non-signalling car with oncoming
traffic in the lane to the left is taken as a pass).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import (
    F_LEFT_SIGNAL,
    SHARED_RADIUS_M,
    gap_m,
    in_lane_ahead,
    is_motor,
    is_turning,
    motor,
)
from v2xcloud.apps._signals import MapWait
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, level_from_time
from v2xcloud.apps.kinematics import gap_ttc
from v2xcloud.geo import LaneMap
from v2xcloud.twin import PairTable, SceneView

__all__ = ["DnpwConfig", "DoNotPassWarning"]


class DnpwConfig(AppConfig, frozen=True, kw_only=True):
    """DNPW thresholds; ``pass_s`` is the time a pass needs (assumed, configurable)."""

    pass_s: float = 8.0
    imminent_s: float = 3.0
    radius_m: float = 400.0
    head_on_radius_m: float = SHARED_RADIUS_M
    min_speed_mps: float = 8.0
    min_oncoming_deg: float = 150.0
    head_on_min_deg: float = 165.0  # straight ahead within 70 m: facing each other on one line
    half_width_m: float = 1.8
    opposing_lane_m: float = 3.5
    lead_m: float = 60.0
    turn_zone_m: float = 150.0
    passed_lateral_m: tuple[float, float] = (1.75, 5.25)  # one lane to the right, ± half a lane
    passed_behind_m: float = 25.0  # a car just passed: the ego has yet to cut back in


class DoNotPassWarning(App):
    """Do not pass warning (see the module docstring)."""

    code = "DNPW"
    config_type = DnpwConfig
    detail = "do not pass: oncoming traffic"
    config: DnpwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Head-on partners within ``head_on_radius_m`` and the slower vehicle ahead within
        ``lead_m`` of any fast vehicle; oncoming traffic within ``radius_m`` ahead only of a
        vehicle that signals to pass (``Partners.AHEAD_OF_PASSER``)."""
        cfg = self.config
        return (
            Reach(max(cfg.head_on_radius_m, cfg.lead_m, cfg.passed_behind_m), Partners.ROAD_USERS),
            Reach(cfg.radius_m, Partners.AHEAD_OF_PASSER, speed_mps=cfg.min_speed_mps),
        )

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        self._map_wait = MapWait()

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        awaiting_map = self._map_wait.awaiting(view)
        is_car = motor(view)
        fast = (view.speed_mps >= cfg.min_speed_mps) & is_car
        parts = []
        passing = np.empty(0, dtype=np.int64)  # rows
        if view.any_flag(F_LEFT_SIGNAL):
            signalling = (fast & ((view.flags & F_LEFT_SIGNAL) != 0)).nonzero()[0]
            signalling = signalling[~is_turning(view, signalling)]  # signals for its turn
            if signalling.size:
                passing = self._would_pass(view, signalling, awaiting_map=awaiting_map)
        if passing.size:  # long range, but only for the few who pass
            pairs = view.neighbours(passing, cfg.radius_m)
            parts.append(
                pairs.select(self._oncoming(pairs, -cfg.opposing_lane_m - cfg.half_width_m))
            )
        parts.append(self._head_on(view, fast, awaiting_map=awaiting_map))
        hits = [self._score(p) for p in parts if len(p)]
        if len(hits) < 2:
            return hits[0] if hits else Hits.empty()
        return Hits(
            ego=np.concatenate([h.ego for h in hits]),
            other=np.concatenate([h.other for h in hits]),
            level=np.concatenate([h.level for h in hits]),
            ttc_s=np.concatenate([h.ttc_s for h in hits]),
        )

    def _would_pass(
        self, view: SceneView, rows: npt.NDArray[np.int64], *, awaiting_map: bool
    ) -> npt.NDArray[np.int64]:
        """The signalling ``rows`` that pass into the opposing lane (module docstring)."""
        cfg = self.config
        ahead = view.neighbours(rows, cfg.lead_m, focused=False)
        slower = in_lane_ahead(ahead, half_width_m=cfg.half_width_m, max_heading_diff_deg=30.0)
        slower &= view.speed_mps[ahead.other] < view.speed_mps[ahead.ego] + 0.5
        slower &= (view.flags[ahead.other] & F_LEFT_SIGNAL) == 0  # a turner is not passed
        rows = np.unique(ahead.ego[slower])
        if awaiting_map:  # no lane yet: it may be about to turn at the junction
            rows = rows[view.lane[rows] >= 0]
        if view.lanes is None or rows.size == 0:
            return rows
        lane = view.lane[rows]
        multi, left = view.shared("apps.dnpw.lanes", lambda: _lane_kinds(view.lanes))
        safe = np.maximum(lane, 0)
        turning = left[safe] & (view.to_stop_m[rows] <= cfg.turn_zone_m)
        return rows[(lane < 0) | ~(multi[safe] | turning)]

    def _head_on(
        self, view: SceneView, fast: npt.NDArray[np.bool_], *, awaiting_map: bool
    ) -> PairTable:
        """Directed pairs meeting head-on in one corridor, from the shared short-range pairs,
        whose ego is out in the opposing lane passing a slower vehicle (module docstring)."""
        cfg = self.config
        base = view.unordered_pairs(cfg.head_on_radius_m)  # shared with FCW/ICW/BSW
        name = f"opposite:{cfg.min_oncoming_deg}"
        limit = math.cos(math.radians(cfg.min_oncoming_deg))
        pairs = base.subset(name, lambda t: (t.heading_cos <= limit) & t.same_level)
        # for opposite headings the lateral offset is (nearly) the same seen from either side
        pairs = pairs.select(
            (np.abs(pairs.lateral_m) <= cfg.half_width_m + 1.0)
            & (pairs.heading_cos <= math.cos(math.radians(cfg.head_on_min_deg)))
        )
        if len(pairs) == 0:  # the usual case: oncoming traffic keeps to its own lane
            return pairs
        pairs = pairs.directed()
        pairs = pairs.select(fast[pairs.ego])
        pairs = pairs.select(self._oncoming(pairs, -cfg.half_width_m))
        if len(pairs) == 0:
            return pairs
        rows = np.unique(pairs.ego)
        rows = rows[~is_turning(view, rows)]
        if view.lanes is not None:  # matched to a lane of its own direction: not out
            rows = rows[view.lane[rows] < 0]
        passing = self._passing(view, rows)
        return pairs.select(np.isin(pairs.ego, passing))

    def _passing(self, view: SceneView, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The ``rows`` with a slower same-way vehicle one lane to their right, from
        ``passed_behind_m`` behind to ``lead_m`` ahead: the vehicle they are passing."""
        cfg = self.config
        if rows.size == 0:
            return rows
        near = view.neighbours(rows, max(cfg.lead_m, cfg.passed_behind_m), focused=False)
        lo, hi = cfg.passed_lateral_m
        passed = (
            (near.along_m >= -cfg.passed_behind_m)
            & (near.along_m <= cfg.lead_m)
            & (near.lateral_m >= lo)
            & (near.lateral_m <= hi)
            & (near.heading_cos >= math.cos(math.radians(30.0)))
            & (view.speed_mps[near.other] < view.speed_mps[near.ego] + 0.5)
            & near.same_level
            & is_motor(view, near.other)
        )
        return np.unique(near.ego[passed])

    def _oncoming(self, pairs: PairTable, min_lateral_m: float) -> npt.NDArray[np.bool_]:
        cfg = self.config
        lateral = pairs.lateral_m
        return (
            (pairs.heading_cos <= math.cos(math.radians(cfg.min_oncoming_deg)))
            & (pairs.along_m > 0)
            & (lateral >= min_lateral_m)
            & (lateral <= cfg.half_width_m)
            & pairs.same_level
            & is_motor(pairs.view, pairs.other)
            & ~is_turning(pairs.view, pairs.other)  # turning in a junction: not in the lane
        )

    def _score(self, pairs: PairTable) -> Hits:
        cfg = self.config
        ttm = gap_ttc(gap_m(pairs), pairs.closing_along_mps)
        level = level_from_time(
            ttm, warn_s=cfg.pass_s + cfg.lead_pad_s, imminent_s=cfg.imminent_s + cfg.lead_pad_s
        )
        return Hits(ego=pairs.ego, other=pairs.other, level=level, ttc_s=ttm)


def _lane_kinds(lanes: LaneMap | None) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per MAP lane: (its link has another vehicle lane, a left turn is allowed from it)."""
    if lanes is None:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    links: dict[tuple[object, object], int] = {}
    for info in lanes.lanes:
        if info.lane.lane_type == "vehicle":
            key = (info.upstream_node, info.node)
            links[key] = links.get(key, 0) + 1
    multi = [links.get((i.upstream_node, i.node), 0) >= 2 for i in lanes.lanes]
    left = [
        "maneuverLeftAllowed" in i.lane.maneuvers
        or any("maneuverLeftAllowed" in c.maneuvers for c in i.lane.connections)
        for i in lanes.lanes
    ]
    return np.array(multi, dtype=bool), np.array(left, dtype=bool)
