"""VRUCW — vulnerable road user collision warning: a pedestrian or cyclist in the vehicle's path.

Pedestrians and cyclists come from any source (BSM, PSM or roadside RSM). For each moving
vehicle and each VRU nearby on the same level, the VRU is put in the frame of the vehicle's
*path*: on a MAP lane, the lane's heading (a vehicle on a lane follows it; the tracker's
heading and yaw rate lag the end of a turn); off the lanes (in a junction), its heading line
when it drives straight, its arc (the scene tracker's yaw rate / speed) while it turns
(``_select.is_turning``; the conflict must hold on that arc and on the arc of its yaw
rate moved one σ, ``yaw_rate_sd_dps``, toward straight: the tracker's yaw rate lags the end
of a turn), so a car turning at a junction is judged along
the street it turns into, not along the kerb its heading line sweeps. The arc ends after a
quarter turn (``MAX_TURN_RAD``: a junction turn is no more), or, for a vehicle turning toward
the heading of the lane it is matched to (the street it turns into), where it is aligned
with that lane; the path goes on straight along its tangent. An arc extrapolated further
curls round onto the pavements beside the street the car turns into. In that frame the
vehicle's front bumper moves along the path at its speed and the VRU at its own velocity
(its *crossing intent*: the component toward or away from the path, and along it); the time
until the VRU comes within ``contact_m`` + half the vehicle's width of the centre of the
front bumper is ``kinematics.time_to_contact``. Warning at ≤ ``warn_s``, imminent at ≤
``imminent_s``. A pedestrian walking along the pavement beside the road, standing at the
kerb, or walking away from the path never comes that close, so it gets no warning.

A vehicle on its approach lane signalling a turn (its left or right indicator) turns at the
lane's stop line: its path goes straight on only to the stop line and across the near
crosswalk (``NEAR_CROSSWALK_M`` past it), not on across the junction. A pedestrian waiting at
the far kerb, or crossing the street beyond the junction, is not in its path (unseen busy
traffic: most false warnings were turning cars warned of pedestrians standing at the far
corner, on the line of the approach lane, that the cars never came within 6 m of). Once the
car turns (its yaw rate), its arc is its path.

With a MAP, a vehicle in a junction box, or on its approach lane signalling a turn, is
predicted along the MAP's movements (``twin.movements``: the connections of the lane it is
on or came from, ``LaneMemory``; issue 15: "a vehicle at an approach follows one of its
lane's allowed movements"), not along its heading line or yaw-rate arc: each of its
candidate movements (``Movements.locate``, weighted by ``Movements.weigh``: its indicator,
speed, distance from the path) puts the VRU in the frame of that movement's path, and the
time to contact is the earliest by which the movements it holds on are at least
``MIN_MOVEMENT_PROBABILITY`` likely. A turn ends along its exit lane, not a quarter turn
from wherever the car points now (background_crossing_signalised: half the false warnings
were cars partway through a left turn whose arc curled onto a pedestrian standing at the
corner), and a car signalling a turn is judged along that turn across the crosswalk of the
street it turns into. On a turning movement the driver slows to turning speed by the box
(``_conflicts.travel_s``, as ICW's and LTA's movements), so it reaches the VRU later than
at its speed now. A movement red when the driver reaches its stop line holds a driver who
can still stop there (``_signals``): a VRU past that line is not on its path; the same holds
for a driver on its lane whom a red light holds (``_signals.held_by_signal``).

Only a vehicle moving at ``min_speed_mps`` or more is warned (``_select.WARN_MIN_SPEED_MPS``,
2.0 m/s, as every collision warning and the ground truth: a driver creeping up to a crosswalk
is in control. At 1.0 m/s, cars pulling away from their stop line at 1-2 m/s while
pedestrians still crossed were warned, and then waited for them: unseen_crossing_single_lane_vru,
5 seeds, 6 of 69 false warnings; recall unchanged).

A driver gives way to a pedestrian crossing her path (the PRC road traffic safety law, art.
47: at a crosswalk, and on a road without signals, a motor vehicle gives way to pedestrians
crossing it), so she is no conflict party while she may still do so: while she may stop
short of the pedestrian's point on her path braking comfortably (``comfortable_decel_mps2``)
after a reaction time (``reaction_s``, RLVW's 0.7 s: the warning must leave her time to
react and still stop comfortably), or, braking already (``_signals.MIN_BRAKING_MPS2``), may
stop there braking firmly (``_signals.STOP_DECEL_MPS2``); "may" within one σ of the
tracker's estimates (``_conflicts.expected_to_give_way``, ICW's and LTA's give-way hold
with a reaction time). She is
warned once she no longer can, and by ``give_way_warn_s`` (2.0 s, the lower end of
STANDARDS' 2-3 s time to conflict) before the contact at the latest: the hold moves a
warning within the standard's window, never below it. Unseen busy traffic: most false
warnings were drivers warned 3 s before a pedestrian on the crossing or its corner who then
braked and stopped 4-7 m short of her (unseen_crossing_single_lane_vru, seed 4: 15 of 20).
Held to the end (no 2.0 s floor), the median lead time fell to 1.7 s on busy traffic's
slow turning cars. Any driver already braking at least as hard as stopping short of the
VRU takes (speed² / 2 × the distance along the path), and that comfortably, is yielding
and not warned; a cyclist rides a vehicle and has no more right of way than that.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._conflicts import expected_to_give_way, travel_s
from v2xcloud.apps._select import (
    CONFIDENCE_SIGMA,
    F_LEFT_SIGNAL,
    F_RIGHT_SIGNAL,
    K_CYCLIST,
    K_PEDESTRIAN,
    PATH_CONFIRM_TICKS,
    WARN_MIN_SPEED_MPS,
    is_motor,
    is_turning,
)
from v2xcloud.apps._signals import STOP, held_by_signal, may_stop, movement_right_of_way
from v2xcloud.apps.base import App, AppConfig, Hits, Partners, Reach, level_from_time
from v2xcloud.apps.kinematics import required_decel, time_to_contact
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin import SceneView
from v2xcloud.twin.movements import (
    STRAIGHT,
    Movements,
    MovementWeights,
    movements_of,
)

__all__ = ["VruCollisionWarning", "VrucwConfig"]

FloatArray = npt.NDArray[np.float64]

#: the most a turning vehicle's path turns from its current heading: a junction turn is a
#: quarter turn at most, and beyond it the vehicle drives straight along the street it turned into
MAX_TURN_RAD = np.pi / 2
#: a vehicle whose heading is within this of its lane's (degrees) follows the lane (the
#: tracker's lag after a turn was 4-5°); one further off is leaving it (turning at the stop
#: line, changing lanes), and its own heading and arc hold
LANE_ALIGNED_DEG = 10.0
#: how far past its stop line (m) the straight path of a car signalling a turn still reaches:
#: across the near crosswalk (SUMO's default crosswalk is 4 m wide, marked ones 3-4 m) and the
#: truth's 1.0 m miss distance beyond it; there the car turns off the approach lane's line
NEAR_CROSSWALK_M = 5.0
#: a vehicle's movements (``Movements.weigh``) on which the conflict holds must be at least
#: this likely, as ICW's and LTA's (``ConflictRule.min_probability``): the time to contact is
#: the earliest by which the VRU is reached on movements that likely
MIN_MOVEMENT_PROBABILITY = 0.5


def _path_frame(
    along: FloatArray, right: FloatArray, curv: FloatArray, max_turn: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A point at ``along``/``right`` of the front bumper in the frame of the vehicle's path:
    (distance along the path to the point's foot, offset to the right of the path, the path's
    heading there relative to the vehicle's, radians + right). The path is an arc of curvature
    ``curv`` (1/m, + right; 0 for straight) until it has turned ``max_turn`` (radians, ≤
    ``MAX_TURN_RAD``), then the straight line tangent to it. Points behind the bumper keep the heading line's frame.
    """
    sign = np.where(curv < 0.0, -1.0, 1.0)
    k = np.abs(curv)
    turning = k > 0.0
    radius = np.where(turning, 1.0 / np.where(turning, k, 1.0), np.inf)
    y = right * sign  # mirrored so that every turn is to the right; centre at (0, radius)
    with np.errstate(invalid="ignore"):
        phi = np.arctan2(along, radius - y)  # angle swept round the centre to the point's foot
        on_arc = turning & (along > 0.0) & (phi <= max_turn)
        arc_along = radius * phi
        arc_right = radius - np.hypot(along, radius - y)
        # past the turn: the tangent line from the arc's end, heading max_turn
        c, s = np.cos(max_turn), np.sin(max_turn)
        ex, ey = radius * s, radius * (1.0 - c)
        line_along = radius * max_turn + (along - ex) * c + (y - ey) * s
        line_right = -(along - ex) * s + (y - ey) * c
    past = turning & (along > 0.0) & ~on_arc
    path_along = np.where(on_arc, arc_along, np.where(past, line_along, along))
    path_right = np.where(on_arc, arc_right, np.where(past, line_right, y)) * sign
    turn = np.where(on_arc, phi, np.where(past, max_turn, 0.0)) * sign
    return path_along, path_right, turn


