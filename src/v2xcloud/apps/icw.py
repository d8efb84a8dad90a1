"""ICW — intersection collision warning: two vehicles on crossing paths will meet.

For vehicle pairs on the same level whose headings cross (between ``min_angle_deg`` and
``180 - min_angle_deg``), the straight constant-velocity paths are intersected
(``kinematics.crossing_times``). Each vehicle occupies the conflict point for the time its
half length plus the other's half width takes to pass; the post-encroachment time (PET) is
the gap between the two occupations (≤ 0: they would collide). The ego is warned when it
reaches the conflict point within ``warn_s`` and the PET is ≤ ``pet_s``; imminent when the
occupations overlap and it gets there within ``imminent_s``. Paths already passed
(diverging), stopped vehicles and parallel traffic never qualify, nor does a vehicle
signalling a turn (it will not follow its straight path; LTA covers left turns across
oncoming traffic) unless the other is a red-light runner (``_signals.runs_red``: then any
path through the junction may meet it; that includes one at or past its stop line on red, and
one a ``_signals.RedRunners`` memory saw leave its lane on red into the junction), or one a
red light holds back (``_signals.held_by_signal``: MAP-matched before its stop line, red at its
arrival and able to stop), so cross traffic waiting for green never alarms the green flow; nor does a pair the signal program separates or that
approaches two different junctions (``_signals.signal_separated``). While a MAP is awaited
(``_signals.MapWait``: its SPAT has come first) a pair with an unmatched vehicle is left alone.

Two more parties follow no straight line to the crossing point: a vehicle that is turning
(``_select.is_turning``: its heading sweeps, so the straight line of the moment crosses
streets it never enters — typically one leaving a junction whose heading still points across
the oncoming lanes), again unless the other runs a red light; and a vehicle braking to stop
before the crossing point (its deceleration, at least ``_signals.MIN_BRAKING_MPS2``, stops
it within its distance to the conflict zone less ``stop_margin_m``): it yields, with or without MAP.
"""

from __future__ import annotations

import math

import numpy as np

from v2xcloud.apps._select import (
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    IMMINENT,
    K_MOTOR_MAX,
    SHARED_RADIUS_M,
    TURNING_DPS,
    WARN_MIN_SPEED_MPS,
    WARNING,
)
from v2xcloud.apps._signals import (
    MIN_BRAKING_MPS2,
    MapWait,
    RedRunners,
    held_by_signal,
    runs_red,
    signal_separated,
)
from v2xcloud.apps.base import App, AppConfig, Hits
from v2xcloud.apps.kinematics import crossing_times
from v2xcloud.twin import PairTable, SceneView

__all__ = ["IcwConfig", "IntersectionCollisionWarning"]

F_TURN_SIGNALS = F_LEFT_SIGNAL | F_RIGHT_SIGNAL


