"""Conflicts along MAP movements, shared by ICW and LTA.

Two vehicles on movements of one junction (``twin.movements``) conflict when some pair of
their candidate movements meets in a conflict zone and:

- both reach it at their current speeds with overlapping occupancy: the post-encroachment
  time (PET, the gap between one leaving the zone and the other entering it; each occupies it
  for its own length plus the other's width at its speed) is at most ``ConflictRule.pet_s``,
  and the first of them gets there within ``window_s``;
- neither brakes hard enough to stop short of the zone (``stop_margin_m`` before it): it yields
  (with ``ego_slows_to_turn``, LTA's turner above turning speed yields only by a stop at its
  line, ``stop_margin_m`` past it at most: braking that carries it into the box is slowing
  down for the turn);
- right of way (``_signals.movement_right_of_way`` at its stop line, or now in the box) does
  not keep them apart: a movement red or amber at arrival whose driver can still stop
  (``_signals.STOP_DECEL_MPS2``, or already braking that hard) holds its vehicle back, and
  two movements on protected green never meet (the signal program separates them). A
  red-light runner stays a party. Where the MAP says a movement must give way (a minor
  road, a yield or stop sign: ``_signals.GIVE_WAY_SIGN``) to one that need not, or a minor
  road's movement (``_signals.minor_road``) meets a major road's give-way turn, or, at a
  junction without signals where the MAP ranks neither movement (both unmarked, both minor
  roads, or both a major road's give-way turns), the law has it give way
  (``_signals.equal_standing_yields``: a turn to a straight movement, a right turn to the
  opposite left turn, otherwise to the one from its right), its vehicle
  is held back like one facing red while it can still stop at its stop line braking at
  most ``give_way_decel_mps2`` (comfortable braking: a driver who means to give way slows
  down in time), or is braking already and can still stop there braking firmly
  (``_signals.STOP_DECEL_MPS2``: it is slowing down to give way); LTA keeps its turner a party
  (``hold_ego_give_way``: the turner is the one it tells whether the gap is safe). A
  permissive green means go if clear: against a movement that is not permissive
  too (a protected green, or a runner), its vehicle is held the same way while it can
  still stop comfortably before the conflict zone (it may wait in the box); of two
  permissive movements, a turn gives way to a straight one and a right turn to the
  opposite left (``_signals.turning_yields``, art. 51 (7) for signals without arrows).

The probability of a pair's conflict is the sum, over its conflicting movement pairs, of the
product of the two movements' probabilities (``Movements.weigh``); it must reach
``min_probability``, or ``min_probability_perceived`` (when set) if a vehicle whose odds
are in it is known only from roadside perception (``Flag.PERCEPTION_ONLY``: no indicator
state, so its odds are its lane's, not its driver's). ``ego_turns``/``other_turns``
restrict which movements of each party count (LTA: a left turn against a through or
right-turning movement); with ``ego_turns`` the probability is conditional on the ego
making one of them (LTA tells a driver who is about to turn whether turning now is safe),
and ``ego_min_speed_mps`` (default 0: LTA times a turner by its own speed since 1a0bac6, a
creeping driver is not about to take the turn) times the ego at no less than that speed. With ``pull_away_anywhere`` (ICW) a vehicle pulling away
gains speed up to turning speed before its stop line too, straight on as well
(``travel_s``); without it (LTA) only a turner in the box does. With ``crossing_only`` (ICW)
only zones where the two paths cross count, not two movements merging into one egress lane
(``merging``: LTA keeps those, a left turner against an oncoming right turner). With
``ego_yield_decel_mps2`` (LTA) an ego at or below turning speed that brakes and can stop short
of the zone braking at most that hard is giving way (``_yields``), not taking the gap.
With ``ego_pull_away_either`` (LTA) an ego pulling away before its line (at least
``PULLING_AWAY_MPS2``, below turning speed) is a party only if the conflict holds both
timed at its speed now (it may stop in the box to give way, so gaining speed is not
certain) and gaining speed up to turning speed (it takes the gap as a driver does, at the
acceleration it shows): timed at the crawl alone, it occupied the zone for seconds and met
oncoming cars 3-4 s away that it cleared by as long (demo_district, 5 seeds: 10 of 32
false LTA warnings); timed gaining speed alone, it met cars it waited for in the box.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import F_PERCEPTION_ONLY
from v2xcloud.apps._signals import (
    GIVE_WAY_SIGN,
    GO_PERMITTED,
    GO_PROTECTED,
    MIN_BRAKING_MPS2,
    NO_SIGNAL,
    STOP,
    can_stop,
    equal_standing_yields,
    may_stop,
    minor_road,
    movement_right_of_way,
    turning_yields,
)
from v2xcloud.twin import SceneView
from v2xcloud.twin.movements import (
    STRAIGHT,
    Candidates,
    LaneMemory,
    Movements,
    MovementWeights,
)

__all__ = [
    "NO_CONFLICTS",
    "PERCEIVED_MIN_PROBABILITY",
    "ConflictRule",
    "Conflicts",
    "expected_to_give_way",
    "merging",
    "movement_conflicts",
    "occupancy_s",
    "stays_in_lane",
    "travel_s",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: the summed probability of conflicting movements that ICW and LTA require when a vehicle
#: whose odds are in it is known only from roadside perception (``ConflictRule``'s
#: ``min_probability_perceived``): its odds are its lane's, not its driver's (an RSM carries
#: no indicator), so a warning against it must be likely without one (issue 15's fifteenth
#: session: most false LTA warnings against such cars were 0.5-0.75 likely)
PERCEIVED_MIN_PROBABILITY = 0.75


class ConflictRule(msgspec.Struct, frozen=True, kw_only=True):
    """What makes two movements' vehicles a conflict (module docstring)."""

    weights: MovementWeights = MovementWeights()
    pet_s: float = 0.0
    window_s: float = 3.0
    stop_margin_m: float = 1.0
    min_probability: float = 0.5
    min_probability_perceived: float | None = None
    ego_turns: frozenset[int] | None = None
    other_turns: frozenset[int] | None = None
    ego_min_speed_mps: float = 0.0
    give_way_decel_mps2: float = 3.0
    hold_ego_give_way: bool = True
    pull_away_anywhere: bool = False
    crossing_only: bool = False
    ego_yield_decel_mps2: float | None = None
    ego_pull_away_either: bool = False
    ego_slows_to_turn: bool = False


