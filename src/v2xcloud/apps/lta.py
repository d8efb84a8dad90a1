"""LTA — left turn assist: turning left across oncoming traffic that would hit the turn.

With a MAP, when the turner and the oncoming vehicle are both on movements of one junction
(``twin.movements``), the MAP decides: the turner's left-turn (or U-turn) movement must meet
the other's through or right-turn movement in a conflict zone with occupancies at most
``movement_pet_s`` apart, the turner timed as slowing to turning speed at the box
(``_conflicts.travel_s``; timed at its current speed, a turner still braking for the turn
seemed to clear the zone early, and the warning came 0.8 s late on ``lta_left_turn``) and
never faster than it goes (a driver creeping up to the turn or inching forward in the box
while it waits for a gap is not about to take it; timed at ``min_turn_speed_mps`` such
creepers were warned gaps they never took), by
the rules ICW uses (a give-way on the turner's own movement does not hold it: LTA tells it
whether the gap is safe) (``_conflicts``: right of way from each movement's signal group, a
party braking to stop before the zone yields, and so does a turner at or below turning
speed that brakes and can stop short of the zone braking firmly (``_signals.STOP_DECEL_MPS2``,
as a driver stopping for red or giving way does: the braking a driver applies rises as her
stop comes): it gives way, braking is no longer slowing down for the turn,
``ConflictRule.ego_yield_decel_mps2``; above turning speed, braking that would stop it
past its line, in the box, is slowing down for the turn, not a stop:
``ConflictRule.ego_slows_to_turn`` (read as a stop short of the zone, turners braking at
3.5 m/s² from 13-15 m/s that then took the gap were missed: 6 of the unseen files' 13
must LTA episodes and 3 of the library's 28, 5 seeds, and the scripted
lta_roadside_oncoming was warned 1.5 s ahead instead of 2.3; now all 28 and 11 of 13 are
found, at 9 and 10 more false warnings, median lead 1.75 -> 2.10 s); probability of the
movements at least ``min_probability``, or ``min_probability_perceived`` when the oncoming
car is known only from roadside perception: an RSM carries no indicator, which the turner
sees, so a warning against such a car must be likely without it; the library, 5 seeds: 57 of 111 false LTA
warnings, 44 in demo_district, were against a perceived oncoming car whose lane's odds
made a conflicting movement 0.5-0.75 likely, most of them cars that then turned right);
the time to conflict is the turner's arrival there. Otherwise (no
MAP, or either off the junction's movements) the prediction below applies, except, with a
MAP, to a turner already in its turn that the MAP's movements cannot place (its own yaw rate through a box the MAP does not describe
warned gaps the drivers took safely: 3 of 10 false alarms on background_district, seed 0,
none a real conflict), and to an oncoming vehicle that signals left (it turns left too, and
opposing left turns pass each other); with a MAP, an
oncoming vehicle on an ingress lane whose predicted meeting point lies more than
``lane_margin_m`` short of its stop line is no party (``_conflicts.stays_in_lane``: an
unmapped bend or corner, not a junction).

A vehicle intends to turn left when it signals left, or is matched to a MAP lane whose only
manoeuvre is a left turn. A left yaw rate alone is no intent: a vehicle leaving a left turn
still yaws left while the oncoming traffic of its new street passes it on its left, in the
geometry of a left turn about to be taken (before its heading settles, its arc crosses that
traffic's lane). Its turn is predicted
with a constant turn rate (its own, or ``speed / turn_radius_m`` when it only signals, at no
less than ``min_turn_speed_mps`` so that a driver waiting to turn learns whether turning *now*
is safe, and at most ``max_turn_speed_mps``: a faster driver who only signals first slows
down at ``turn_decel_mps2``, going straight on meanwhile); oncoming vehicles (heading difference ≥ ``min_oncoming_deg``, ahead) go straight at
constant velocity. Both are sampled every ``step_s`` up to ``horizon_s``; the first time they
come within ``conflict_m`` (plus half widths) is the time to conflict: warning at ≤ ``warn_s``,
imminent at ≤ ``imminent_s``.

Only a turner about to take the turn is warned (``_committed``): one already turning, or one
that has slowed towards turning speed (at most ``max_turn_speed_mps`` + ``commit_margin_mps``,
about 1.3 s of comfortable braking above it, on a MAP lane; without one, at most
``max_turn_speed_mps``: where its junction is, nothing says) and
is neither waiting (standing still, not pulling away: at least ``start_accel_mps2``) nor
braking to stop before its stop line (with MAP: its deceleration, at least
``_signals.MIN_BRAKING_MPS2``, stops it within ``to_stop_m``), nor braking to a halt where it
is (within ``stop_margin_m``: it waits there for its gap; unseen files, 5 seeds: false LTA
78 -> 65, no episode lost, with the bench's truth counting a turner that waited in the box
as grey). A driver still at cruising
speed has to slow down before it can turn and decides on the gap then; a driver waiting at
its line is told nothing until it moves.

With MAP, a driver who signals on an approach lane turns at the junction, not where it is:
its path runs straight to the stop line (``to_stop_m``), then turns. A red light holds
parties back (``_signals.held_by_signal``): an oncoming car stopping for red is no conflict,
nor is a turner whose own movement is red. While a MAP is awaited (``_signals.MapWait``: its
SPAT has come first) a pair with an unmatched vehicle is left alone.

A turner already in the conflict zone that will be out of it before the oncoming vehicle
comes (positive PET) has taken the gap: no warning can help it, and it gets none (the
library, 5 seeds: false LTA warnings 35 → 31, no episode lost; the two probed were turners
at 9-10 m/s in their turns, warned at arrival 0 s while the oncoming car pulled away
behind them). One predicted in the zone together with the oncoming vehicle is still
warned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._conflicts import (
    NO_CONFLICTS,
    PERCEIVED_MIN_PROBABILITY,
    ConflictRule,
    Conflicts,
    movement_conflicts,
    stays_in_lane,
)
from v2xcloud.apps._select import (
    F_LEFT_SIGNAL,
    PATH_CONFIRM_TICKS,
    TURNING_DPS,
    is_motor,
    motor,
)
from v2xcloud.apps._signals import MIN_BRAKING_MPS2, STOP_DECEL_MPS2, MapWait, held_by_signal
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, level_from_time
from v2xcloud.apps.kinematics import predict_ctrv, predict_cv
from v2xcloud.geo import LaneMap
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.movements import (
    LEFT,
    RIGHT,
    STRAIGHT,
    UTURN,
    MovementWeights,
    movements_of,
)

__all__ = ["LeftTurnAssist", "LtaConfig", "left_only_lanes"]

#: a turner heading within this of the reverse of the oncoming vehicle's faces it still: its
#: turn is to come, not to end aligned with that vehicle's road
_ALIGNED_DEG = 10.0

_TURNS = frozenset(
    {
        "maneuverStraightAllowed",
        "maneuverLeftAllowed",
        "maneuverRightAllowed",
        "maneuverUTurnAllowed",
    }
)


class LtaConfig(AppConfig, frozen=True, kw_only=True):
    """LTA thresholds (defaults: STANDARDS.md, time to conflict 3 s / 1.5 s)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    radius_m: float = 80.0
    turn_yaw_dps: float = TURNING_DPS
    turn_radius_m: float = 12.0
    min_turn_speed_mps: float = 4.0
    max_turn_speed_mps: float = 8.0
    turn_decel_mps2: float = 3.0
    commit_margin_mps: float = 4.0
    start_accel_mps2: float = 0.5
    min_oncoming_deg: float = 135.0
    min_other_speed_mps: float = 2.0
    conflict_m: float = 1.0
    horizon_s: float = 4.0
    step_s: float = 0.1
    movement_weights: MovementWeights = MovementWeights()
    movement_pet_s: float = 1.0
    min_probability: float = 0.5
    min_probability_perceived: float = PERCEIVED_MIN_PROBABILITY
    stop_margin_m: float = 1.0
    lane_margin_m: float = 5.0
    confirm_ticks: int = PATH_CONFIRM_TICKS