def _path_sigma_m(
    view: SceneView,
    e: npt.NDArray[np.int64],
    along: FloatArray,
    turning: npt.NDArray[np.bool_],
) -> FloatArray:
    """1σ lateral uncertainty (m) of vehicle ``e``'s predicted path ``along`` metres ahead of its
    front bumper, from the scene tracker's σ of its heading and yaw rate: a heading error σ_h
    puts the path σ_h × d aside at distance d, a curvature error σ_κ (yaw rate σ / speed)
    ½ σ_κ d². On the arc of a turning vehicle only the heading's term: its yaw rate's error is
    already taken by judging the arc moved one σ toward straight."""
    d = np.maximum(along, 0.0)
    lat_h = np.radians(view.heading_sd_deg[e]) * d
    sd_curv = np.radians(view.yaw_rate_sd_dps[e]) / np.maximum(view.speed_mps[e], MOVING_MPS)
    lat_k = np.where(turning, 0.0, 0.5 * sd_curv * d * d)
    return np.nan_to_num(np.hypot(lat_h, lat_k))


def _crossing_mps(view: SceneView, p: npt.NDArray[np.int64], v_right: FloatArray) -> FloatArray:
    """VRUs ``p``'s velocity across a path (``v_right``, m/s, + to its right) where it is sure:
    beyond one σ (``CONFIDENCE_SIGMA``) of the tracker's error across her motion (its speed σ
    combined with her speed times its heading σ); 0 otherwise: she stands, or walks along the
    path. A pedestrian walking along the road edge toward a car 1.9 m from its centre line
    (the truth's 1.0 m from its side) drifts toward it by a tenth of a metre per second on a
    few degrees of heading noise and was warned of, as if crossing (demo_district, seed 0:
    6 of 8 false VRUCW warnings); where she is stays what it is: one within reach of the
    path is met."""
    speed = view.speed_mps[p]
    sd = np.hypot(view.speed_sd_mps[p], speed * np.radians(view.heading_sd_deg[p]))
    sd = np.nan_to_num(sd, nan=np.inf)
    return np.where(np.abs(v_right) > CONFIDENCE_SIGMA * sd, v_right, 0.0)