class Conflicts(NamedTuple):
    """Conflicting pairs (rows ``a``, ``b``): arrival times at the conflict zone, PET, and the
    conflict point (local x, y) of the most likely pair of movements."""

    a: IntArray
    b: IntArray
    arrive_a: FloatArray
    arrive_b: FloatArray
    pet: FloatArray
    x: FloatArray
    y: FloatArray

    def select(self, keep: npt.NDArray[np.bool_]) -> Conflicts:
        """The pairs where ``keep`` is True."""
        return Conflicts(
            self.a[keep], self.b[keep], self.arrive_a[keep], self.arrive_b[keep],
            self.pet[keep], self.x[keep], self.y[keep],
        )  # fmt: skip


_I, _F = np.empty(0, dtype=np.int64), np.empty(0)
_FAR_MARGIN_S = 2.0  # beyond the window: a conflict zone's occupancy and the box's entry
NO_CONFLICTS = Conflicts(_I, _I, _F, _F, _F, _F, _F)


def occupancy_s(view: SceneView, a: IntArray, b: IntArray) -> FloatArray:
    """Half the time ``a`` spends in the conflict zone: (own length + b's width) / 2 / speed."""
    return (view.length_m[a] + view.width_m[b]) / 2.0 / np.maximum(view.speed_mps[a], 0.1)