class IcwConfig(AppConfig, frozen=True, kw_only=True):
    """ICW thresholds (defaults: STANDARDS.md, time to conflict 3 s, SUMO PET 2 s)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    pet_s: float = 2.0
    radius_m: float = SHARED_RADIUS_M
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    min_angle_deg: float = 30.0
    stop_margin_m: float = 1.0


class IntersectionCollisionWarning(App):
    """Intersection collision warning (see the module docstring)."""

    code = "ICW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = IcwConfig
    detail = "intersection collision: crossing vehicle"
    config: IcwConfig

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        self._runners = RedRunners()
        self._map_wait = MapWait()

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        self._runners.observe(view)
        awaiting_map = self._map_wait.awaiting(view)
        pairs = self._crossing(view)
        if len(pairs) == 0:
            return Hits.empty()
        a, b = pairs.ego, pairs.other
        t_a, t_b, px, py = crossing_times(
            view.x_m[a], view.y_m[a], view.vx_mps[a], view.vy_mps[a],
            view.x_m[b], view.y_m[b], view.vx_mps[b], view.vy_mps[b],
        )  # fmt: skip
        half_a = self._occupancy_s(view, a, b)
        half_b = self._occupancy_s(view, b, a)
        pet = np.maximum(t_b - half_b - (t_a + half_a), t_a - half_a - (t_b + half_b))
        arrive_a = np.maximum(t_a - half_a, 0.0)
        arrive_b = np.maximum(t_b - half_b, 0.0)
        look = cfg.lookahead_s
        ahead = (t_a + half_a > 0) & (t_b + half_b > 0) & (pet <= cfg.pet_s)
        soon = np.minimum(arrive_a, arrive_b) <= cfg.warn_s + look
        k = (ahead & soon).nonzero()[0]  # usually a small part of the crossing pairs
        if k.size and awaiting_map:  # no lanes yet: who is held is unknown
            k = k[(view.lane[a[k]] >= 0) & (view.lane[b[k]] >= 0)]
        if k.size and view.lanes is not None:  # cross traffic a red light holds is no party
            k = k[~(held_by_signal(view, a[k]) | held_by_signal(view, b[k]))]
            k = k[~signal_separated(view, a[k], b[k])]
        if k.size:  # a vehicle braking to stop short of the crossing point yields
            k = k[~(self._stops(view, a[k], arrive_a[k]) | self._stops(view, b[k], arrive_b[k]))]
        yaw = np.abs(view.yaw_rate_dps)
        if k.size and (view.any_flag(F_TURN_SIGNALS) or bool((yaw >= TURNING_DPS).any())):
            # a turning (or signalling) driver leaves the straight path
            turning = ((view.flags[a[k]] | view.flags[b[k]]) & F_TURN_SIGNALS) != 0
            turning |= np.maximum(yaw[a[k]], yaw[b[k]]) >= TURNING_DPS
            if turning.any() and view.lanes is not None:  # ... unless the other runs a red
                t = k[turning]
                ran = runs_red(view, a[t], memory=self._runners)
                turning[turning] = ~(ran | runs_red(view, b[t], memory=self._runners))
            k = k[~turning]
        if k.size == 0:
            return Hits.empty()
        # one unordered pair warns each of the two vehicles with its own arrival time
        a_k, b_k, arrive_ak, arrive_bk = a[k], b[k], arrive_a[k], arrive_b[k]
        twice = np.concatenate([k, k])
        arrive = np.concatenate([arrive_ak, arrive_bk])
        pet2 = pet[twice]
        warn = arrive <= cfg.warn_s + look
        imminent = warn & (pet2 <= 0) & (arrive <= cfg.imminent_s + look)
        level = np.where(imminent, IMMINENT, np.where(warn, WARNING, 0))
        return Hits(
            ego=np.concatenate([a_k, b_k]),
            other=np.concatenate([b_k, a_k]),
            level=level.astype(np.int64, copy=False),
            ttc_s=arrive,
            x_m=px[twice],
            y_m=py[twice],
            values={"pet_s": pet2, "other_arrival_s": np.concatenate([arrive_bk, arrive_ak])},
        )

    def _crossing(self, view: SceneView) -> PairTable:
        """Unordered pairs of moving motor vehicles on crossing headings, same level."""
        cfg = self.config

        def mask(t: PairTable) -> np.ndarray:
            speed = view.speed_mps
            moving = np.minimum(speed[t.ego], speed[t.other]) >= cfg.min_speed_mps
            crossing = np.abs(t.heading_cos) <= math.cos(math.radians(cfg.min_angle_deg))
            motor = np.maximum(view.kind[t.ego], view.kind[t.other]) <= K_MOTOR_MAX
            return moving & crossing & t.same_level & motor

        name = f"icw:{cfg.min_speed_mps}:{cfg.min_angle_deg}"
        return view.unordered_pairs(cfg.radius_m).subset(name, mask)

    def _stops(self, view: SceneView, rows: np.ndarray, t_point: np.ndarray) -> np.ndarray:
        """Whether each vehicle's current braking stops it before the conflict zone (its
        front reaches it in ``t_point`` s at its current speed)."""
        speed, accel = view.speed_mps[rows], view.accel_mps2[rows]
        braking = np.isfinite(accel) & (accel <= -MIN_BRAKING_MPS2)
        with np.errstate(divide="ignore", invalid="ignore"):
            stop_m = np.where(braking, speed * speed / (2.0 * -accel), np.inf)
        return braking & (stop_m <= speed * t_point - self.config.stop_margin_m)

    @staticmethod
    def _occupancy_s(view: SceneView, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Half the time ``a`` spends in the conflict zone: (own length + b's width) / 2 / speed."""
        return (view.length_m[a] + view.width_m[b]) / 2.0 / np.maximum(view.speed_mps[a], 0.1)
