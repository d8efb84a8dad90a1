"""Ground truth the harness computes itself from simulated positions, signals and events.

SUMO's SSM device covers vehicle–vehicle conflicts; the rest is judged here per step:
pedestrian conflicts (VRUCW), hard braking ahead (EBW), a stopped vehicle with hazard lights
ahead (AVW), control loss nearby (CLW), an emergency vehicle approaching from behind (EVW),
overtaking intent against oncoming traffic (DNPW), red-light violations (RLVW) and
speeding (SLW).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.sim.episodes import Episode, EpisodeTracker
from v2xcloud.sim.snapshot import Snapshot, edge_of_lane

__all__ = ["HarnessTruth"]

VRU_MISS_M = 1.0  # a moving vehicle's body passing this close to a pedestrian is a conflict
#: ... and this close a near miss that must be warned; between the two it may be (grey): a car
#: keeping to its lane passes a pedestrian at the kerb, or on the corner's walking area, at the
#: lane's spare width beside its body (SUMO: 0.65-0.71 m, a 1.8 m car in a 3.2 m lane; a real
#: 3.0-3.75 m lane leaves 0.6-1.0 m, the kerb more), and a pedestrian's body takes 0.25 m of it
VRU_MUST_M = 0.5
VRU_MIN_SPEED_MPS = 2.0
VRU_WARNING_S = 3.0  # the warning window before the closest approach
#: a moving vehicle's body passing within ``VRU_MISS_M`` of where a pedestrian was at most this
#: long before (or a pedestrian where the body was), post-encroachment time within STANDARDS'
#: PET 2.0 s (SUMO's conflict default, ICW's grey zone): the VRUCW grey zone, a driver who
#: yields at the crossing and goes as the pedestrian clears, or a pedestrian who crosses just
#: behind a car
VRU_PET_S = 2.0
VRU_NEAR_M = 12.0  # pairs farther apart now are not checked for a post-encroachment
#: the grey episode runs from when the two came within this of each other (the approach a
#: warning is about, the yielding stop included) to the post-encroachment
VRU_APPROACH_M = 30.0
HARD_BRAKE_MPS2 = -4.0
#: a crossing party (ICW, LTA) that came to a standstill before its junction, without
#: entering it and braking no harder than this (normal firm braking: SUMO's default
#: deceleration, the red-light hold of ``apps._signals``), stopped for its red light, its
#: give-way line or the queue ahead: it yielded, and issue 15 says a vehicle braking to stop
#: is no conflict party. SSM's time to collision runs both at their speed of the moment, so
#: the stop made the episode; it is grey (``HarnessTruth.grade``). Harder braking is an
#: evasive stop, a real near miss: still required.
YIELD_DECEL_MPS2 = 4.5
STANDSTILL_MPS = 0.1
#: the standstill may come this long after the moment of the worst TTC (SSM's projection at
#: the speeds of the moment reaches the crossing before a braking party stands: from 14 m/s
#: at 4.5 m/s², 3.1 s of braking)
YIELD_STOP_S = 5.0
#: a party last seen (the run's end) outside its junction, braking at least this, within that
#: time was still stopping: its standstill was cut off by the end of the run
STILL_BRAKING_MPS2 = 0.5
#: EBW must warn a follower that moves (as every collision warning: at walking pace the
#: driver is in control) and would reach the braking vehicle within STANDARDS' FCW/EBW
#: time to collision, the braker braking on to a stop and the follower keeping its speed;
#: the other same-lane followers within ``EVENT_RANGE_M`` may be warned
EBW_MIN_SPEED_MPS = 2.0
EBW_TTC_S = 2.7
EVENT_RANGE_M = 150.0
EV_RANGE_M = 300.0  # an emergency vehicle that will reach you within EV_REACH_S ...
EV_REACH_S = 10.0  # ... means: make way now
EV_CROSSING_MARGIN_M = 10.0  # a cross-street car this close to the EV's path may be in its way
BLIND_SPOT_BEHIND_M = 25.0  # an adjacent-lane vehicle up to this far behind: may warn
BLIND_ZONE_M = 3.0  # must warn: beside, or up to this far behind the ego's rear bumper ...
BLIND_CLOSING_S = 3.0  # ... or closing so as to get there within this (SSM's TTC extent)
LANE_CHANGE_MIN_MPS = 2.0  # a vehicle standing or crawling changes no lane yet: may warn
SPEEDING_TOLERANCE_MPS = 5 / 3.6  # above the lane limit by more than this is speeding
#: a left indicator this many seconds (at the desired speed or faster) before a junction where the
#: vehicle's route turns left or U-turns announces that turn, not a pass (DNPW)
TURN_SIGNAL_S = 7.0
LEFT_TURNS = frozenset({"l", "L", "t"})  # SUMO link directions: left, partly left, U-turn
CONTROL_LOSS_EVENTS = frozenset(
    {"eventTractionControlLoss", "eventStabilityControlactivated", "eventABSactivated"}
)

F = npt.NDArray[np.float64]


def _reaches_braker_s(snap: Snapshot, lead: int, follower: int) -> float:
    """Seconds until ``follower``, at its speed now, reaches ``lead`` braking at its
    deceleration now until it stops (bumper to bumper; ``inf``: never, or the follower crawls
    below ``EBW_MIN_SPEED_MPS``)."""
    ve, vl = float(snap.speed_mps[follower]), max(float(snap.speed_mps[lead]), 0.0)
    if ve < EBW_MIN_SPEED_MPS:
        return float("inf")
    a = max(-float(snap.accel_mps2[lead]), 1e-6)
    dx, dy = snap.x_m[lead] - snap.x_m[follower], snap.y_m[lead] - snap.y_m[follower]
    gap = float(np.hypot(dx, dy)) - (snap.length_m[lead] + snap.length_m[follower]) / 2.0
    gap = max(gap, 0.0)
    # while the lead still moves: gap + (vl - ve) t - a t^2 / 2 = 0
    b = vl - ve
    t_moving = (b + math.sqrt(b * b + 2.0 * a * gap)) / a
    if t_moving <= vl / a:
        return t_moving
    return (gap + vl * vl / (2.0 * a)) / ve  # the lead stands: the follower covers the rest


def _near_body(
    bodies: Iterable[tuple[float, float, float, float, float, float]],
    points: Iterable[tuple[float, float, float]],
) -> bool:
    """Whether any point (t, x, y) lies within ``VRU_MISS_M`` of any body (t, front x, front
    y, rear vector x, y, half width)."""
    pts = np.array([(x, y) for _, x, y in points]).reshape(-1, 2)
    for _, fx, fy, bx, by, half in bodies:
        px, py = pts[:, 0] - fx, pts[:, 1] - fy
        u = np.clip((px * bx + py * by) / (bx * bx + by * by + 1e-9), 0.0, 1.0)
        if (np.hypot(px - u * bx, py - u * by) - half < VRU_MISS_M).any():
            return True
    return False


class HarnessTruth:
    """Feed every snapshot to :meth:`observe`; :meth:`finish` returns the episodes.

    ``events`` is the bridge's live map of scripted BSM event flags by SUMO id;
    ``red_links`` maps an incoming lane id to the (tls id, signal index) pairs controlling it;
    ``speed_limits`` maps lane ids to their published limits (m/s, the MAP's approach lanes)
    for speeding (SLW); ``vehicle_lanes`` the number of vehicle lanes per edge id (overtaking
    into the oncoming lane only happens on single-lane roads); ``next_turn`` a vehicle's next
    turn on its route: (SUMO link direction, metres to that junction, its desired speed on
    the lane m/s: the limit times its speed factor),
    ``None`` when no junction follows (without it, no indicator is taken for a turn);
    ``opposing_lefts`` the pairs of left-turn movements (from edge, to edge) that enter one
    junction from opposite roads (``SignalEncoder.opposing_left_turns``), for :meth:`grade`;
    ``left_turns`` every left-turn (or U-turn) movement (``SignalEncoder.left_turns``), for
    :meth:`turns_left`; ``via_movements`` the movement of each connection's first internal
    lane (``SignalEncoder.via_movements``): a vehicle still in a junction box when the run
    ends, or when it is asked about, takes the movement it entered the box on.
    """

    def __init__(
        self,
        *,
        events: dict[str, frozenset[str]],
        red_links: dict[str, list[tuple[str, int]]],
        speed_limits: dict[str, float],
        vehicle_lanes: dict[str, int],
        next_turn: Callable[[str], tuple[str, float, float] | None] | None = None,
        opposing_lefts: frozenset[frozenset[tuple[str, str]]] = frozenset(),
        left_turns: frozenset[tuple[str, str]] = frozenset(),
        via_movements: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self._events = events
        self._links = red_links
        self._limits = speed_limits
        self._lanes = vehicle_lanes
        self._next_turn = next_turn
        self._opposing_lefts = opposing_lefts
        self._left_turns = left_turns
        self._visits: dict[str, list[tuple[float, str]]] = {}  # vehicle -> (entered s, edge)
        self._via_movements = via_movements or {}
        # vehicle -> (entered s, the connection's first internal lane) per junction box entered
        self._vias: dict[str, list[tuple[float, str]]] = {}
        self._tracker = EpisodeTracker()
        self._grey = EpisodeTracker()  # may warn, must not be missed: is_required False
        self._last_lane: dict[str, str] = {}
        # per vehicle: when it entered (True) or left a junction's internal lanes, when it came
        # to a standstill outside one and inside one, and when it braked harder than
        # YIELD_DECEL_MPS2 (``grade``)
        self._junction_moves: dict[str, list[tuple[float, bool]]] = {}
        self._standstills: dict[str, list[float]] = {}
        self._box_standstills: dict[str, list[float]] = {}
        self._hard_stops: dict[str, list[float]] = {}
        self._moving: set[str] = set()
        self._last_seen: dict[str, tuple[float, float]] = {}  # vehicle -> (time s, accel)
        self._near_miss: dict[tuple[str, str], tuple[float, float]] = {}
        # when each (vehicle, pedestrian) pair had her ahead of its front bumper while it moved
        self._ahead: dict[tuple[str, str], list[float]] = {}
        # the last VRU_PET_S of every pedestrian's position and every vehicle's body, and the
        # (vehicle, pedestrian) pairs that came within VRU_PET_S of each other's place
        self._ped_trail: dict[str, deque[tuple[float, float, float]]] = {}
        self._body_trail: dict[str, deque[tuple[float, float, float, float, float, float]]] = {}
        self._post_encroached: dict[tuple[str, str], tuple[float, float]] = {}
        self._approach: dict[tuple[str, str], list[float]] = {}  # pair -> [first, last] s
        #: whether a vehicle stands unexplained now (``V2iTruth.stands_unexplained``: HLW's
        #: hazard standstill); its followers may be warned by AVW (grey); None: nobody does
        self.stands_unexplained: Callable[[str], bool] | None = None

    def observe(self, snap: Snapshot) -> None:
        """Judge one step."""
        veh = np.flatnonzero(~snap.is_pedestrian)
        self._vru(snap, veh)
        for i in veh:
            self._events_of(snap, int(i), veh)
        self._red_light(snap, veh)
        self._stops(snap, veh)
        self._speeding(snap, veh)
        self._edges(snap, veh)

    def _stops(self, snap: Snapshot, veh: npt.NDArray[np.intp]) -> None:
        """Record each vehicle's standstills outside a junction and its braking beyond
        ``YIELD_DECEL_MPS2`` (its junction entries and exits: ``_red_light``)."""
        t = snap.time_s
        for i in veh[snap.accel_mps2[veh] < -(YIELD_DECEL_MPS2 + 0.05)].tolist():
            self._hard_stops.setdefault(snap.ids[i], []).append(t)
        standing = snap.speed_mps[veh] < STANDSTILL_MPS
        ids = snap.ids
        self._moving.update(ids[i] for i in veh[~standing].tolist())
        for i in veh[standing].tolist():
            vid = ids[i]
            if vid in self._moving:
                self._moving.discard(vid)
                inside = snap.lane_ids[i].startswith(":")
                stands = self._box_standstills if inside else self._standstills
                stands.setdefault(vid, []).append(t)

    def _edges(self, snap: Snapshot, veh: npt.NDArray[np.intp]) -> None:
        """Each vehicle's road edges in the order it entered them, and the first internal lane
        of each junction box it entered (``via_movements``); only :meth:`grade` and
        :meth:`turns_left` read them, so nothing is kept on a network without left turns."""
        if not self._opposing_lefts and not self._left_turns:
            return
        for i in veh:
            lane = snap.lane_ids[i]
            if lane.startswith(":"):
                if lane in self._via_movements:
                    vias = self._vias.setdefault(snap.ids[i], [])
                    if not vias or vias[-1][1] != lane:
                        vias.append((snap.time_s, lane))
                continue
            edge = edge_of_lane(lane)
            visits = self._visits.setdefault(snap.ids[i], [])
            if not visits or visits[-1][1] != edge:
                visits.append((snap.time_s, edge))

    def _movement(self, vid: str, time_s: float) -> tuple[str, str] | None:
        """The movement (from edge, to edge) through the junction ``vid`` was approaching or
        crossing at ``time_s``: from the road it was on to the next one, or, if it has not
        reached another road (still in the box when the run ended), the connection it entered
        the box on; ``None`` if it is not known (before its first edge, or it never entered
        that junction's box)."""
        visits = self._visits.get(vid, [])
        k = bisect_right(visits, time_s, key=lambda v: v[0]) - 1
        if k < 0:
            return None
        if k + 1 < len(visits):
            return visits[k][1], visits[k + 1][1]
        for entered_s, lane in self._vias.get(vid, ()):
            movement = self._via_movements[lane]
            if entered_s >= visits[k][0] and movement[0] == visits[k][1]:
                return movement
        return None

    def turns_left(self, vid: str, time_s: float) -> bool | None:
        """Whether ``vid``'s movement through the junction it is at or approaching at
        ``time_s`` turns left or U-turns (``left_turns``); ``None`` when it is not known (no
        left turns given, or its edge after that junction never came)."""
        if not self._left_turns:
            return None
        movement = self._movement(vid, time_s)
        return None if movement is None else movement in self._left_turns

    def grade(self, episodes: list[Episode]) -> list[Episode]:
        """SUMO's crossing episodes (ICW, LTA) that were no conflict by the rules of the road
        become grey, unless the two collided (docs/scoring.md): those between two vehicles on
        opposing left-turn movements of one junction, those where one party yielded
        (``_yielded``), and LTA's where the turner waited in the box (``_waited_in_box``: a
        permissive left turn pulls into the junction and waits there for its gap, short of
        the oncoming lanes; issue 15: LTA warns a turner about to take the turn, not one
        waiting).

        Opposing left turns pass each other in front, on paths that do not cross in
        right-hand traffic; SUMO's junction model still gives them a crossing point, so a
        turner sweeping past one waiting in the box ~1 m body to body reads TTC ≈ 0."""
        out = []
        for e in episodes:
            if (
                e.is_required
                and e.app in ("ICW", "LTA")
                and not e.is_collision
                and e.other is not None
                and (
                    self._yielded(e.ego, e)
                    or self._yielded(e.other, e)
                    or (e.app == "LTA" and self._waited_in_box(e.ego, e))
                    or (
                        bool(self._opposing_lefts)
                        and self._opposing(e.ego, e.other, (e.start_s, e.critical_s or e.end_s))
                    )
                )
            ):
                e = msgspec.structs.replace(e, is_required=False)
            out.append(e)
        return out

    def _yielded(self, vid: str, e: Episode) -> bool:
        """Whether ``vid`` came to a standstill outside any junction after the episode began
        (at most ``YIELD_STOP_S`` after the moment of the worst TTC), without entering or
        leaving a junction before it and braking no harder than ``YIELD_DECEL_MPS2``; or,
        when the run ended (or it left) in that time, was last seen outside a junction still
        braking (``STILL_BRAKING_MPS2``) on the same terms."""
        end = (e.critical_s if e.critical_s is not None else e.end_s) + YIELD_STOP_S
        stops = [t for t in self._standstills.get(vid, ()) if e.start_s <= t <= end]
        if stops:
            first = stops[0]
        else:  # the run ended (or it left) while it was still braking outside the junction
            last_s, accel = self._last_seen.get(vid, (-1.0, 0.0))
            lane = self._last_lane.get(vid, ":")
            if not (e.start_s <= last_s <= end and accel <= -STILL_BRAKING_MPS2):
                return False
            if lane.startswith(":"):
                return False
            first = last_s
        moved = any(e.start_s <= t <= first for t, _ in self._junction_moves.get(vid, ()))
        hard = any(e.start_s <= t <= first for t in self._hard_stops.get(vid, ()))
        return not moved and not hard

    def _waited_in_box(self, vid: str, e: Episode) -> bool:
        """Whether ``vid`` came to a standstill inside a junction's box after the episode
        began (at most ``YIELD_STOP_S`` after the moment of the worst TTC), without leaving a
        junction before it and braking no harder than ``YIELD_DECEL_MPS2``: a left turner
        that pulled into the box to wait for its gap (``grade``)."""
        end = (e.critical_s if e.critical_s is not None else e.end_s) + YIELD_STOP_S
        stops = [t for t in self._box_standstills.get(vid, ()) if e.start_s <= t <= end]
        if not stops:
            return False
        first = stops[0]
        moves = self._junction_moves.get(vid, ())
        left = any(e.start_s <= t <= first and not entered for t, entered in moves)
        hard = any(e.start_s <= t <= first for t in self._hard_stops.get(vid, ()))
        return not left and not hard

    def _opposing(self, a: str, b: str, times: tuple[float, ...]) -> bool:
        for t in times:
            ma, mb = self._movement(a, t), self._movement(b, t)
            if ma is not None and mb is not None and frozenset({ma, mb}) in self._opposing_lefts:
                return True
        return False

    def _speeding(self, snap: Snapshot, veh: npt.NDArray[np.intp]) -> None:
        for i in veh:
            limit = self._limits.get(snap.lane_ids[i])
            if snap.vtypes[i].endswith("emergency"):
                continue  # emergency vehicles on duty may exceed the limit
            if limit is None or snap.speed_mps[i] <= limit:
                continue
            if snap.speed_mps[i] > limit + SPEEDING_TOLERANCE_MPS:
                self._tracker.observe("SLW", snap.ids[i], None, snap.time_s)
            else:  # above the limit within the tolerance: the grey zone docs/scoring.md names
                self._grey.observe("SLW", snap.ids[i], None, snap.time_s)

    def _vru(self, snap: Snapshot, veh: npt.NDArray[np.intp]) -> None:
        """Record every moving vehicle body passing within ``VRU_MISS_M`` of a pedestrian."""
        if not len(veh):
            return
        rad = np.radians(snap.heading_deg[veh])
        fx, fy = snap.x_m[veh], snap.y_m[veh]  # SUMO positions are the front bumper
        bx, by = -np.sin(rad) * snap.length_m[veh], -np.cos(rad) * snap.length_m[veh]
        moving = snap.speed_mps[veh] > VRU_MIN_SPEED_MPS
        peds = np.flatnonzero(snap.is_pedestrian)
        if peds.size:
            self._trails(snap, veh, peds, fx, fy, bx, by)
        for p in peds:
            px, py = snap.x_m[p] - fx, snap.y_m[p] - fy
            u = np.clip((px * bx + py * by) / (bx * bx + by * by + 1e-9), 0.0, 1.0)
            gap = np.hypot(px - u * bx, py - u * by) - snap.width_m[veh] / 2.0
            for k in np.flatnonzero(moving & (gap < VRU_MISS_M)):
                key = (snap.ids[veh[k]], snap.ids[p])
                best = self._near_miss.get(key)
                if best is None or gap[k] < best[1]:
                    self._near_miss[key] = (snap.time_s, float(gap[k]))
            t = snap.time_s
            ahead = moving & (px * bx + py * by < 0.0) & (gap < VRU_APPROACH_M)
            for j in np.flatnonzero(ahead).tolist():
                self._ahead.setdefault((snap.ids[veh[j]], snap.ids[p]), []).append(t)
            for j in np.flatnonzero(gap < VRU_APPROACH_M).tolist():
                key = (snap.ids[veh[j]], snap.ids[p])
                span = self._approach.get(key)
                if span is None or t - span[1] > 1.0:
                    span = self._approach[key] = [t, t]
                span[1] = t
                if moving[j] and gap[j] < VRU_NEAR_M and self._post_encroaches(*key):
                    self._post_encroached[key] = (span[0], t)

    def _trails(
        self,
        snap: Snapshot,
        veh: npt.NDArray[np.intp],
        peds: npt.NDArray[np.intp],
        fx: F,
        fy: F,
        bx: F,
        by: F,
    ) -> None:
        """Keep the last ``VRU_PET_S`` of each pedestrian's position and vehicle's body (front
        bumper, the vector to the rear bumper, half width) while pedestrians are about."""
        t = snap.time_s
        for p in peds.tolist():
            trail = self._ped_trail.setdefault(snap.ids[p], deque())
            trail.append((t, float(snap.x_m[p]), float(snap.y_m[p])))
            while trail[0][0] < t - VRU_PET_S:
                trail.popleft()
        half = snap.width_m[veh] / 2.0
        for k, i in enumerate(veh.tolist()):
            body = self._body_trail.setdefault(snap.ids[i], deque())
            body.append((t, float(fx[k]), float(fy[k]), float(bx[k]), float(by[k]), float(half[k])))
            while body[0][0] < t - VRU_PET_S:
                body.popleft()

    def _post_encroaches(self, vid: str, pid: str) -> bool:
        """Whether the vehicle's body now passes within ``VRU_MISS_M`` of a place the
        pedestrian was within the last ``VRU_PET_S``, or the pedestrian now stands within it of
        a place the body was (both trails hold the last ``VRU_PET_S``)."""
        body, walk = self._body_trail.get(vid), self._ped_trail.get(pid)
        if not body or not walk:
            return False
        return _near_body([body[-1]], walk) or _near_body(body, [walk[-1]])

    def _behind(
        self,
        snap: Snapshot,
        lead: int,
        veh: npt.NDArray[np.intp],
        *,
        reach_m: float,
        ahead: bool = False,
        lateral_m: float = 4.0,
    ) -> list[int]:
        """Vehicles travelling the same way as ``lead`` within ``reach_m`` behind it (or ahead)."""
        h = np.radians(snap.heading_deg[lead])
        dx, dy = snap.x_m[veh] - snap.x_m[lead], snap.y_m[veh] - snap.y_m[lead]
        along = dx * np.sin(h) + dy * np.cos(h)
        across = np.abs(dx * np.cos(h) - dy * np.sin(h))
        same_way = np.cos(np.radians(snap.heading_deg[veh]) - h) > 0.85
        sign = 1.0 if ahead else -1.0
        mask = (sign * along > 1.0) & (sign * along <= reach_m) & (across < lateral_m) & same_way
        return [int(veh[k]) for k in np.flatnonzero(mask)]

    def _events_of(self, snap: Snapshot, i: int, veh: npt.NDArray[np.intp]) -> None:
        t, vid = snap.time_s, snap.ids[i]
        events = self._events.get(vid, frozenset())
        if snap.accel_mps2[i] <= HARD_BRAKE_MPS2:
            for j in self._behind(snap, i, veh, reach_m=EVENT_RANGE_M, lateral_m=1.8):
                required = _reaches_braker_s(snap, i, j) <= EBW_TTC_S
                tracker = self._tracker if required else self._grey
                tracker.observe("EBW", snap.ids[j], vid, t)
        if (snap.signals[i] & 4 or "eventDisabledVehicle" in events) and snap.speed_mps[i] < 0.5:
            for j in self._behind(snap, i, veh, reach_m=EVENT_RANGE_M):
                if snap.speed_mps[j] > 1.0:
                    self._tracker.observe("AVW", snap.ids[j], vid, t)
        elif (
            snap.speed_mps[i] < 0.5
            and self.stands_unexplained is not None
            and self.stands_unexplained(vid)
        ):  # a silent, unexplained standstill: abnormal, but not self-reported (grey)
            for j in self._behind(snap, i, veh, reach_m=EVENT_RANGE_M):
                if snap.speed_mps[j] > 1.0:
                    self._grey.observe("AVW", snap.ids[j], vid, t)
        if events & CONTROL_LOSS_EVENTS:
            for j in self._behind(snap, i, veh, reach_m=EVENT_RANGE_M):
                self._tracker.observe("CLW", snap.ids[j], vid, t)
        if snap.vtypes[i].endswith("emergency") and snap.speed_mps[i] > 1.0:
            for j in self._behind(snap, i, veh, reach_m=EV_RANGE_M, ahead=True):
                gap = float(np.hypot(snap.x_m[j] - snap.x_m[i], snap.y_m[j] - snap.y_m[i]))
                closing = snap.speed_mps[i] - snap.speed_mps[j]
                if closing > 0.5 and gap / closing <= EV_REACH_S:
                    self._tracker.observe("EVW", snap.ids[j], vid, t, ttc_s=gap / closing)
            self._ev_crossing(snap, i, veh)
        if (
            snap.signals[i] & 2
            and self._lanes.get(edge_of_lane(snap.lane_ids[i])) == 1
            and not self._signals_left_turn(vid, float(snap.speed_mps[i]))
        ):
            self._overtake(snap, i, veh)
        if snap.signals[i] & 3:
            self._blind_spot(snap, i, veh, is_left=bool(snap.signals[i] & 2))

    def _ev_crossing(self, snap: Snapshot, i: int, veh: npt.NDArray[np.intp]) -> None:
        """Grey zone: a cross-street vehicle whose path meets the emergency vehicle's within
        ``EV_REACH_S`` of it and that can be at the crossing point by then (waiting at or
        driving towards it). Making way there is right, but whether it must is judgement."""
        he, ho = np.radians(snap.heading_deg[i]), np.radians(snap.heading_deg[veh])
        se, ce, so, co = np.sin(he), np.cos(he), np.sin(ho), np.cos(ho)
        det = so * ce - co * se  # sin of the angle between the two paths
        dx, dy = snap.x_m[veh] - snap.x_m[i], snap.y_m[veh] - snap.y_m[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            s_ev = (dx * co - dy * so) / -det  # along the EV's path to the crossing point
            s_o = (dx * ce - dy * se) / -det  # along the other's path to it
        t_ev = s_ev / snap.speed_mps[i]
        mask = (np.abs(det) >= np.sin(np.radians(45.0))) & (s_ev > 0) & (t_ev <= EV_REACH_S)
        mask &= (s_o > -snap.length_m[veh]) & (s_ev <= EV_RANGE_M)
        reach = snap.speed_mps[veh] * np.where(mask, t_ev, 0.0)  # how far it gets meanwhile
        mask &= s_o <= reach + EV_CROSSING_MARGIN_M
        for k in np.flatnonzero(mask):
            if int(veh[k]) != i:
                self._grey.observe(
                    "EVW", snap.ids[veh[k]], snap.ids[i], snap.time_s, ttc_s=float(t_ev[k])
                )

    def _blind_spot(
        self, snap: Snapshot, i: int, veh: npt.NDArray[np.intp], *, is_left: bool
    ) -> None:
        """Indicator on while a same-way vehicle sits in the adjacent lane on that side.

        Must warn while the ego moves (``LANE_CHANGE_MIN_MPS``) and the other is beside it
        (overlapping its length) or in its blind zone (``BLIND_ZONE_M`` behind its rear
        bumper), or closes on that zone so as to reach it within ``BLIND_CLOSING_S``. The rest
        of the old window (up to ``BLIND_SPOT_BEHIND_M`` behind, 5 m ahead, any speed) is a
        grey zone: a slower car 20 m back or a car passing a stopped one is no lane-change
        conflict yet, but a warning there is not wrong either.
        """
        h = np.radians(snap.heading_deg[i])
        dx, dy = snap.x_m[veh] - snap.x_m[i], snap.y_m[veh] - snap.y_m[i]
        along = dx * np.sin(h) + dy * np.cos(h)  # front bumper to front bumper
        right = dx * np.cos(h) - dy * np.sin(h)  # positive to the right of the heading
        side = -right if is_left else right
        same_way = np.cos(np.radians(snap.heading_deg[veh]) - h) > 0.85
        mask = (
            same_way & (along > -BLIND_SPOT_BEHIND_M) & (along < 5.0) & (side > 1.5) & (side < 5.0)
        )
        zone_back = -snap.length_m[i] - BLIND_ZONE_M  # the other's front at or ahead of this
        beside = (along >= zone_back) & (along - snap.length_m[veh] <= 0.0)
        closing = snap.speed_mps[veh] - snap.speed_mps[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            reach_s = np.where(closing > 0, (zone_back - along) / closing, np.inf)
        moving = snap.speed_mps[i] >= LANE_CHANGE_MIN_MPS
        required = moving & (beside | ((along < zone_back) & (reach_s <= BLIND_CLOSING_S)))
        edge = edge_of_lane(snap.lane_ids[i])
        for k in np.flatnonzero(mask):
            if edge_of_lane(snap.lane_ids[veh[k]]) == edge:
                tracker = self._tracker if required[k] else self._grey
                tracker.observe("BSW/LCW", snap.ids[i], snap.ids[veh[k]], snap.time_s)

    def _signals_left_turn(self, vid: str, speed_mps: float) -> bool:
        """Whether a left indicator announces a left turn (or U-turn) at the junction ahead:
        the route turns left there and the vehicle is within ``TURN_SIGNAL_S`` of it at its
        desired speed on the lane or its own speed, whichever is higher (the distance drivers
        signal a turn from; SUMO's drivers do the same). A left-turner queued at a junction is waiting to
        turn, not about to pass."""
        if self._next_turn is None:
            return False
        found = self._next_turn(vid)
        if found is None:
            return False
        direction, to_junction_m, desired_mps = found
        reach_m = TURN_SIGNAL_S * max(desired_mps, speed_mps)
        return direction in LEFT_TURNS and to_junction_m <= reach_m

    def _overtake(self, snap: Snapshot, i: int, veh: npt.NDArray[np.intp]) -> None:
        """Left indicator on behind a slower vehicle while oncoming traffic is too close to pass."""
        ahead = self._behind(snap, i, veh, reach_m=60.0, ahead=True)
        if not any(snap.speed_mps[j] < snap.speed_mps[i] + 0.5 for j in ahead):
            return
        h = np.radians(snap.heading_deg[i])
        for k in veh:
            dx, dy = snap.x_m[k] - snap.x_m[i], snap.y_m[k] - snap.y_m[i]
            along = dx * np.sin(h) + dy * np.cos(h)
            oncoming = np.cos(np.radians(snap.heading_deg[k]) - h) < -0.85
            closing = snap.speed_mps[i] + snap.speed_mps[k]
            if oncoming and along > 0 and closing > 0 and along / closing < 10.0:
                self._tracker.observe(
                    "DNPW", snap.ids[i], snap.ids[k], snap.time_s, ttc_s=float(along / closing)
                )

    def _red_light(self, snap: Snapshot, veh: npt.NDArray[np.intp]) -> None:
        states = {t.tls_id: t.state for t in snap.tls}
        for i in veh:
            vid, lane = snap.ids[i], snap.lane_ids[i]
            before = self._last_lane.get(vid)
            self._last_lane[vid] = lane
            self._last_seen[vid] = (snap.time_s, float(snap.accel_mps2[i]))
            if before is not None and before.startswith(":") != lane.startswith(":"):
                moves = self._junction_moves.setdefault(vid, [])
                moves.append((snap.time_s, lane.startswith(":")))
            if before is None or before.startswith(":") or not lane.startswith(":"):
                continue
            links = self._links.get(before, [])
            if links and all(states.get(tls, "G")[k] in "rRs" for tls, k in links if tls in states):
                t = snap.time_s
                self._tracker.episodes.append(
                    Episode(
                        app="RLVW",
                        ego=vid,
                        other=None,
                        start_s=t - 3.0,
                        end_s=t + 0.5,
                        critical_s=t,
                    )
                )

    def finish(self) -> list[Episode]:
        """All harness episodes of the run."""
        out = self._tracker.finish()
        out += [msgspec.structs.replace(e, is_required=False) for e in self._grey.finish()]
        for (vid, pid), (t, gap) in sorted(self._near_miss.items()):
            times = tuple(t - VRU_WARNING_S + 0.1 * k for k in range(int(VRU_WARNING_S * 10) + 1))
            ahead = self._ahead.get((vid, pid), ())
            out.append(Episode(
                app="VRUCW", ego=vid, other=pid, start_s=t - VRU_WARNING_S, end_s=t, critical_s=t,
                min_ttc_s=0.0, ttc_times_s=times, ttc_values_s=tuple(t - x for x in times),
                is_required=gap < VRU_MUST_M and any(t - VRU_WARNING_S <= a <= t for a in ahead),
            ))  # fmt: skip
        for (vid, pid), (first, t) in sorted(self._post_encroached.items()):
            if (vid, pid) not in self._near_miss:
                out.append(Episode(
                    app="VRUCW", ego=vid, other=pid, start_s=min(first, t - VRU_WARNING_S),
                    end_s=t, critical_s=t, is_required=False,
                ))  # fmt: skip
        return out