def expected_to_give_way(
    view: SceneView,
    rows: IntArray,
    dist_m: FloatArray,
    decel_mps2: float,
    *,
    reaction_s: float = 0.0,
) -> npt.NDArray[np.bool_]:
    """Whether a driver who must give way is expected to within ``dist_m``: it may stop
    there braking comfortably (``decel_mps2``), after ``reaction_s`` at its speed unless it
    brakes already (VRUCW: a warning must leave the driver time to react; ICW and LTA: 0),
    or it is braking already (``_signals.MIN_BRAKING_MPS2``: slowing down to give way) and
    may stop there braking firmly (``_signals.STOP_DECEL_MPS2``, as for a red light); "may"
    within one σ of the tracker's estimates (``_signals.may_stop``, as a red light's hold).
    unseen_crossing_priority:
    a minor-road driver 25 m before its line at 13.5 m/s (3.6 m/s² to stop), braking at 3.5
    m/s² by the truth and 2.4 m/s² by the radar track's lagging estimate, was warned; and
    (fourteenth session) a roadside-seen one 5.1 m before it at 5.5 m/s, 3.01 m/s² to stop."""
    accel = np.nan_to_num(view.accel_mps2[rows], nan=0.0)
    braking = accel <= -MIN_BRAKING_MPS2
    react_m = np.where(braking, 0.0, view.speed_mps[rows] * reaction_s)
    comfortable = may_stop(view, rows, dist_m - react_m, decel_mps2)
    return comfortable | (braking & may_stop(view, rows, dist_m))


def stays_in_lane(
    view: SceneView, movements: Movements, rows: IntArray, t_point: FloatArray, margin_m: float
) -> npt.NDArray[np.bool_]:
    """Whether each vehicle is on an ingress lane of the MAP and, at its speed, reaches a point
    ``t_point`` s ahead more than ``margin_m`` before its stop line: it follows its lane
    there, so a path predicted without the MAP (a straight line, a constant turn) crossing it
    at that point meets a road the MAP says has no junction on it (the MAP lists them)."""
    lane = view.lane[rows]
    ingress = (lane >= 0) & (movements.junction_of_lane[np.maximum(lane, 0)] >= 0)
    point_m = view.speed_mps[rows] * t_point
    return ingress & (point_m < view.to_stop_m[rows] - margin_m)


