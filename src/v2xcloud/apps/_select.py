"""Pair selections several applications share (same lane ahead, vehicles only, ...).

What a vehicle is, once for every application: a **motor vehicle** is a participant of kind
``VEHICLE`` or ``UNKNOWN`` (``motor``/``is_motor``, ``kind <= K_MOTOR_MAX``). A roadside sensor
that cannot classify an object reports it as unknown; it is treated as a vehicle, the
conservative choice both for warnings about it and for warnings to it. Pedestrians, cyclists
and RSUs are not. What moving means is ``model.thresholds`` (``MOVING_MPS``, ``STANDSTILL_MPS``).
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import numpy.typing as npt

from v2xcloud.geo import LaneMap
from v2xcloud.model import AdvisoryLevel
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import Flag, Kind, PairTable, SceneView

__all__ = [
    "CONFIDENCE_SIGMA",
    "JUNCTION_BOX_M",
    "K_MOTOR_MAX",
    "OPPOSED_DEG",
    "PATH_CONFIRM_TICKS",
    "SHARED_RADIUS_M",
    "TURNING_DPS",
    "WARN_MIN_SPEED_MPS",
    "first_per_ego",
    "following_in_lane",
    "gap_m",
    "in_junction_box",
    "in_lane_ahead",
    "is_motor",
    "is_turning",
    "lane_links",
    "motor",
    "moving_motor_directed",
    "moving_motor_pairs",
    "path_heading_cos",
    "path_lateral_m",
    "same_way",
    "toward",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# plain ints: numpy probes operands for array attributes, which is slow on enum members
INFO, WARNING, IMMINENT = (
    int(x) for x in (AdvisoryLevel.INFO, AdvisoryLevel.WARNING, AdvisoryLevel.IMMINENT)
)
K_UNKNOWN, K_VEHICLE, K_CYCLIST, K_PEDESTRIAN = (
    int(k) for k in (Kind.UNKNOWN, Kind.VEHICLE, Kind.CYCLIST, Kind.PEDESTRIAN)
)
F_LEFT_SIGNAL, F_RIGHT_SIGNAL = int(Flag.LEFT_SIGNAL), int(Flag.RIGHT_SIGNAL)
F_HARD_BRAKING, F_EMERGENCY = int(Flag.HARD_BRAKING), int(Flag.EMERGENCY)
F_HAZARD_LIGHTS, F_DISABLED = int(Flag.HAZARD_LIGHTS), int(Flag.DISABLED)
F_ABS, F_TRACTION, F_STABILITY = int(Flag.ABS), int(Flag.TRACTION), int(Flag.STABILITY)
F_PERCEPTION_ONLY = int(Flag.PERCEPTION_ONLY)  # known only from roadside perception

#: kinds at or below this code are motor vehicles (UNKNOWN 0, VEHICLE 1): see the docstring
K_MOTOR_MAX = K_VEHICLE
#: the radius of the candidate pairs FCW, ICW, BSW/LCW and the DNPW head-on check share
SHARED_RADIUS_M = 70.0
#: an ego slower than this gets no collision warning (FCW, EBW, ICW, BSW/LCW, RLVW, VRUCW): at
#: walking pace the driver is in control; each app's ``min_speed_mps`` defaults to it
WARN_MIN_SPEED_MPS = 2.0
#: how many standard deviations (the scene tracker's ``*_sd_*`` columns) a kinematic estimate
#: must clear a threshold by before an application acts on it: the warning must still hold
#: with the estimate moved one σ toward "no hazard" (≈ 84 % one-sided for a Gaussian
#: error). One σ, not two: a BSM's measured acceleration has σ ≈ 0.3 m/s², so a real hard
#: brake clears it within a report or two; a roadside track's differentiated acceleration
#: (σ ≈ 1 m/s²) must be clearly hard for several reports
CONFIDENCE_SIGMA = 1.0
#: a vehicle whose yaw rate is at least this (deg/s, either way) is turning: its heading is not
#: its path. A junction turn runs at 20-40 deg/s (5-8 m/s on a 10-20 m radius); a lane change
#: peaks around 3-6 deg/s and must not count (at 14 m/s, 8 deg/s is a 100 m radius)
TURNING_DPS = 8.0
#: the apps that predict two paths seconds ahead across a junction or a crossing (ICW, LTA,
#: VRUCW) issue a new warning only once the conflict holds on this many ticks in a row
#: (``AppConfig.confirm_ticks``; their windows look as much further ahead, ``lead_pad_s``):
#: a conflict the next tick's prediction no longer supports is the prediction's noise. Most
#: false warnings of the three lasted under a second (issue 15's seventeenth session; library
#: and unseen files, 5 seeds each: false ICW 15 -> 10 and 52 -> 39, LTA 48 -> 40 and 146 ->
#: 107, VRUCW 64 -> 54 and 121 -> 101; episodes missed in addition: LTA 1 of 91 and 2 of 91,
#: ICW 0 of 50 and 2 of 9, VRUCW 0 of 82 and 1 of 112)
PATH_CONFIRM_TICKS = 2
#: headings more than this far apart face each other (opposite lanes, or a car across the
#: lane facing the ego); the derived yaw rate of a car entering a turn lags (a 0.5 s history)
#: so its path heading is underestimated by 20-30 degrees then
OPPOSED_DEG = 120.0
#: a road user on no MAP lane within this of a stop line is in a junction box (``in_junction_box``)
JUNCTION_BOX_M = 25.0


class _LaneKinds:
    """Per MAP lane: its link (an integer shared by the lanes of one link) and its stop line
    (local x, y), computed once per ``LaneMap``."""

    def __init__(self, lanes: LaneMap) -> None:
        links: dict[tuple[object, object], int] = {}
        self.link = np.array(
            [links.setdefault((i.upstream_node, i.node), len(links)) for i in lanes.lanes],
            dtype=np.int64,
        )
        ends = [i.lane.points[-1] for i in lanes.lanes if i.lane.points]
        x, y = lanes.frame.to_local([p[0] for p in ends], [p[1] for p in ends])
        self.stop_xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])


_KINDS: weakref.WeakKeyDictionary[LaneMap, _LaneKinds] = weakref.WeakKeyDictionary()


def _kinds(lanes: LaneMap) -> _LaneKinds:
    found = _KINDS.get(lanes)
    if found is None:
        found = _KINDS[lanes] = _LaneKinds(lanes)
    return found


def lane_links(lanes: LaneMap) -> npt.NDArray[np.int64]:
    """Per MAP lane: its link, an integer shared by the lanes of one link (same upstream node
    and node)."""
    return _kinds(lanes).link


def in_junction_box(
    view: SceneView, rows: npt.NDArray[np.int64], *, within_m: float = JUNCTION_BOX_M
) -> BoolArray:
    """Rows on no MAP lane within ``within_m`` of a stop line: in a junction box (without a
    MAP nobody is). Rows × stop lines: ask it for the few rows that need it."""
    out = np.zeros(rows.size, dtype=bool)
    if view.lanes is None or rows.size == 0:
        return out
    stops = _kinds(view.lanes).stop_xy
    loose = np.flatnonzero(view.lane[rows] < 0)
    if loose.size == 0 or stops.size == 0:
        return out
    r = rows[loose]
    d2 = (view.x_m[r, None] - stops[None, :, 0]) ** 2 + (view.y_m[r, None] - stops[None, :, 1]) ** 2
    out[loose] = d2.min(axis=1) <= within_m**2
    return out


def motor(view: SceneView) -> BoolArray:
    """Per row: a motor vehicle (or an unknown object large enough to be treated as such)."""
    return view.kind <= K_MOTOR_MAX


def is_motor(view: SceneView, rows: npt.NDArray[np.int64]) -> BoolArray:
    """Rows that are motor vehicles (or unknown objects large enough to be treated as such)."""
    return view.kind[rows] <= K_MOTOR_MAX  # UNKNOWN (0) or VEHICLE (1)


def is_turning(view: SceneView, rows: npt.NDArray[np.int64]) -> BoolArray:
    """Whether each of ``rows`` turns (``TURNING_DPS``) while moving."""
    return (np.abs(view.yaw_rate_dps[rows]) >= TURNING_DPS) & (view.speed_mps[rows] >= MOVING_MPS)


def _path_curvature(pairs: PairTable) -> FloatArray:
    """Per pair: the ego's path curvature (1/m, positive turning right), 0 unless it turns."""
    view = pairs.view
    e = pairs.ego
    turning = is_turning(view, e)
    return np.where(
        turning, np.radians(view.yaw_rate_dps[e]) / np.maximum(view.speed_mps[e], MOVING_MPS), 0.0
    )


