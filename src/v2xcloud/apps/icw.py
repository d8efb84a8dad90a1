"""ICW — intersection collision warning: two vehicles on crossing paths will meet.

**With a MAP** (both vehicles on movements of one junction, ``twin.movements``: on an ingress
lane, or in the box on a path of the lane they came from): each vehicle follows one of its
lane's movements, weighted by turn signal, speed profile and position
(``MovementWeights``; a track only roadside perception reports has no indicators to read,
so its lane's movements count alike: ``perceived_straight``); a pair conflicts when two of
their movements cross in a conflict zone (precomputed per MAP revision; two movements merging
into one exit lane do not cross: ``ConflictRule.crossing_only``, the bench scores such a
merge as a merging conflict, BSW/LCW's; demo_district, 2 seeds: 8 of ICW's 18 false
warnings were merges at the grid's unsignalised T-junctions, a signalled turner and the
minor road's through car heading for one exit lane) that both reach (at their current speeds; a turning
movement slowing to turning speed at the box, one pulling away gaining speed up to turning
speed, before its line too: ``_conflicts.travel_s``) with occupancies at most ``pet_s``
apart (0.5 s, the arrival prediction's own error: at 0 the scripted icw_two_lane,
predicted 0.11 s apart, was never warned; at 1 s ICW on background_grid2_connected +
background_district rose from 4 to 10 warnings, all false)
and one of them within ``warn_s``. Right of way comes from each movement's signal group at the stop line
(``_signals.movement_right_of_way``): a movement red or amber at arrival whose driver can
still stop (``_signals.STOP_DECEL_MPS2``; amber tells a driver short of her line to stop,
``_signals.stop_window``) is held and no party, a red-light runner is; two movements on
protected green never conflict (the program separates them). Without a signal, a movement
the MAP says gives way (``model.map.GIVE_WAY``) is held while its driver can still stop at
its line comfortably; where the MAP ranks neither movement, the law does
(``_signals.equal_standing_yields``, art. 52: a turn gives way to a straight movement, a
right turn to the opposite left turn, otherwise the car from the right goes first), and the
car that gives way is held the same way. A vehicle braking to stop before the
conflict zone (``stop_margin_m``) yields, signalled or not. The most likely conflicting pair of
movements must have a summed probability of at least ``min_probability``, or
``min_probability_perceived`` when either vehicle is known only from roadside perception
(an RSM carries no indicator: such a car's odds are its lane's; a coin flip between a
crossing and a turn that crosses nothing is no warning. The library and three unseen
priority-junction files, 5 seeds: false ICW warnings 76 -> 28, detections unchanged; the
scripted roadside-only crossing car of icw_roadside_side_car is warned 1.4 s before the
episode instead of 2.0 s). Pairs on different
junctions, or one on an exit lane, never conflict at a junction.

**Without** (no MAP, or a vehicle on no movement): the straight constant-velocity paths are
intersected (``kinematics.crossing_times``) and only what geometry alone supports is warned:
both vehicles reach the crossing point within ``warn_s``, neither is braking, their PET is ≤
``pet_s``: the same arrival-prediction error as with a MAP (a straight line at constant
velocity predicts no better than a lane's movement; a predicted miss of 1-2 s is the bench's
grey zone, never a must-warn, and in signalised grids it was mostly a car about to stop for
its red: background_grid2_connected 2 of 2, unseen_grid4_dense 4 of 13 false ICW warnings had
a predicted PET of 1.6-1.9 s under the former 2.0 s). Each vehicle occupies the conflict point for the time its half length plus the
other's half width takes to pass; the post-encroachment time (PET) is the gap between the two
occupations (≤ 0: they would collide). Imminent when the occupations overlap and it gets there
within ``imminent_s``. With a MAP, a vehicle on an ingress lane follows it to its stop line:
a crossing point more than ``lane_margin_m`` short of that line is none of its
(``_conflicts.stays_in_lane``). Paths already passed (diverging), stopped vehicles and parallel traffic
never qualify, nor does a vehicle signalling a turn (it will not follow its straight path;
LTA covers left turns across oncoming traffic) unless the other is a red-light runner
(``_signals.runs_red``: then any path through the junction may meet it; that includes one at
or past its stop line on red, and one a ``_signals.RedRunners`` memory saw leave its lane on
red into the junction), or one a red light holds back (``_signals.held_by_signal``), nor a
pair the signal program separates or that approaches two different junctions
(``_signals.signal_separated``), nor a turning vehicle (``_select.is_turning``: its heading
sweeps, so the straight line of the moment crosses streets it never enters). While a MAP is
awaited (``_signals.MapWait``: its SPAT has come first) a pair with an unmatched vehicle is
left alone.
"""

from __future__ import annotations

import math

import numpy as np