def left_only_lanes(lanes: LaneMap | None) -> npt.NDArray[np.bool_]:
    """Per MAP lane: True where the only allowed manoeuvre is a left turn."""
    if lanes is None:
        return np.zeros(0, dtype=bool)
    return np.array(
        [info.lane.maneuvers & _TURNS == {"maneuverLeftAllowed"} for info in lanes.lanes],
        dtype=bool,
    )


class LeftTurnAssist(App):
    """Left turn assist (see the module docstring)."""

    code = "LTA"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = LtaConfig
    detail = "left turn across oncoming traffic"
    config: LtaConfig

    def reach(self) -> tuple[Reach, ...]:
        """Oncoming vehicles within ``radius_m`` of the turning one."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        self._map_wait = MapWait()

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        awaiting_map = self._map_wait.awaiting(view)
        movements = movements_of(view)
        if movements is not None:
            movements.lane_memory.observe(view, movements)
        turning = self._intends_left(view)
        if turning.any():
            turning &= self._committed(view)
        if not turning.any():
            return Hits.empty()
        pairs = view.neighbours(turning.nonzero()[0], cfg.radius_m)
        keep = (
            is_motor(view, pairs.other)
            & (view.speed_mps[pairs.other] >= cfg.min_other_speed_mps)
            & (pairs.heading_diff_deg >= cfg.min_oncoming_deg)
            & (pairs.along_m > 0)
            & pairs.same_level
        )
        if awaiting_map:  # no lanes yet: who turns or is held is unknown
            keep &= (view.lane[pairs.ego] >= 0) & (view.lane[pairs.other] >= 0)
        pairs = pairs.select(keep)
        if len(pairs) and view.lanes is not None:  # parties a red light holds back
            pairs = pairs.select(
                ~(held_by_signal(view, pairs.ego) | held_by_signal(view, pairs.other))
            )
        if len(pairs) == 0:
            return Hits.empty()
        ego, other = pairs.ego, pairs.other
        on_map, found = self._by_movement(view, ego, other)
        taken = (found.arrive_a <= 0.0) & (found.pet > 0.0)  # in the zone, out first
        if taken.any():
            found = found.select(~taken)
        rest = ~on_map  # the MAP decided the others; the rest turn at a constant rate, but
        if movements is not None:  # not a turner in the box the MAP's movements cannot place
            rest &= view.yaw_rate_dps[ego] > -cfg.turn_yaw_dps
        # the straight-line prediction is for oncoming traffic that goes on or turns right; one
        # that signals left turns left too, and opposing left turns pass each other (the MAP
        # path gives its through movement a signal's low weight; demo_district: 6 of 21 false
        # LTA warnings were such pairs in the box, none a conflict)
        rest &= (view.flags[other] & F_LEFT_SIGNAL) == 0
        ego, other = ego[rest], other[rest]
        t_conf = self._time_to_conflict(view, ego, other)
        if movements is not None and ego.size:  # the MAP's lanes have no junction on them
            t = np.where(np.isfinite(t_conf), t_conf, 0.0)
            off = stays_in_lane(view, movements, other, t, cfg.lane_margin_m)
            ego, other, t_conf = ego[~off], other[~off], t_conf[~off]
        ego = np.concatenate([found.a, ego])
        other = np.concatenate([found.b, other])
        t_conf = np.concatenate([found.arrive_a, t_conf])
        level = level_from_time(
            t_conf, warn_s=cfg.warn_s + cfg.lead_pad_s, imminent_s=cfg.imminent_s + cfg.lead_pad_s
        )
        return Hits(ego=ego, other=other, level=level, ttc_s=t_conf)

    def _by_movement(
        self, view: SceneView, ego: np.ndarray, other: np.ndarray
    ) -> tuple[npt.NDArray[np.bool_], Conflicts]:
        """Pairs whose turner and oncoming vehicle are both on MAP movements: which they are,
        and those where a left turn (or U-turn) of the turner meets a through or right-turning
        movement of the other with overlapping occupancy (``_conflicts``)."""
        movements = movements_of(view)
        if movements is None:
            return np.zeros(ego.size, dtype=bool), NO_CONFLICTS
        cfg = self.config
        rule = ConflictRule(
            weights=cfg.movement_weights,
            pet_s=cfg.movement_pet_s,
            window_s=cfg.warn_s + cfg.lead_pad_s,
            stop_margin_m=cfg.stop_margin_m,
            min_probability=cfg.min_probability,
            min_probability_perceived=cfg.min_probability_perceived,
            ego_turns=frozenset({LEFT, UTURN}),
            other_turns=frozenset({STRAIGHT, RIGHT}),
            ego_min_speed_mps=0.0,
            hold_ego_give_way=False,
            ego_yield_decel_mps2=STOP_DECEL_MPS2,
            ego_pull_away_either=True,
            ego_slows_to_turn=True,
        )
        return movement_conflicts(view, movements, movements.lane_memory, ego, other, rule)

    def _intends_left(self, view: SceneView) -> npt.NDArray[np.bool_]:
        if view.lanes is None and not view.any_flag(F_LEFT_SIGNAL):
            return np.zeros(len(view), dtype=bool)  # nobody signals or waits in a left lane
        intent = (view.flags & F_LEFT_SIGNAL) != 0
        left_only = left_only_lanes(view.lanes)
        if left_only.size:
            lane = view.lane
            intent |= (lane >= 0) & left_only[np.maximum(lane, 0)]
        return intent & motor(view)

    def _committed(self, view: SceneView) -> npt.NDArray[np.bool_]:
        """Vehicles about to take a turn (module docstring), for every row."""
        cfg = self.config
        speed, accel = view.speed_mps, view.accel_mps2
        accel = np.where(np.isfinite(accel), accel, 0.0)
        in_turn = view.yaw_rate_dps <= -cfg.turn_yaw_dps
        waiting = (speed < MOVING_MPS) & (accel < cfg.start_accel_mps2)
        braking = accel <= -MIN_BRAKING_MPS2
        # above turning speed only on a MAP lane, whose stop line says where the turn is:
        # without one, a driver signalling at 9-12 m/s may be anywhere before its junction
        # (background_grid2_connected, no MAP: 37 of 37 LTA warnings false, the turn predicted
        # right ahead while the oncoming cars passed before the corner)
        margin = np.where(view.lane >= 0, cfg.commit_margin_mps, 0.0)
        slow_enough = speed <= cfg.max_turn_speed_mps + margin
        with np.errstate(divide="ignore", invalid="ignore"):
            stop_m = np.where(braking, speed * speed / (2.0 * -accel), np.inf)
        stops = braking & (view.lane >= 0) & (view.to_stop_m > 0) & (stop_m <= view.to_stop_m)
        # braking to stand within ``stop_margin_m``: it halts where it is, to wait for its gap
        halting = braking & (stop_m <= cfg.stop_margin_m)
        return (in_turn | (slow_enough & ~waiting & ~stops)) & ~halting

    def _time_to_conflict(self, view: SceneView, e: np.ndarray, o: np.ndarray) -> np.ndarray:
        cfg = self.config
        t = np.arange(1, round(cfg.horizon_s / cfg.step_s) + 1) * cfg.step_s
        speed = np.maximum(view.speed_mps[e], cfg.min_turn_speed_mps)
        own = view.yaw_rate_dps[e]
        is_turning = own <= -cfg.turn_yaw_dps
        turn_speed = np.where(is_turning, speed, np.minimum(speed, cfg.max_turn_speed_mps))
        yaw = np.where(is_turning, own, -np.degrees(turn_speed / cfg.turn_radius_m))
        # a signalling driver goes straight on while it slows to turning speed, and on an
        # approach lane up to the stop line
        slow_m = (speed**2 - turn_speed**2) / (2.0 * cfg.turn_decel_mps2)
        to_stop = view.to_stop_m[e]
        line_m = np.where((view.lane[e] >= 0) & (to_stop > 0), to_stop, 0.0)
        ahead_m = np.where(is_turning, 0.0, np.maximum(slow_m, line_m))
        heading = view.heading_deg[e]
        h = np.radians(heading)
        sx, sy = view.x_m[e] + np.sin(h) * ahead_m, view.y_m[e] + np.cos(h) * ahead_m
        t_start = (ahead_m / speed)[:, None]
        # a left turn ends aligned with the road it enters: when the turner's heading comes to
        # the reverse of the oncoming vehicle's within the turn's last 90 degrees, that vehicle
        # drives the road it turns into, and the two pass each other there (an L-corner's
        # oncoming traffic has left the corner already; predicted turning on, the arc curled
        # into its lane: background_grid2_connected)
        rest = (heading - (view.heading_deg[o] + 180.0)) % 360.0
        ends = (rest > _ALIGNED_DEG) & (rest <= 90.0)
        t_end = np.where(ends, rest / np.maximum(np.abs(yaw), 1e-6), np.inf)[:, None]
        t_turn = np.maximum(t[None, :] - t_start, 0.0)
        ex, ey, h_out = predict_ctrv(
            sx[:, None], sy[:, None], turn_speed[:, None],
            heading[:, None], yaw[:, None], np.minimum(t_turn, t_end),
        )  # fmt: skip
        on = np.maximum(t_turn - t_end, 0.0) * turn_speed[:, None]  # straight on, turn done
        ex, ey = ex + on * np.sin(np.radians(h_out)), ey + on * np.cos(np.radians(h_out))
        before = t[None, :] < t_start
        ex = np.where(before, view.x_m[e][:, None] + (speed * np.sin(h))[:, None] * t[None, :], ex)
        ey = np.where(before, view.y_m[e][:, None] + (speed * np.cos(h))[:, None] * t[None, :], ey)
        ox, oy = predict_cv(
            view.x_m[o][:, None], view.y_m[o][:, None],
            view.vx_mps[o][:, None], view.vy_mps[o][:, None], t[None, :],
        )  # fmt: skip
        reach = (view.width_m[e] + view.width_m[o]) / 2
        close = np.hypot(ex - ox, ey - oy) <= (reach + cfg.conflict_m)[:, None]
        # only the turn meets the oncoming traffic: a path that crosses the turner's lane
        # before its turn begins (a car finishing a turn of its own onto the turner's road,
        # its heading drawn straight across; unseen_grid4_single_lane: 3 of 15 false
        # warnings, the turner still 25-43 m before its line) is no left-turn conflict
        close &= ~before
        hit = close.any(axis=1)
        return np.where(hit, t[np.argmax(close, axis=1)], np.inf)