def path_lateral_m(pairs: PairTable) -> FloatArray:
    """The other's offset to the right of the ego's *path*: of its heading line when it drives
    straight, of its arc (constant turn rate, curvature yaw rate / speed) when it turns. A
    turning ego's heading line sweeps across queues and parked cars its path never meets."""
    if not is_turning(pairs.view, pairs.ego).any():
        return pairs.lateral_m
    along = np.maximum(pairs.along_m, 0.0)
    return pairs.lateral_m - 0.5 * _path_curvature(pairs) * along * along


def path_heading_cos(pairs: PairTable) -> FloatArray:
    """Cosine of the angle between the other's heading and the ego's path where the other is
    (``heading_cos`` for an ego driving straight; its heading turned by curvature × distance
    along its arc when it turns)."""
    view = pairs.view
    if not is_turning(view, pairs.ego).any():
        return pairs.heading_cos
    turn = _path_curvature(pairs) * np.maximum(pairs.along_m, 0.0)  # rad, clockwise
    diff = np.radians(view.heading_deg[pairs.other] - view.heading_deg[pairs.ego]) - turn
    return np.cos(diff)


def in_lane_ahead(
    pairs: PairTable,
    *,
    half_width_m: float,
    max_heading_diff_deg: float,
    moving_mps: float = MOVING_MPS,
) -> BoolArray:
    """Others ahead of the ego in its lane, on the same level, heading the same way.

    With a MAP match for both the lane index decides, and their bodies must overlap across
    it (offsets from the lane centre less than half the two widths apart); otherwise the
    lateral offset from the ego's path does (``path_lateral_m``: its arc while it turns). A (nearly) stopped other may
    point any way (queues, broken-down cars) except against the ego's path (at least
    ``OPPOSED_DEG`` off) or against its heading now: that is a queue in the opposite lane,
    which a turning ego's arc passes close by; nor, pointing across, in a junction box
    (``in_junction_box``): that is a turner waiting to clear the box along its movement, a
    crossing conflict that ICW and LTA judge by its movement, not a leader in the lane. An other matched to a MAP lane must also
    have the ego behind it along its heading (not past its stop line, in the box).
    """
    view = pairs.view
    ahead = (pairs.along_m > 0) & pairs.same_level
    same_lane = np.abs(path_lateral_m(pairs)) <= half_width_m
    if view.lanes is not None:  # matched to MAP lanes: the lanes decide
        lane_e, lane_o = view.lane[pairs.ego], view.lane[pairs.other]
        both = (lane_e >= 0) & (lane_o >= 0)
        # ... with bodies that overlap across the lane (offsets from its centre, curve-proof,
        # less than half the two widths apart): a car parked at the kerb beside the lane
        # matches the nearest lane too, but cannot be run into
        apart = np.abs(view.lane_offset_m[pairs.ego] - view.lane_offset_m[pairs.other])
        overlap = apart < (view.width_m[pairs.ego] + view.width_m[pairs.other]) / 2.0
        same_lane = np.where(both, (lane_e == lane_o) & overlap, same_lane)
        # an other on a MAP lane faces along it: the ego must come from behind it on that
        # lane, not stand beyond it (a car in a junction box is in front of the queue waiting
        # to enter that junction, whatever its own arc sweeps across)
        o = pairs.other
        dx, dy = view.x_m[pairs.ego] - view.x_m[o], view.y_m[pairs.ego] - view.y_m[o]
        behind = dx * view.sin_heading[o] + dy * view.cos_heading[o] < 0.0
        same_lane &= (lane_o < 0) | behind
    cos = path_heading_cos(pairs)
    opposed = math.cos(math.radians(OPPOSED_DEG))
    aligned = cos >= math.cos(math.radians(max_heading_diff_deg))
    any_way = (
        ~aligned
        & ahead
        & same_lane
        & (view.speed_mps[pairs.other] < moving_mps)
        & (cos > opposed)
        & (pairs.heading_cos > opposed)  # nor facing the ego now: an oncoming queue
    )
    if any_way.any():  # ... nor standing across a junction box: a turner that moves on
        k = np.flatnonzero(any_way)
        any_way[k] = ~in_junction_box(view, pairs.other[k])
    return ahead & same_lane & (aligned | any_way)