from v2xcloud.apps._conflicts import (
    NO_CONFLICTS,
    PERCEIVED_MIN_PROBABILITY,
    ConflictRule,
    Conflicts,
    movement_conflicts,
    occupancy_s,
    stays_in_lane,
)
from v2xcloud.apps._select import (
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    IMMINENT,
    K_MOTOR_MAX,
    PATH_CONFIRM_TICKS,
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
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach
from v2xcloud.apps.kinematics import crossing_times
from v2xcloud.twin import PairTable, SceneView
from v2xcloud.twin.movements import (
    Movements,
    MovementWeights,
    movements_of,
)

__all__ = ["IcwConfig", "IntersectionCollisionWarning"]

F_TURN_SIGNALS = F_LEFT_SIGNAL | F_RIGHT_SIGNAL


class IcwConfig(AppConfig, frozen=True, kw_only=True):
    """ICW thresholds (defaults: STANDARDS.md, time to conflict 3 s). ``pet_s`` is how far
    apart two predicted occupancies of the conflict zone may be and still be warned, with or
    without a MAP: the arrival prediction's own error (module docstring).
    ``max_accel_sd_mps2``: a party's acceleration must be known at least this well (1σ):
    whether a driver yields (brakes to stop, gives way comfortably at about 3 m/s²) is read
    from it, and at 1.5 m/s² a comfortable stop and a steady drive are 2σ apart. A track of
    a single report without a measured acceleration has only the tracker's prior (3 m/s²):
    issue 15 asks for confidence, not single samples (unseen_crossing_priority: 4 of 14
    sampled false warnings were cars inserted at speed, warned on their first report)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    pet_s: float = 0.5
    radius_m: float = SHARED_RADIUS_M
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    min_angle_deg: float = 30.0
    stop_margin_m: float = 1.0
    lane_margin_m: float = 5.0
    min_probability: float = 0.5
    min_probability_perceived: float = PERCEIVED_MIN_PROBABILITY
    movement_weights: MovementWeights = MovementWeights(perceived_straight=1.0)
    max_accel_sd_mps2: float = 1.5
    #: without a MAP a party's straight line is its path only when its yaw rate is known at
    #: least this well (1σ): a track whose heading jumped (the tracker restarts the yaw
    #: rate at its prior, 20 deg/s) may be on a ramp's bend or a turn already begun, not the
    #: line of the moment (cvm_background: a car merging from an on-ramp, its heading
    #: swinging 54 -> 90 deg, was warned with the main-road car beside it, 2 per seed). 10
    #: lets a steady track through (a BSM's ~6 deg/s, a roadside track's ~7.5 without a
    #: measured yaw rate) and holds a new one no longer than ``max_accel_sd_mps2`` does
    #: (a BSM's 0.2 s, a roadside track's ~1.3 s)
    max_yaw_sd_dps: float = 10.0
    confirm_ticks: int = PATH_CONFIRM_TICKS


class IntersectionCollisionWarning(App):
    """Intersection collision warning (see the module docstring)."""

    code = "ICW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = IcwConfig
    detail = "intersection collision: crossing vehicle"
    config: IcwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Crossing vehicles within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        self._runners = RedRunners()
        self._map_wait = MapWait()

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        self._runners.observe(view)
        awaiting_map = self._map_wait.awaiting(view)
        movements = movements_of(view)
        if movements is not None:
            movements.lane_memory.observe(view, movements)
        pairs = self._crossing(view)
        if len(pairs) == 0:
            return Hits.empty()
        a, b = pairs.ego, pairs.other
        on_map, found = self._by_movement(view, movements, a, b)
        if on_map.any():  # the MAP decided these pairs; the rest by geometry alone
            free = np.flatnonzero(~on_map)
            a, b = a[free], b[free]
        parts = [found, self._straight(view, movements, a, b, awaiting_map)]
        found = Conflicts(
            *(np.concatenate([getattr(f, n) for f in parts]) for n in Conflicts._fields)
        )
        if found.a.size == 0:
            return Hits.empty()
        # one unordered pair warns each of the two vehicles with its own arrival time
        look = cfg.lead_pad_s
        arrive = np.concatenate([found.arrive_a, found.arrive_b])
        pet2 = np.concatenate([found.pet, found.pet])
        warn = arrive <= cfg.warn_s + look
        imminent = warn & (pet2 <= 0) & (arrive <= cfg.imminent_s + look)
        level = np.where(imminent, IMMINENT, np.where(warn, WARNING, 0))
        return Hits(
            ego=np.concatenate([found.a, found.b]),
            other=np.concatenate([found.b, found.a]),
            level=level.astype(np.int64, copy=False),
            ttc_s=arrive,
            x_m=np.concatenate([found.x, found.x]),
            y_m=np.concatenate([found.y, found.y]),
            values={
                "pet_s": pet2,
                "other_arrival_s": np.concatenate([found.arrive_b, found.arrive_a]),
            },
        )

    def _straight(
        self,
        view: SceneView,
        movements: Movements | None,
        a: np.ndarray,
        b: np.ndarray,
        awaiting_map: bool,
    ) -> Conflicts:
        """Pairs without movements for both (no MAP, or off its junctions): straight lines
        at constant velocity, both within the time window and neither braking; a vehicle on
        an ingress lane of the MAP follows its lane up to the stop line, so a crossing point
        short of that line is none of its."""
        cfg = self.config
        if a.size == 0:
            return NO_CONFLICTS
        t_a, t_b, px, py = crossing_times(
            view.x_m[a], view.y_m[a], view.vx_mps[a], view.vy_mps[a],
            view.x_m[b], view.y_m[b], view.vx_mps[b], view.vy_mps[b],
        )  # fmt: skip
        half_a = occupancy_s(view, a, b)
        half_b = occupancy_s(view, b, a)
        pet = np.maximum(t_b - half_b - (t_a + half_a), t_a - half_a - (t_b + half_b))
        arrive_a = np.maximum(t_a - half_a, 0.0)
        arrive_b = np.maximum(t_b - half_b, 0.0)
        look = cfg.lead_pad_s
        ahead = (t_a + half_a > 0) & (t_b + half_b > 0) & (pet <= cfg.pet_s)
        soon = np.maximum(arrive_a, arrive_b) <= cfg.warn_s + look  # both within the window
        accel = view.accel_mps2
        steady = ~((accel[a] <= -MIN_BRAKING_MPS2) | (accel[b] <= -MIN_BRAKING_MPS2))
        # a straight line is a path only once the track's yaw rate is known
        # (``IcwConfig.max_yaw_sd_dps``)
        sd = view.yaw_rate_sd_dps
        known = np.maximum(sd[a], sd[b]) <= cfg.max_yaw_sd_dps
        k = (ahead & soon & steady & known).nonzero()[0]  # usually a small part of the pairs
        if k.size and movements is not None:  # a lane has no junction short of its line
            margin = cfg.lane_margin_m
            k = k[~stays_in_lane(view, movements, a[k], t_a[k], margin)]
            k = k[~stays_in_lane(view, movements, b[k], t_b[k], margin)]
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
        return Conflicts(a[k], b[k], arrive_a[k], arrive_b[k], pet[k], px[k], py[k])

    def _by_movement(
        self, view: SceneView, movements: Movements | None, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, Conflicts]:
        """Pairs whose two vehicles are both on MAP movements (module docstring): which they
        are (the MAP decides them), and those in conflict."""
        if movements is None or a.size == 0:
            return np.zeros(a.size, dtype=bool), NO_CONFLICTS
        cfg = self.config
        return movement_conflicts(
            view,
            movements,
            movements.lane_memory,
            a,
            b,
            ConflictRule(
                weights=cfg.movement_weights,
                pet_s=cfg.pet_s,
                window_s=cfg.warn_s + cfg.lead_pad_s,
                stop_margin_m=cfg.stop_margin_m,
                min_probability=cfg.min_probability,
                min_probability_perceived=cfg.min_probability_perceived,
                pull_away_anywhere=True,
                crossing_only=True,
            ),
        )

    def _crossing(self, view: SceneView) -> PairTable:
        """Unordered pairs of moving motor vehicles on crossing headings, same level, whose
        accelerations are known (``IcwConfig.max_accel_sd_mps2``)."""
        cfg = self.config

        def mask(t: PairTable) -> np.ndarray:
            speed = view.speed_mps
            moving = np.minimum(speed[t.ego], speed[t.other]) >= cfg.min_speed_mps
            crossing = np.abs(t.heading_cos) <= math.cos(math.radians(cfg.min_angle_deg))
            motor = np.maximum(view.kind[t.ego], view.kind[t.other]) <= K_MOTOR_MAX
            # yielding is read from the acceleration: unknown (one report), no party yet
            sd = view.accel_sd_mps2
            known = np.maximum(sd[t.ego], sd[t.other]) <= cfg.max_accel_sd_mps2
            return moving & crossing & t.same_level & motor & known

        name = f"icw:{cfg.min_speed_mps}:{cfg.min_angle_deg}:{cfg.max_accel_sd_mps2}"
        return view.unordered_pairs(cfg.radius_m).subset(name, mask)

    def _stops(self, view: SceneView, rows: np.ndarray, t_point: np.ndarray) -> np.ndarray:
        """Whether each vehicle's current braking stops it before the conflict zone (its
        front reaches it in ``t_point`` s at its current speed)."""
        speed, accel = view.speed_mps[rows], view.accel_mps2[rows]
        braking = np.isfinite(accel) & (accel <= -MIN_BRAKING_MPS2)
        with np.errstate(divide="ignore", invalid="ignore"):
            stop_m = np.where(braking, speed * speed / (2.0 * -accel), np.inf)
        return braking & (stop_m <= speed * t_point - self.config.stop_margin_m)