def merging(movements: Movements, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Per movement pair (a[k], b[k]): whether the two paths end in one egress lane (their
    ends, the first ``Movements.egress_m`` of the egress lane, within ``conflict_m`` of each
    other): their conflict zone is a merge, where one joins the other's lane, not a point
    where the paths cross. SUMO's conflict types tell the two apart the same way (foe links
    into one lane merge); the bench scores a merging conflict as BSW/LCW's, never ICW's."""
    if a.size == 0:
        return np.zeros(0, dtype=bool)
    paths, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ends = np.array([movements.paths[p].xy[-1] for p in paths.tolist()], dtype=np.float64)
    ea, eb = ends[inverse[: a.size]], ends[inverse[a.size :]]
    return np.hypot(*(ea - eb).T) <= movements.conflict_m


def _stops_within(
    view: SceneView, rows: IntArray, dist_m: FloatArray, margin_m: float
) -> npt.NDArray[np.bool_]:
    """Whether each vehicle's current braking stops it within ``dist_m`` less ``margin_m``."""
    speed, accel = view.speed_mps[rows], view.accel_mps2[rows]
    braking = np.isfinite(accel) & (accel <= -MIN_BRAKING_MPS2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stop_m = np.where(braking, speed * speed / (2.0 * -accel), np.inf)
    return braking & (stop_m <= dist_m - margin_m)


def _yields(
    view: SceneView, rows: IntArray, dist_m: FloatArray, turn_speed_mps: float, decel_mps2: float
) -> npt.NDArray[np.bool_]:
    """Whether each ego (``ConflictRule.ego_yield_decel_mps2``) is giving way: at or below
    turning speed (``MovementWeights.turn_speed_mps``: slower than it, braking is no longer
    slowing down for the turn) it brakes (``_signals.MIN_BRAKING_MPS2``) and can stop within
    ``dist_m`` braking at most ``decel_mps2`` (LTA: firm braking, as
    ``expected_to_give_way``'s braking driver: the braking she applies rises as her stop
    comes). A turner that would need
    harder braking to stop short stays a party. demo_district (replicate 2): 8 of 26 false
    LTA warnings were turners at 2-4 m/s braking at 3.5 m/s² to their waiting place 3.0-3.1
    m before the conflict point, their constant braking 0.2-0.4 m short of stopping 1 m
    before the zone at comfortable braking; SUMO's drivers brake harder as the stop comes."""
    speed = view.speed_mps[rows]
    accel = np.nan_to_num(view.accel_mps2[rows], nan=0.0)
    braking = (accel <= -MIN_BRAKING_MPS2) & (speed <= turn_speed_mps)
    return braking & (dist_m > 0) & can_stop(view, rows, dist_m, decel_mps2)


def travel_s(
    speed_mps: FloatArray,
    dist_m: FloatArray,
    line_m: FloatArray,
    turn_speed_mps: FloatArray,
    decel_mps2: float,
    accel_mps2: FloatArray | None = None,
    *,
    gain_to_mps: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(time to cover ``dist_m``, speed there) for a vehicle at ``speed_mps`` that must be at
    no more than ``turn_speed_mps`` when it enters the junction box ``line_m`` ahead (0: in
    it): it keeps its speed as long as it can, then brakes at ``decel_mps2`` down to turning
    speed (or from now, when it is too fast for that already), and turns at that speed. With
    ``turn_speed_mps`` at least the speed (straight on), simply ``dist / speed``. The
    earliest arrival a driver making that turn can have.

    A turner in the box (``line_m`` 0) below turning speed that is pulling away
    (``accel_mps2`` at least ``PULLING_AWAY_MPS2``) gains speed at that rate (at most
    ``decel_mps2``) up to turning speed: timed at the crawl it starts from, a turner leaving
    its waiting spot in the box was still in the conflict zone when the oncoming car came,
    by the prediction, and was warned of gaps it cleared. Before its line a turner pulling
    away from the queue at green may still stop in the box to give way: timed so, such
    turners were warned of gaps they never took (demo_district: LTA's false alarms 40 -> 54
    when they gained speed too). With ``gain_to_mps`` (ICW: ``ConflictRule.pull_away_anywhere``)
    a vehicle pulling away gains speed before its line too, straight on as well, up to that
    speed (at most its turning speed on a turn)."""
    if accel_mps2 is not None:
        return _pulling_away(
            speed_mps, dist_m, line_m, turn_speed_mps, decel_mps2, accel_mps2, gain_to_mps
        )
    v0 = speed_mps
    vt = np.minimum(turn_speed_mps, v0)
    brake_m = (v0 * v0 - vt * vt) / (2.0 * decel_mps2)
    cruise_m = np.clip(line_m - brake_m, 0.0, None)
    d = np.maximum(dist_m, 0.0)
    # phase 1: cruise at v0
    t = np.minimum(d, cruise_m) / v0
    left = d - np.minimum(d, cruise_m)
    # phase 2: brake from v0 towards vt over brake_m
    in_brake = np.minimum(left, brake_m)
    v_end = np.sqrt(np.maximum(v0 * v0 - 2.0 * decel_mps2 * in_brake, vt * vt))
    t = t + np.where(brake_m > 0, (v0 - v_end) / decel_mps2, 0.0)
    left = left - in_brake
    # phase 3: at turning speed
    t = t + left / vt
    passed = dist_m < 0  # past the point already: how long ago, at its speed
    t = np.where(passed, dist_m / np.maximum(v0, 0.1), t)
    return t, np.where(passed, v0, np.where(left > 0, vt, v_end))


#: a turner below turning speed accelerating at least this hard is pulling away (m/s²)
PULLING_AWAY_MPS2 = 0.5


def _pulling_away(
    speed_mps: FloatArray,
    dist_m: FloatArray,
    line_m: FloatArray,
    turn_speed_mps: FloatArray,
    decel_mps2: float,
    accel_mps2: FloatArray,
    gain_to_mps: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """``travel_s`` with the pulling-away turners accelerating (its docstring); with
    ``gain_to_mps``, every vehicle pulling away, before its line too, up to that speed."""
    t, w = travel_s(speed_mps, dist_m, line_m, turn_speed_mps, decel_mps2)
    v0, vt = speed_mps, turn_speed_mps
    a = np.minimum(np.where(np.isfinite(accel_mps2), accel_mps2, 0.0), decel_mps2)
    if gain_to_mps is not None:
        where = np.ones(v0.shape, dtype=bool)
        vt = np.minimum(vt, gain_to_mps)
    else:  # before its line, it may still stop in the box to give way
        where = line_m <= 0.0
    up = where & np.isfinite(vt) & (v0 < vt) & (a >= PULLING_AWAY_MPS2) & (dist_m >= 0)
    if not up.any():
        return t, w
    a = np.where(up, a, 1.0)
    vt = np.where(up, vt, v0)
    d = np.maximum(dist_m, 0.0)
    gain_m = (vt * vt - v0 * v0) / (2.0 * a)
    v_end = np.sqrt(v0 * v0 + 2.0 * a * np.minimum(d, gain_m))
    t_up = (v_end - v0) / a + np.maximum(d - gain_m, 0.0) / np.maximum(vt, 0.1)
    return np.where(up, t_up, t), np.where(up, v_end, w)


def _timing(
    view: SceneView,
    a: IntArray,
    b: IntArray,
    to_a_m: FloatArray,
    to_b_m: FloatArray,
    a_min_speed_mps: float = 0.0,
    *,
    profile: _Profile | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(arrival of a, arrival of b, PET) at the conflict point at current speeds (a's at
    least ``a_min_speed_mps``); with ``profile``, a vehicle on a turning movement slows to
    turning speed at the box, and one below it pulling away gains speed (``travel_s``)."""
    va = np.maximum(view.speed_mps[a], max(a_min_speed_mps, 0.1))
    vb = np.maximum(view.speed_mps[b], 0.1)
    if profile is None:
        t_a, t_b, wa, wb = to_a_m / va, to_b_m / vb, va, vb
    else:
        acc, line_a, turn_a, decel = view.accel_mps2, profile.line_a, profile.turn_a, profile.decel
        t_a, wa = travel_s(va, to_a_m, line_a, turn_a, decel, acc[a], gain_to_mps=profile.gain_a)
        t_b, wb = travel_s(
            vb, to_b_m, profile.line_b, profile.turn_b, decel, acc[b], gain_to_mps=profile.gain_b
        )
    half_a = (view.length_m[a] + view.width_m[b]) / 2.0 / np.maximum(wa, 0.1)
    half_b = (view.length_m[b] + view.width_m[a]) / 2.0 / np.maximum(wb, 0.1)
    pet = np.maximum(t_b - half_b - (t_a + half_a), t_a - half_a - (t_b + half_b))
    ahead = (t_a + half_a > 0) & (t_b + half_b > 0)
    pet = np.where(ahead, pet, np.inf)  # one has passed the point already
    return np.maximum(t_a - half_a, 0.0), np.maximum(t_b - half_b, 0.0), pet


class _Profile(NamedTuple):
    """Speed profiles of a pair of candidate movements (``travel_s``): distance to the box
    and turning speed (``inf`` straight on) of each, the braking to reach it, and up to what
    speed each gains speed when it pulls away before its line (``travel_s``'s
    ``gain_to_mps``; ``None``: only in the box)."""

    line_a: FloatArray
    line_b: FloatArray
    turn_a: FloatArray
    turn_b: FloatArray
    decel: float
    gain_a: float | None = None
    gain_b: float | None = None


def _profile(
    movements: Movements,
    path_a: IntArray,
    path_b: IntArray,
    here_a: FloatArray,
    here_b: FloatArray,
    weights: MovementWeights,
    pull_away_anywhere: bool = False,
) -> _Profile:
    def turn_speed(path: IntArray) -> FloatArray:
        straight = movements.turns(path) == STRAIGHT
        return np.where(straight, np.inf, weights.turn_speed_mps)

    gain = weights.turn_speed_mps if pull_away_anywhere else None
    return _Profile(
        line_a=np.maximum(-here_a, 0.0),
        line_b=np.maximum(-here_b, 0.0),
        turn_a=turn_speed(path_a),
        turn_b=turn_speed(path_b),
        decel=weights.comfortable_decel_mps2,
        gain_a=gain,
        gain_b=gain,
    )


def _combination_conflicts(
    view: SceneView,
    movements: Movements,
    cand: Candidates,
    a: IntArray,
    b: IntArray,
    ia: IntArray,
    ib: IntArray,
    rule: ConflictRule,
) -> npt.NDArray[np.bool_]:
    """Per combination (vehicle a on candidate ia, b on ib): a conflict by the rule."""
    path_a, path_b = cand.path[ia], cand.path[ib]
    sa, sb = movements.conflict_s(path_a, path_b)
    meet = np.isfinite(sa) & np.isfinite(sb)
    if rule.ego_turns is not None:
        meet &= np.isin(movements.turns(path_a), list(rule.ego_turns))
    if rule.other_turns is not None:
        meet &= np.isin(movements.turns(path_b), list(rule.other_turns))
    if rule.crossing_only and meet.any():  # merging into one egress lane is no crossing
        m = np.flatnonzero(meet)
        meet[m] = ~merging(movements, path_a[m], path_b[m])
    out = np.zeros(a.size, dtype=bool)
    m = np.flatnonzero(meet)
    if m.size == 0:
        return out
    a, b, ia, ib = a[m], b[m], ia[m], ib[m]
    path_a, path_b = path_a[m], path_b[m]
    here_a, here_b = cand.s_m[ia], cand.s_m[ib]
    centre = movements.conflict_m  # the zone opens this far before the paths' closest point
    to_a, to_b = sa[m] + centre - here_a, sb[m] + centre - here_b
    profile = _profile(
        movements, path_a, path_b, here_a, here_b, rule.weights, rule.pull_away_anywhere
    )
    arrive_a, arrive_b, pet = _timing(
        view, a, b, to_a, to_b, rule.ego_min_speed_mps, profile=profile
    )
    ok = (pet <= rule.pet_s) & (np.minimum(arrive_a, arrive_b) <= rule.window_s)
    if rule.ego_pull_away_either and profile.gain_a is None:
        # an ego pulling away before its line may take the turn gaining speed or stop in the
        # box: a conflict both ways (``ConflictRule.ego_pull_away_either``)
        gained = profile._replace(gain_a=rule.weights.turn_speed_mps)
        arrive_a, arrive_b, pet = _timing(
            view, a, b, to_a, to_b, rule.ego_min_speed_mps, profile=gained
        )
        ok &= (pet <= rule.pet_s) & (np.minimum(arrive_a, arrive_b) <= rule.window_s)
    short_a = sa[m] - here_a - rule.stop_margin_m  # where a stop is short of the zone
    if rule.ego_slows_to_turn:  # above turning speed only a stop at its line is one
        fast = view.speed_mps[a] > rule.weights.turn_speed_mps
        short_a = np.where(fast, np.minimum(short_a, rule.stop_margin_m - here_a), short_a)
    ok &= ~_stops_within(view, a, short_a, 0.0)
    ok &= ~_stops_within(view, b, sb[m] - here_b, rule.stop_margin_m)
    if rule.ego_yield_decel_mps2 is not None:
        zone_m = sa[m] - here_a - rule.stop_margin_m
        turn_mps = rule.weights.turn_speed_mps
        ok &= ~_yields(view, a, zone_m, turn_mps, rule.ego_yield_decel_mps2)
    if ok.any():  # right of way at the stop line (in the box: the light now)
        va = np.maximum(view.speed_mps[a], 0.1)
        vb = np.maximum(view.speed_mps[b], 0.1)
        row_a = movement_right_of_way(view, movements, path_a, np.maximum(-here_a, 0.0) / va)
        row_b = movement_right_of_way(view, movements, path_b, np.maximum(-here_b, 0.0) / vb)
        held_a = (here_a < 0) & (row_a == STOP) & may_stop(view, a, -here_a)
        held_b = (here_b < 0) & (row_b == STOP) & may_stop(view, b, -here_b)
        # priority without signals: a give-way movement against one that need not give way
        yield_a = (row_a == GIVE_WAY_SIGN) & (row_b != GIVE_WAY_SIGN) & (here_a < 0)
        yield_b = (row_b == GIVE_WAY_SIGN) & (row_a != GIVE_WAY_SIGN) & (here_b < 0)
        equal = (row_a == NO_SIGNAL) & (row_b == NO_SIGNAL)
        both = np.flatnonzero((row_a == GIVE_WAY_SIGN) & (row_b == GIVE_WAY_SIGN))
        if both.size:  # a minor road also gives way to a major road's turn across traffic
            minor_a = minor_road(view, movements, path_a[both])
            minor_b = minor_road(view, movements, path_b[both])
            yield_a[both] |= minor_a & ~minor_b & (here_a[both] < 0)
            yield_b[both] |= minor_b & ~minor_a & (here_b[both] < 0)
            equal[both] = minor_a == minor_b
        # neither has priority by the MAP, and neither has a signal group: art. 52's rules
        equal &= ~movements.signalled(path_a) & ~movements.signalled(path_b)
        eq = np.flatnonzero(equal)
        if eq.size:
            eq_a, eq_b = equal_standing_yields(movements, path_a[eq], path_b[eq])
            yield_a[eq] |= eq_a & (here_a[eq] < 0)
            yield_b[eq] |= eq_b & (here_b[eq] < 0)
        if not rule.hold_ego_give_way:
            yield_a[:] = False
        decel = rule.give_way_decel_mps2
        held_a |= yield_a & expected_to_give_way(view, a, -here_a, decel)
        held_b |= yield_b & expected_to_give_way(view, b, -here_b, decel)
        # a permissive green says go if clear: it gives way to a crossing movement
        # that is not permissive too (a protected green, or one that will not stop for its
        # red), before the conflict zone (it may wait in the box), like a give-way movement
        give_a = (row_a == GO_PERMITTED) & (row_b != GO_PERMITTED)
        give_b = (row_b == GO_PERMITTED) & (row_a != GO_PERMITTED)
        permissive = np.flatnonzero((row_a == GO_PERMITTED) & (row_b == GO_PERMITTED))
        if permissive.size:  # no arrow for either: a turn gives way (``turning_yields``)
            turn_a, turn_b = turning_yields(movements, path_a[permissive], path_b[permissive])
            give_a[permissive] |= turn_a
            give_b[permissive] |= turn_b
        if not rule.hold_ego_give_way:
            give_a[:] = False
        zone_a = sa[m] - here_a - rule.stop_margin_m
        zone_b = sb[m] - here_b - rule.stop_margin_m
        held_a |= give_a & expected_to_give_way(view, a, zone_a, decel)
        held_b |= give_b & expected_to_give_way(view, b, zone_b, decel)
        ok &= ~(held_a | held_b)
        ok &= ~((row_a == GO_PROTECTED) & (row_b == GO_PROTECTED))
    out[m] = ok
    return out


def movement_conflicts(
    view: SceneView,
    movements: Movements,
    memory: LaneMemory | None,
    a: IntArray,
    b: IntArray,
    rule: ConflictRule,
) -> tuple[npt.NDArray[np.bool_], Conflicts]:
    """For pairs (a[k], b[k]): whether both are on movements (then the MAP decides them:
    pairs at different junctions never conflict), and the pairs in conflict by ``rule``."""
    on_map = np.zeros(a.size, dtype=bool)
    rows, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    # a vehicle on an ingress lane too far from its stop line to reach any conflict zone (all
    # lie past the line) within the window is on its junction's movements but in no conflict
    # now: it needs no locating (most of them in dense traffic)
    lane, to_stop = view.lane[rows], view.to_stop_m[rows]
    lane_junction = np.where(lane >= 0, movements.junction_of_lane[np.maximum(lane, 0)], -1)
    speed = np.maximum(view.speed_mps[rows], max(rule.ego_min_speed_mps, 0.1))
    far = (lane_junction >= 0) & (to_stop > speed * (rule.window_s + _FAR_MARGIN_S))
    near = np.flatnonzero(~far)
    cand = movements.locate(view, rows[near], memory)
    cand = cand._replace(query=near[cand.query])  # index into rows
    junction = np.where(far, lane_junction, -1)
    junction[cand.query] = movements.junctions(cand.path)
    qa, qb = inverse[: a.size], inverse[a.size :]
    on_map = (junction[qa] >= 0) & (junction[qb] >= 0)
    k = np.flatnonzero(on_map & (junction[qa] == junction[qb]) & ~far[qa] & ~far[qb])
    if k.size == 0 or cand.path.size == 0:
        return on_map, NO_CONFLICTS
    weight = movements.weigh(view, rows, cand, rule.weights, memory)
    weight_a = weight
    if rule.ego_turns is not None:  # given that the ego makes one of those movements
        mine = np.isin(movements.turns(cand.path), list(rule.ego_turns))
        total = np.zeros(rows.size)
        np.add.at(total, cand.query, np.where(mine, weight, 0.0))
        weight_a = np.where(mine, weight / np.maximum(total[cand.query], 1e-12), 0.0)
    order = np.argsort(cand.query, kind="stable")
    start = np.searchsorted(cand.query[order], np.arange(rows.size))
    count = np.bincount(cand.query, minlength=rows.size)
    # every candidate movement of a against every one of b, for the pairs k
    na, nb = count[qa[k]], count[qb[k]]
    combos = na * nb
    pair = np.repeat(np.arange(k.size), combos)
    j = np.arange(int(combos.sum())) - np.repeat(np.cumsum(combos) - combos, combos)
    ia = order[start[qa[k]][pair] + j // nb[pair]]
    ib = order[start[qb[k]][pair] + j % nb[pair]]
    found = _combination_conflicts(view, movements, cand, a[k][pair], b[k][pair], ia, ib, rule)
    p = weight_a[ia] * weight[ib] * found
    likely = np.zeros(k.size)
    np.add.at(likely, pair, p)
    need = np.full(k.size, rule.min_probability)
    if rule.min_probability_perceived is not None:
        # with ego_turns the probability is conditional on the ego's movement: only the
        # other's odds are in it
        flags = view.flags[b[k]] | (view.flags[a[k]] if rule.ego_turns is None else 0)
        perceived = (flags & F_PERCEPTION_ONLY) != 0
        need[perceived] = rule.min_probability_perceived
    keep = np.flatnonzero(likely >= need)
    if keep.size == 0:
        return on_map, NO_CONFLICTS
    by = np.lexsort((-p, pair))  # the most likely conflicting combination of each pair
    first = np.ones(by.size, dtype=bool)
    first[1:] = pair[by][1:] != pair[by][:-1]
    best = np.full(k.size, -1, dtype=np.int64)
    best[pair[by][first]] = by[first]
    c = best[keep]
    ea, eb = a[k[keep]], b[k[keep]]
    path_a, path_b = cand.path[ia[c]], cand.path[ib[c]]
    sa, sb = movements.conflict_s(path_a, path_b)
    sa, sb = sa + movements.conflict_m, sb + movements.conflict_m
    here_a, here_b = cand.s_m[ia[c]], cand.s_m[ib[c]]
    arrive_a, arrive_b, pet = _timing(
        view, ea, eb, sa - here_a, sb - here_b, rule.ego_min_speed_mps,
        profile=_profile(
            movements, path_a, path_b, here_a, here_b, rule.weights, rule.pull_away_anywhere
        ),
    )  # fmt: skip
    points = [
        movements.paths[q].point_at(s) for q, s in zip(path_a.tolist(), sa.tolist(), strict=True)
    ]
    x = np.array([pt[0] for pt in points], dtype=np.float64)
    y = np.array([pt[1] for pt in points], dtype=np.float64)
    return on_map, Conflicts(ea, eb, arrive_a, arrive_b, pet, x, y)