def toward(view: SceneView, subjects: BoolArray, radius_m: float) -> PairTable:
    """Pairs whose ``other`` is one of ``subjects`` and whose ``ego`` (the one to warn) is a
    neighbour within ``radius_m``: the shape of every "hazard vehicle ahead" application."""
    found = view.neighbours(subjects.nonzero()[0], radius_m)
    return PairTable(view, found.other, found.ego)


def following_in_lane(
    pairs: PairTable, *, half_width_m: float, max_heading_diff_deg: float, min_speed_mps: float
) -> BoolArray:
    """Egos that follow the other in its lane (``in_lane_ahead``), are motor vehicles and move
    at ``min_speed_mps`` or more."""
    view = pairs.view
    keep = in_lane_ahead(
        pairs, half_width_m=half_width_m, max_heading_diff_deg=max_heading_diff_deg
    )
    return keep & is_motor(view, pairs.ego) & (view.speed_mps[pairs.ego] >= min_speed_mps)


def gap_m(pairs: PairTable) -> FloatArray:
    """Bumper-to-bumper gap ahead: along distance minus the half lengths."""
    view = pairs.view
    return pairs.along_m - (view.length_m[pairs.ego] + view.length_m[pairs.other]) / 2.0


def same_way(view: SceneView, radius_m: float, max_heading_diff_deg: float) -> PairTable:
    """Unordered pairs within ``radius_m`` heading the same way (or one of them standing
    still), on the same level; computed once per tick and shared by the applications."""

    def mask(t: PairTable) -> npt.NDArray[np.bool_]:
        slow = np.minimum(view.speed_mps[t.ego], view.speed_mps[t.other]) < MOVING_MPS
        aligned = t.heading_cos >= math.cos(math.radians(max_heading_diff_deg))
        return (aligned | slow) & t.same_level

    return view.unordered_pairs(radius_m).subset(f"same_way:{max_heading_diff_deg}", mask)