def _movement_frame(
    movements: Movements,
    paths: npt.NDArray[np.int64],
    at_s: FloatArray,
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Points (``x``, ``y``) in the frame of movement paths ``paths`` (ids) from arc length
    ``at_s`` (each vehicle's position) on: (arc length of each point's foot on the path, its
    offset to the right of the path, the sine and cosine of the path's heading there). The
    foot is on the nearest segment from ``at_s`` on, in that segment's line (a point behind
    the vehicle is as far behind it as it is); the last segment (the exit street) goes on
    forwards, straight."""
    n = paths.size
    foot, off = np.empty(n), np.empty(n)
    sin_p, cos_p = np.empty(n), np.empty(n)
    for pid in np.unique(paths).tolist():
        k = np.flatnonzero(paths == pid)
        path = movements.paths[pid]
        a, s0 = path.xy[:-1], path.s[:-1]
        d = path.xy[1:] - a
        length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
        ux, uy = d[:, 0] / length, d[:, 1] / length
        rx = x[k, None] - a[None, :, 0]
        ry = y[k, None] - a[None, :, 1]
        raw = rx * ux + ry * uy  # along each segment's line from its start
        hi = length.copy()
        hi[-1] = np.inf
        t = np.clip(raw, 0.0, hi)
        dist = np.hypot(rx - t * ux, ry - t * uy)
        ahead = (s0 + length)[None, :] > at_s[k, None]  # from the vehicle on
        ahead[:, -1] = True
        best = np.where(ahead, dist, np.inf).argmin(axis=1)
        row = np.arange(k.size)
        # in that segment's line: a point behind the vehicle keeps its distance behind
        foot[k] = s0[best] + raw[row, best]
        off[k] = rx[row, best] * uy[best] - ry[row, best] * ux[best]
        sin_p[k], cos_p[k] = ux[best], uy[best]
    return foot, off, sin_p, cos_p


class VrucwConfig(AppConfig, frozen=True, kw_only=True):
    """VRUCW thresholds (defaults: STANDARDS.md, time to conflict 3 s / 1.5 s; SUMO's DRAC
    3 m/s² as the comfortable deceleration, as FCW)."""

    warn_s: float = 3.0
    imminent_s: float = 1.5
    radius_m: float = 50.0
    min_speed_mps: float = WARN_MIN_SPEED_MPS
    contact_m: float = 0.8  # VRU radius plus a safety margin beyond the vehicle's half width
    comfortable_decel_mps2: float = 3.0
    reaction_s: float = 0.7  # RLVW's perception-reaction time
    give_way_warn_s: float = 2.0  # STANDARDS' lower end: a driver who gives way is warned by then
    confirm_ticks: int = PATH_CONFIRM_TICKS


class VruCollisionWarning(App):
    """Vulnerable road user collision warning (see the module docstring)."""

    code = "VRUCW"
    unique_pairs = True  # one hit per directed candidate pair
    config_type = VrucwConfig
    detail = "vulnerable road user in the vehicle's path"
    config: VrucwConfig

    def reach(self) -> tuple[Reach, ...]:
        """Vulnerable road users within ``radius_m``."""
        return (Reach(self.config.radius_m, Partners.ROAD_USERS),)

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)

    def detect(self, view: SceneView) -> Hits:
        cfg = self.config
        movements = movements_of(view)
        if movements is not None:
            movements.lane_memory.observe(view, movements)
        if not view.has_kind(K_PEDESTRIAN, K_CYCLIST):
            return Hits.empty()
        vru = (view.kind == K_PEDESTRIAN) | (view.kind == K_CYCLIST)
        if not vru.any():
            return Hits.empty()
        pairs = view.neighbours(vru.nonzero()[0], cfg.radius_m)  # (vru, vehicle)
        keep = is_motor(view, pairs.other) & (view.speed_mps[pairs.other] >= cfg.min_speed_mps)
        pairs = pairs.select(keep & pairs.same_level)
        p, e = pairs.ego, pairs.other
        speed = view.speed_mps[e]
        half_len = view.length_m[e] / 2.0
        sin_h, cos_h = view.sin_heading[e], view.cos_heading[e]
        front_x = view.x_m[e] + half_len * sin_h
        front_y = view.y_m[e] + half_len * cos_h
        # a vehicle on a MAP lane follows the lane: its path is the lane's heading, straight.
        # The tracker's heading and yaw rate lag the end of a turn (demo_district: cars on the
        # lane they turned into, 4-5° off its heading with 10-28 °/s still on the filter), and
        # a line or arc from them sweeps the pavement beside that lane. In a junction (no lane)
        # the path is the arc from the yaw rate, a quarter turn at most.
        # ... while it is aligned with the lane: one heading further off (LANE_ALIGNED_DEG) is
        # leaving it, turning at its stop line or changing lanes, and keeps its own heading and
        # arc (the real K733 recording: cars turning at the line, still matched to their
        # approach lane, were judged straight on into the crosswalk, VRUCW 6 -> 9)
        lane_deg = view.lane_heading_deg[e]
        off_lane_deg = np.abs((view.heading_deg[e] - lane_deg + 180.0) % 360.0 - 180.0)
        on_lane = off_lane_deg <= LANE_ALIGNED_DEG  # NaN (no lane match): False
        lane_h = np.radians(np.nan_to_num(view.lane_heading_deg[e]))
        sin_h = np.where(on_lane, np.sin(lane_h), sin_h)
        cos_h = np.where(on_lane, np.cos(lane_h), cos_h)
        dx = view.x_m[p] - front_x  # from the front bumper's centre
        dy = view.y_m[p] - front_y
        along = dx * sin_h + dy * cos_h
        right = dx * cos_h - dy * sin_h
        # a car on its approach lane signalling a turn leaves the lane's line at its stop line:
        # beyond the near crosswalk the VRU is not on its path (its arc takes over as it turns)
        signalling = (view.flags[e] & (F_LEFT_SIGNAL | F_RIGHT_SIGNAL)) != 0
        to_stop = view.to_stop_m[e] - half_len  # from the front bumper
        beyond_turn = on_lane & signalling & (along > to_stop + NEAR_CROSSWALK_M)
        # the path's curvature (1/m, + to the right) while the vehicle turns, else 0; the
        # conflict must hold on that arc and on the arc of its yaw rate moved one σ toward
        # straight (the tracker's yaw rate lags the end of a turn: cars out of their turn, on
        # the street they turned into with 11-13 °/s still on the filter, σ 6-7 °/s, had arcs
        # curling onto the pavement where pedestrians walked parallel to them)
        turning = is_turning(view, e) & ~on_lane
        yaw = view.yaw_rate_dps[e]
        less_yaw = np.sign(yaw) * np.maximum(
            np.abs(yaw) - CONFIDENCE_SIGMA * view.yaw_rate_sd_dps[e], 0.0
        )
        per_m = np.where(turning, np.radians(1.0) / np.maximum(speed, MOVING_MPS), 0.0)
        # a vehicle turning toward the heading of the lane it is matched to (the street it
        # turns into) ends its turn aligned with that lane, not a quarter turn from where it
        # points now: the rest of the quarter turn curled onto the pavement, toward
        # pedestrians walking beside that street (demo_district, seed 1: 4 of 20 false VRUCW
        # warnings, cars 30-60° into their turn onto the lane, 1-2 m body to body)
        to_lane = (lane_deg - view.heading_deg[e] + 180.0) % 360.0 - 180.0  # NaN: no lane
        onto_lane = np.isfinite(to_lane) & (np.sign(np.nan_to_num(to_lane)) == np.sign(yaw))
        max_turn = np.where(
            onto_lane,
            np.minimum(np.radians(np.abs(np.nan_to_num(to_lane))), MAX_TURN_RAD),
            MAX_TURN_RAD,
        )
        vx, vy = view.vx_mps[p], view.vy_mps[p]
        radius_m = view.width_m[e] / 2.0 + cfg.contact_m
        ttc = np.full(e.size, -np.inf)
        path_along = along
        for k, curv in enumerate((yaw * per_m, less_yaw * per_m)):
            if k and not turning.any():
                break
            on_path, off_path, turn = _path_frame(along, right, curv, max_turn)
            # the VRU's velocity in the path's frame at that point
            ph_sin = sin_h * np.cos(turn) + cos_h * np.sin(turn)
            ph_cos = cos_h * np.cos(turn) - sin_h * np.sin(turn)
            v_along = vx * ph_sin + vy * ph_cos
            v_right = vx * ph_cos - vy * ph_sin
            # the path is only known to within its lateral σ (``_path_sigma_m``): the VRU must
            # still be met on the path moved one σ (``CONFIDENCE_SIGMA``) away from her, as
            # every estimate an app acts on (off a MAP lane: on a lane, the lane is the path).
            # One surely walking toward the path (by more than one σ of her speed) crosses it
            # wherever it lies, at the time the path itself gives; one standing (or drifting)
            # near it is met only if the vehicle surely drives to where she stands
            aside = np.where(
                on_lane, 0.0, CONFIDENCE_SIGMA * _path_sigma_m(view, e, on_path, turning)
            )
            v_right = _crossing_mps(view, p, v_right)
            toward = np.where(off_path < 0.0, v_right, -v_right)
            moved = off_path + np.where(off_path < 0.0, -aside, aside)
            contact = time_to_contact(on_path, off_path, v_along - speed, v_right, radius_m)
            sure = np.isfinite(
                time_to_contact(on_path, moved, v_along - speed, v_right, radius_m)
            ) | (toward > 0.0)
            ttc = np.maximum(ttc, np.where(sure, contact, np.inf))
            if not k:
                path_along = on_path
        ttc = np.where(beyond_turn, np.inf, ttc)
        # a red light holds a driver who can still stop at the line (``_signals.held_by_signal``,
        # as ICW's and LTA's cross traffic): a VRU past the stop line is not on its path
        vehicles, of_pair = np.unique(e, return_inverse=True)
        held = held_by_signal(view, vehicles)[of_pair.reshape(-1)] & (along > to_stop)
        ttc = np.where(held, np.inf, ttc)
        if movements is not None:
            # in a junction box, or signalling the turn it is about to take: along the MAP's
            # movements (module docstring), not the line or arc of its heading
            in_box = (view.lane[e] < 0) | (view.to_stop_m[e] <= 0.0)
            decided, by_path, along_path = self._on_movements(
                view, movements, e, p, in_box | signalling, radius_m
            )
            ttc = np.where(decided, by_path, ttc)
            path_along = np.where(decided, along_path, path_along)
        ttc = np.where(self._yielding(view, e, p, path_along, ttc), np.inf, ttc)
        level = level_from_time(
            ttc, warn_s=cfg.warn_s + cfg.lead_pad_s, imminent_s=cfg.imminent_s + cfg.lead_pad_s
        )
        return Hits(ego=e, other=p, level=level, ttc_s=ttc)

    def _yielding(
        self,
        view: SceneView,
        e: npt.NDArray[np.int64],
        p: npt.NDArray[np.int64],
        along_m: FloatArray,
        ttc_s: FloatArray,
    ) -> npt.NDArray[np.bool_]:
        """Per pair (vehicle ``e``, VRU ``p``, time to contact ``ttc_s``): whether the driver
        yields, or is expected to, short of the VRU's point ``along_m`` ahead of her front
        bumper on her path (module docstring): braking to stop there comfortably already, or,
        for a pedestrian before ``give_way_warn_s``, while she may still stop there
        comfortably after a reaction time, or firmly once braking."""
        cfg = self.config
        accel = np.nan_to_num(view.accel_mps2[e], nan=0.0)
        drac = required_decel(along_m, view.speed_mps[e])
        braking_to_stop = (-accel >= drac) & (drac <= cfg.comfortable_decel_mps2)
        gives_way = expected_to_give_way(
            view, e, along_m, cfg.comfortable_decel_mps2, reaction_s=cfg.reaction_s
        )
        expected = (
            (view.kind[p] == K_PEDESTRIAN)
            & gives_way
            & (ttc_s > cfg.give_way_warn_s + cfg.lead_pad_s)
        )
        return braking_to_stop | expected

    def _on_movements(
        self,
        view: SceneView,
        movements: Movements,
        e: npt.NDArray[np.int64],
        p: npt.NDArray[np.int64],
        want: npt.NDArray[np.bool_],
        radius_m: FloatArray,
    ) -> tuple[npt.NDArray[np.bool_], FloatArray, FloatArray]:
        """For pairs (vehicle ``e``, VRU ``p``) where ``want``: whether the vehicle is on MAP
        movements (``Movements.locate``), and then the time to contact along them (the
        earliest time by which the VRU is reached on movements at least
        ``MIN_MOVEMENT_PROBABILITY`` likely, ``Movements.weigh``) and the distance along the
        path from the front bumper to the VRU's foot on the movement that decides it."""
        decided = np.zeros(e.size, dtype=bool)
        ttc = np.full(e.size, np.inf)
        along_out = np.full(e.size, np.inf)
        k = np.flatnonzero(want)
        if k.size == 0:
            return decided, ttc, along_out
        rows = np.unique(e[k])
        cand = movements.locate(view, rows, movements.lane_memory)
        if cand.path.size == 0:
            return decided, ttc, along_out
        weight = movements.weigh(view, rows, cand, MovementWeights(), movements.lane_memory)
        # every pair with every candidate movement of its vehicle
        order = np.argsort(cand.query, kind="stable")
        by_query = cand.query[order]
        ids = np.arange(rows.size)
        first = np.searchsorted(by_query, ids, side="left")
        count = np.searchsorted(by_query, ids, side="right") - first
        qi = np.searchsorted(rows, e[k])
        n = count[qi]
        pair = np.repeat(k, n)
        if pair.size == 0:
            return decided, ttc, along_out
        local = np.arange(pair.size) - np.repeat(np.cumsum(n) - n, n)
        c = order[np.repeat(first[qi], n) + local]
        at_s = cand.s_m[c]
        vru = p[pair]
        foot, right, sin_p, cos_p = _movement_frame(
            movements, cand.path[c], at_s, view.x_m[vru], view.y_m[vru]
        )
        veh = e[pair]
        along = foot - at_s - view.length_m[veh] / 2.0  # from the front bumper
        vx, vy = view.vx_mps[vru], view.vy_mps[vru]
        v_along = vx * sin_p + vy * cos_p
        v_right = _crossing_mps(view, vru, vx * cos_p - vy * sin_p)
        # the vehicle's speed to the VRU's foot: on a turn it slows to turning speed at the box
        # (``_conflicts.travel_s``, as ICW's and LTA's movements), so it gets there later than
        # at its speed now
        speed = view.speed_mps[veh]
        path = cand.path[c]
        weights = MovementWeights()
        turns = movements.turns(path) != STRAIGHT
        line_m = np.maximum(-at_s, 0.0)
        turn_speed = np.where(turns, weights.turn_speed_mps, np.inf)
        reach_s, _ = travel_s(
            speed, np.maximum(along, 0.0), line_m, turn_speed, weights.comfortable_decel_mps2
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_speed = np.where(along > 0.0, along / reach_s, speed)
        mean_speed = np.where(np.isfinite(mean_speed), np.minimum(mean_speed, speed), speed)
        t = time_to_contact(along, right, v_along - mean_speed, v_right, radius_m[pair])
        # a movement red or amber when the vehicle reaches its stop line holds a driver who
        # can still stop there (``_signals.may_stop``, as ICW's): a VRU past that line is not
        # on its path
        before = at_s < 0.0
        arrive_s = line_m / np.maximum(speed, 0.1)
        red = before & (movement_right_of_way(view, movements, path, arrive_s) == STOP)
        held = red & may_stop(view, veh, line_m) & (foot >= 0.0)
        t = np.where(held, np.inf, t)
        # per pair, the earliest time by which movements MIN_MOVEMENT_PROBABILITY likely meet it
        o = np.lexsort((t, pair))
        ps, ws = pair[o], weight[c][o]
        start = np.r_[True, ps[1:] != ps[:-1]]
        group = np.cumsum(start) - 1
        total = np.cumsum(ws)
        within = total - (total - ws)[start][group]
        ok = np.flatnonzero(within >= MIN_MOVEMENT_PROBABILITY - 1e-9)
        _, at = np.unique(group[ok], return_index=True)
        chosen = o[ok[at]]
        decided[pair[chosen]] = True
        ttc[pair[chosen]] = t[chosen]
        along_out[pair[chosen]] = along[chosen]
        return decided, ttc, along_out