def moving_motor_pairs(
    view: SceneView, radius_m: float, max_heading_diff_deg: float, min_speed_mps: float
) -> PairTable:
    """``same_way`` pairs of two motor vehicles at least one of which moves at
    ``min_speed_mps``: where FCW and BSW/LCW start, computed once per tick for both."""

    limit = math.cos(math.radians(max_heading_diff_deg))

    def mask(t: PairTable) -> npt.NDArray[np.bool_]:  # same_way's test and this one in a go
        speed_e, speed_o = view.speed_mps[t.ego], view.speed_mps[t.other]
        keep = np.maximum(speed_e, speed_o) >= min_speed_mps
        keep &= np.maximum(view.kind[t.ego], view.kind[t.other]) <= K_MOTOR_MAX
        keep &= (t.heading_cos >= limit) | (np.minimum(speed_e, speed_o) < MOVING_MPS)
        return keep & t.same_level

    name = f"moving_motor:{max_heading_diff_deg}:{min_speed_mps}"
    return view.unordered_pairs(radius_m).subset(name, mask)


def moving_motor_directed(
    view: SceneView, radius_m: float, max_heading_diff_deg: float, min_speed_mps: float
) -> PairTable:
    """``moving_motor_pairs`` in both orders, the ego moving at ``min_speed_mps``; computed
    once per tick for FCW, BSW and LCW (their relative columns are then computed once too)."""

    def compute() -> PairTable:
        base = moving_motor_pairs(view, radius_m, max_heading_diff_deg, min_speed_mps)
        both = base.directed()
        return both.select(view.speed_mps[both.ego] >= min_speed_mps)

    key = f"moving_motor_directed:{radius_m}:{max_heading_diff_deg}:{min_speed_mps}"
    return view.shared(key, compute)


def first_per_ego(ego: npt.NDArray[np.int64], key: FloatArray) -> npt.NDArray[np.int64]:
    """Indices of the entry with the smallest ``key`` for each distinct ego."""
    if ego.size == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((key, ego))
    first = np.ones(order.size, dtype=bool)
    first[1:] = ego[order][1:] != ego[order][:-1]
    return order[first]
