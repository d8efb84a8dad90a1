"""Ground truth of the V2I advisories from SUMO: GLOSA, TJW, HLW and IVS (``docs/scoring.md``).

``V2iTruth`` watches every step (the signals' realised states) and, once a second, every
vehicle along its route (SUMO's own route, lanes and positions, not the platform's map
match):

- **TJW**: a queue is ``QUEUE_MIN`` or more vehicles slower than ``QUEUE_SPEED_MPS`` on the
  vehicle's route ahead; a vehicle approaching at ``TJW_APPROACH_MPS`` or more whose queue
  tail lies within ``RANGE_M`` must be warned; within ``GREY_RANGE_M``, or approaching slower
  (but moving), it may be. Must only for the queue on the part of its route that can be known
  (``_known_route_m``: beyond a turn it does not announce yet, it may be). A queue behind it,
  on another road or beyond ``GREY_RANGE_M`` must not be warned about.
- **HLW**: a hazard location is a vehicle standing still (≤ ``STANDSTILL_MPS``) on a travel
  lane for ``HAZARD_STOP_S`` with nothing to explain it (no standing vehicle within
  ``QUEUE_GAP_M`` ahead, no red or yellow light within ``SIGNAL_EXPLAINS_M`` ahead, not
  waiting at the end of its lane to enter a junction), a vehicle with its hazard lights on
  or reporting a disabled vehicle, or a collision's vehicles. A moving vehicle with a hazard
  on its route ahead within ``RANGE_M`` must be warned, within ``GREY_RANGE_M`` may be; one
  moving away from it or on another road must not. A vehicle in a collision itself may be
  warned of a hazard ahead while it collides, but need not: it is in the hazard, and the
  collision warnings (FCW, BSW/LCW, ICW) are its warnings.
- **IVS**: a static sign (the scenario's ``[[signs]]``, announced by RSI) concerns every
  vehicle on the sign's road (its SUMO edge, so its direction): a must episode per vehicle
  while it is on that road past ``SIGN_START_M``; on its first ``SIGN_START_M`` (just out of
  the junction box) a grey one. Every other IVS advisory is a false alarm.
- **GLOSA** is scored here whole (``glosa_score``): each advisory is judged by its content
  against the signal's *realised* states, not against the SPAT it was computed from. Right
  (``ADVICE_RIGHT``): every constant speed in the advised band reaches the stop line of the
  signal the vehicle really approaches (SUMO's next traffic light on its route) inside one
  realised green of its link (its own movement, ``ARRIVAL_TOLERANCE_S`` at each edge). Grey
  (``ADVICE_GREY``): only part of the band does, or the arrival falls after the run's end.
  Wrong (``ADVICE_WRONG``): no speed of the band arrives on green, the band's top is above
  the lane's limit (``LIMIT_TOLERANCE_MPS``), its bottom below ``GLOSA_FLOOR_MPS``, or it
  names another junction than the one ahead or one the vehicle has passed (a trip that
  ends before the signal is grey: nothing tells where a trip ends). A warning (advisories to one vehicle about one
  junction, refreshed less than ``WARNING_GAP_S`` apart) is false when one of its advisories
  is wrong. Must advise: a moving vehicle ``GLOSA_MIN_DISTANCE_M``..``RANGE_M`` before a
  signal, on the road that enters it (the controlled link's incoming edge), whose next green
  (the current one if green) it can reach at a constant speed between ``GLOSA_FLOOR_MPS`` and
  the limit, ``GLOSA_EDGE_S`` inside that green; may: only a later green is reachable (a SPAT
  states the current light and the next one only), or the vehicle is still before an
  upstream junction (which way it goes there, and so whether this signal is ahead at all, is
  the driver's route, which the platform does not know).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from v2xcloud.sim.episodes import Episode, EpisodeTracker
from v2xcloud.sim.scorer import EARLY_S, LATE_S, WARNING_GAP_S, AppScore
from v2xcloud.sim.signals import SIGN_START_M
from v2xcloud.sim.snapshot import Snapshot, edge_of_lane

logger = logging.getLogger(__name__)

__all__ = [
    "ADVICE_GREY",
    "ADVICE_RIGHT",
    "ADVICE_WRONG",
    "GlosaAdvice",
    "V2iTruth",
    "green_intervals",
    "judge_advice",
]

RANGE_M = 300.0  # the V2I apps' range (STANDARDS: range 150-300 m)
GREY_RANGE_M = 450.0
SAMPLE_S = 1.0  # STANDARDS: TJW/IVS ≈ 1 Hz
STANDSTILL_MPS = 0.5
MOVING_MPS = 1.0
QUEUE_SPEED_MPS = 2.5  # slower than 9 km/h: in a queue
QUEUE_MIN = 3
TJW_APPROACH_MPS = 8.0  # approaching a queue at 29 km/h or more: the tail is a hazard
QUEUE_GAP_M = 12.0  # a standing vehicle this close ahead explains standing
SIGNAL_EXPLAINS_M = 60.0  # a red/yellow light this close ahead explains standing
HAZARD_STOP_S = 10.0
GLOSA_MIN_DISTANCE_M = 10.0
GLOSA_FLOOR_MPS = 15 / 3.6  # slower than 15 km/h is no advice: stop, or obstruct everyone
GLOSA_EDGE_S = 1.0
ARRIVAL_TOLERANCE_S = 0.5
LIMIT_TOLERANCE_MPS = 0.5
ADVICE_RIGHT, ADVICE_GREY, ADVICE_WRONG = "right", "grey", "wrong"
_MAX_RECORDS = 200_000  # GLOSA advisories and samples kept per run (oldest dropped, counted)
_HAZARD_EVENTS = frozenset({"eventDisabledVehicle", "eventHazardLights"})


@dataclass(frozen=True)
class GlosaAdvice:
    """A GLOSA advisory as issued (SUMO id, simulation s, the band) with what SUMO said then:
    the traffic light the vehicle approaches, its link, distance to it and the lane's limit;
    ``named_tls`` is the traffic light of the junction the advisory names; ``tls`` ``None``:
    no signal ahead (passed, or its trip ends first: ``is_route_end``)."""

    vehicle: str
    time_s: float
    low_mps: float
    high_mps: float
    named_tls: str | None
    tls: str | None
    link: int
    distance_m: float
    limit_mps: float
    latency_ms: float | None = None
    is_route_end: bool = False  # no signal ahead because the trip ends before it


def _straight_ahead(snap: Snapshot, i: int, queued: list[int]) -> int:
    """How many of the ``queued`` rows stand straight ahead of row ``i`` on the road: within
    15° of its heading, 10 to ``GREY_RANGE_M`` away, facing its way within 30° (the
    geometry TJW itself reads, ``apps.tjw.queue_ahead``)."""
    if not queued:
        return 0
    k = np.array(queued)
    h = math.radians(float(snap.heading_deg[i]))
    dx, dy = snap.x_m[k] - snap.x_m[i], snap.y_m[k] - snap.y_m[i]
    dist = np.hypot(dx, dy)
    along = dx * math.sin(h) + dy * math.cos(h)
    same = np.abs((snap.heading_deg[k] - snap.heading_deg[i] + 180.0) % 360.0 - 180.0) <= 30.0
    cone = along >= dist * math.cos(math.radians(15.0))
    return int((same & cone & (dist >= 10.0) & (dist <= GREY_RANGE_M) & (k != i)).sum())


def green_intervals(
    changes: list[tuple[float, str]], link: int, *, end_s: float
) -> list[tuple[float, float]]:
    """The realised green intervals (start, end) of signal index ``link`` from a traffic
    light's state changes ``(time, state)`` (time-sorted); the last one ends at ``end_s``."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for t, state in changes:
        green = link < len(state) and state[link] in "Gg"
        if green and start is None:
            start = t
        elif not green and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, end_s))
    return out


def judge_advice(advice: GlosaAdvice, greens: list[tuple[float, float]], *, end_s: float) -> str:
    """``ADVICE_RIGHT``, ``ADVICE_GREY`` or ``ADVICE_WRONG`` (module docstring) for one
    advisory against the realised ``greens`` of the link the vehicle takes."""
    if advice.tls is None or advice.named_tls != advice.tls:
        return ADVICE_WRONG
    if advice.high_mps > advice.limit_mps + LIMIT_TOLERANCE_MPS:
        return ADVICE_WRONG
    if advice.low_mps < GLOSA_FLOOR_MPS - 1e-6 or advice.low_mps <= 0:
        return ADVICE_WRONG
    first = advice.time_s + advice.distance_m / advice.high_mps
    last = advice.time_s + advice.distance_m / advice.low_mps
    if last > end_s:
        return ADVICE_GREY  # arrives after the run: the realised light is unknown
    for g0, g1 in greens:
        if g0 <= first + ARRIVAL_TOLERANCE_S and last - ARRIVAL_TOLERANCE_S <= g1:
            return ADVICE_RIGHT
    if any(g0 < last and first < g1 for g0, g1 in greens):
        return ADVICE_GREY
    return ADVICE_WRONG


class V2iTruth:
    """Feed every step to :meth:`observe` and every GLOSA advisory to :meth:`glosa_advisory`;
    :meth:`finish` returns the TJW/HLW episodes, :meth:`glosa_score` GLOSA's score.

    ``traci`` is the running simulation's interface; ``events`` the bridge's live map of
    scripted BSM event flags by SUMO id; ``tls_of_node`` MAP node number → traffic light id;
    ``is_connected`` whether a SUMO vehicle sends BSMs (GLOSA can only advise those);
    ``is_seen`` whether the platform can know of it at all (connected, or seen by a roadside
    sensor): a queue or hazard the platform cannot see is a must episode it cannot be blamed
    for (``is_observable`` False, the ``unseen`` column).
    """

    def __init__(
        self,
        *,
        traci: Any,
        events: dict[str, frozenset[str]],
        tls_of_node: dict[int, str],
        is_connected: Callable[[str], bool],
        is_seen: Callable[[str], bool] | None = None,
        step_s: float,
        signs: dict[str, int] | None = None,
    ) -> None:
        self.traci = traci
        self._signs = signs or {}  # SUMO edge id -> the static sign on it
        self._events = events
        self._tls_of_node = tls_of_node
        self._is_connected = is_connected
        self._is_seen = is_seen or is_connected
        self._step_ms = round(step_s * 1000)
        self._changes: dict[str, list[tuple[float, str]]] = {}
        self._must = EpisodeTracker(gap_s=SAMPLE_S * 1.5)
        # a grey situation seen in one sample is grey for the second it stands for
        self._may = EpisodeTracker(gap_s=SAMPLE_S * 1.5, min_duration_s=0.0)
        self._unseen = EpisodeTracker(gap_s=SAMPLE_S * 1.5)  # must, but the platform cannot know
        self._standing: dict[str, float] = {}  # vehicle -> standing unexplained since (s)
        self._unexplained_now: set[str] = set()  # standing unexplained ≥ HAZARD_STOP_S now
        self._turns: dict[tuple[str, str], str] = {}  # (edge, next edge) -> s / l / r / t
        self._lane_turns: dict[str, frozenset[str]] = {}  # lane -> the turns its links make
        self._lengths: dict[str, float] = {}
        self._into_edge: dict[str, str] = {}
        #: (from edge, to edge) -> the signal links between them (tls, index, from lane)
        self._route_links: dict[tuple[str, str], list[tuple[str, int, str]]] | None = None
        self._limits: dict[tuple[str, int], tuple[str, float]] = {}
        self.advice: deque[GlosaAdvice] = deque(maxlen=_MAX_RECORDS)
        self._samples: deque[tuple[str, float, str, int, float, float]] = deque(maxlen=_MAX_RECORDS)
        self.dropped = 0
        self.gone = 0  # GLOSA advice that reached a vehicle already out of the simulation
        self._end_s = 0.0
        self._green_cache: dict[tuple[str, int], list[tuple[float, float]]] = {}  # at the end

    # --- per step -------------------------------------------------------------------------

    def observe(self, snap: Snapshot) -> None:
        """Record the signals' states; once a second, judge every vehicle on its route."""
        self._end_s = snap.time_s
        self._green_cache.clear()
        for t in snap.tls:
            seen = self._changes.setdefault(t.tls_id, [])
            if not seen or seen[-1][1] != t.state:
                seen.append((snap.time_s, t.state))
        if snap.time_ms % 1000 >= self._step_ms:
            return
        veh = np.flatnonzero(~snap.is_pedestrian).tolist()
        present = {snap.ids[i] for i in veh}
        self._unexplained_now = set()
        for gone in [v for v in self._standing if v not in present]:
            del self._standing[gone]
        slow: dict[str, list[tuple[float, str]]] = {}
        hazards: dict[str, list[tuple[float, str]]] = {}
        routes: dict[str, tuple[tuple[str, ...], int, float]] = {}
        crashed = {v for pair in snap.collisions for v in pair}
        veh_api = self.traci.vehicle
        for i in veh:
            vid, lane = snap.ids[i], snap.lane_ids[i]
            if lane.startswith(":") and snap.speed_mps[i] < QUEUE_SPEED_MPS:
                # standing in a junction box: queued just before the edge its lane leads to
                into = self._into(lane)
                if into:
                    before = float(veh_api.getLanePosition(vid)) - self._length(lane)
                    slow.setdefault(into, []).append((before, vid))
            if not lane or lane.startswith(":"):
                continue
            edge, pos = edge_of_lane(lane), float(veh_api.getLanePosition(vid))
            speed = float(snap.speed_mps[i])
            routes[vid] = (tuple(veh_api.getRoute(vid)), int(veh_api.getRouteIndex(vid)), pos)
            self._sign_on(vid, snap.time_s, edge, pos)
            if speed < QUEUE_SPEED_MPS:
                slow.setdefault(edge, []).append((pos, vid))
            if self._is_hazard(snap, i, vid, lane, pos, speed, crashed):
                hazards.setdefault(edge, []).append((pos, vid))
        for rows in (*slow.values(), *hazards.values()):
            rows.sort()
        queued = [
            i for i in veh if snap.speed_mps[i] < QUEUE_SPEED_MPS and self._is_seen(snap.ids[i])
        ]
        for i in veh:
            vid = snap.ids[i]
            speed = float(snap.speed_mps[i])
            if vid not in routes or speed < MOVING_MPS:
                continue
            route, at, pos = routes[vid]
            known_m = self._known_route_m(route, at, pos, int(snap.signals[i]), snap.lane_ids[i])
            on_route = self._queue_ahead(
                vid, snap.time_s, speed, route, at, pos, slow, known_m=known_m
            )
            signals_turn = bool(snap.signals[i] & 3)  # SUMO's blinker bits
            if not on_route and not signals_turn and _straight_ahead(snap, i, queued) >= QUEUE_MIN:
                self._may.observe("TJW", vid, None, snap.time_s)
            self._hazard_ahead(vid, snap.time_s, route, at, pos, hazards, vid in crashed)
            self._glosa_sample(vid, snap.time_s, speed, snap.lane_ids[i])

    def _is_hazard(
        self, snap: Snapshot, i: int, vid: str, lane: str, pos: float, speed: float,
        crashed: set[str],
    ) -> bool:  # fmt: skip
        """Whether vehicle row ``i`` is a hazard location now (module docstring)."""
        if (
            vid in crashed
            or snap.signals[i] & 4
            or self._events.get(vid, frozenset()) & _HAZARD_EVENTS
        ):
            return True  # fmt: skip
        if speed > STANDSTILL_MPS or self._is_explained(vid, lane, pos):
            self._standing.pop(vid, None)
            return False
        since = self._standing.setdefault(vid, snap.time_s)
        if snap.time_s - since < HAZARD_STOP_S:
            return False
        self._unexplained_now.add(vid)
        return True

    def stands_unexplained(self, vid: str) -> bool:
        """Whether ``vid`` had stood unexplained for ``HAZARD_STOP_S`` at the last sample (an
        HLW hazard by its standstill, not by what it reports: the harness's AVW grey zone)."""
        return vid in self._unexplained_now

    def _is_explained(self, vid: str, lane: str, pos: float) -> bool:
        """A standing vehicle is explained by a standing one just ahead, a red or yellow light
        just ahead, or waiting at its lane's end to enter a junction."""
        veh = self.traci.vehicle
        leader = veh.getLeader(vid, QUEUE_GAP_M)
        if (
            leader
            and leader[0]
            and leader[1] <= QUEUE_GAP_M
            and float(veh.getSpeed(leader[0])) <= STANDSTILL_MPS
        ):
            return True
        ahead = veh.getNextTLS(vid)
        if ahead and ahead[0][2] <= SIGNAL_EXPLAINS_M and ahead[0][3] in "rRyYu":
            return True
        return self._length(lane) - pos <= QUEUE_GAP_M

    def _approach(self, tls: str, link: int) -> tuple[str, float]:
        """(edge, speed limit m/s) of the lane signal index ``link`` of ``tls`` controls (the
        approach, not a junction's internal lane the vehicle may still be on)."""
        key = (tls, link)
        found = self._limits.get(key)
        if found is None:
            links = self.traci.trafficlight.getControlledLinks(tls)
            lane = links[link][0][0] if link < len(links) and links[link] else ""
            limit = float(self.traci.lane.getMaxSpeed(lane)) if lane else math.inf
            found = self._limits[key] = (edge_of_lane(lane), limit)
        return found

    def _into(self, internal_lane: str) -> str:
        """The edge a junction's internal lane leads to ("" if SUMO names none)."""
        found = self._into_edge.get(internal_lane)
        if found is None:
            links = self.traci.lane.getLinks(internal_lane)
            found = self._into_edge[internal_lane] = edge_of_lane(str(links[0][0])) if links else ""
        return found

    def _links(self) -> dict[tuple[str, str], list[tuple[str, int, str]]]:
        """(edge in, edge out) -> [(traffic light, signal index, lane in)] of every signal."""
        if self._route_links is None:
            self._route_links = {}
            for tls in self.traci.trafficlight.getIDList():
                links = self.traci.trafficlight.getControlledLinks(tls)
                for index, group in enumerate(links):
                    for into, out, _via in group:
                        key = (edge_of_lane(into), edge_of_lane(out))
                        self._route_links.setdefault(key, []).append((tls, index, into))
        return self._route_links

    def _signal_left(self, lane: str, route: Sequence[str], at: int) -> bool:
        """Whether the rest of a vehicle's route (it is on ``lane``, at route index ``at``)
        still passes a signal. On an edge: not on the route's last one (a signal at the end of
        the last edge is not passed: the trip ends before it). In a junction box (an internal
        lane; the route index is still the edge before): a signalled link between two of the
        edges from the box's exit on."""
        if not lane.startswith(":"):
            return at < len(route) - 1
        links = self._links()
        return any((route[k], route[k + 1]) in links for k in range(at + 1, len(route) - 1))

    def _signal_on_route(self, vehicle: str) -> list[tuple[str, int, float, str]]:
        """``getNextTLS``'s answer from the route when SUMO gives none: a vehicle on a lane
        that does not lead its way yet (it has a lane change to make before the junction; seen
        for up to 15 s after the start on background_crossing_signalised) gets no signal from
        SUMO although its route crosses one. The signal link from its edge to its route's next
        edge (its own lane's if that is one), at the distance to its lane's end."""
        veh = self.traci.vehicle
        lane = str(veh.getLaneID(vehicle))
        route, at = veh.getRoute(vehicle), int(veh.getRouteIndex(vehicle))
        if lane.startswith(":") or at + 1 >= len(route):
            return []
        found = self._links().get((route[at], route[at + 1]), [])
        if not found:
            return []
        tls, index, _ = next((f for f in found if f[2] == lane), found[0])
        distance = self._length(lane) - float(veh.getLanePosition(vehicle))
        return [(tls, index, distance, "")]

    def _length(self, lane: str) -> float:
        found = self._lengths.get(lane)
        if found is None:
            found = self._lengths[lane] = float(self.traci.lane.getLength(lane))
        return found

    def _ahead(
        self,
        route: tuple[str, ...],
        at: int,
        pos: float,
        rows_by_edge: dict[str, list[tuple[float, str]]],
        *,
        reach_m: float,
        me: str,
    ) -> list[tuple[float, str]]:
        """(distance along the route, vehicle) of ``rows_by_edge`` entries ahead within
        ``reach_m``, nearest first."""
        out: list[tuple[float, str]] = []
        offset = -pos
        for k in range(at, len(route)):
            edge = route[k]
            for p, other in rows_by_edge.get(edge, ()):
                d = offset + p
                if other != me and 0.0 < d <= reach_m:
                    out.append((d, other))
            offset += self._length(f"{edge}_0")
            if offset > reach_m:
                break
        return sorted(out)

    def _queue_ahead(
        self, vid: str, t: float, speed: float, route: tuple[str, ...], at: int, pos: float,
        slow: dict[str, list[tuple[float, str]]], *, known_m: float = math.inf,
    ) -> bool:  # fmt: skip
        """Observe the vehicle's TJW episode (must, unseen or may) of a queue on its route;
        whether there is one. Only the queue within ``known_m`` (``_known_route_m``) can be
        must: beyond a turn the vehicle does not announce, its route is its driver's."""
        queue = self._ahead(route, at, pos, slow, reach_m=GREY_RANGE_M, me=vid)
        if len(queue) < QUEUE_MIN:
            return False
        tail = queue[0][0]
        in_range = [other for d, other in queue if d <= min(RANGE_M, known_m)]
        if len(in_range) >= QUEUE_MIN and speed >= TJW_APPROACH_MPS:
            seen = sum(self._is_seen(other) for other in in_range) >= QUEUE_MIN
            (self._must if seen else self._unseen).observe("TJW", vid, None, t)
        else:
            self._may.observe("TJW", vid, None, t, ttc_s=tail / speed)
        return True

    def _known_route_m(
        self, route: tuple[str, ...], at: int, pos: float, signals: int, lane: str
    ) -> float:
        """How far along its route (m) a vehicle's way can be known from the road and what it
        shows: to the end of its edge, on through each junction its route crosses straight on
        (``_turn``), and through the first junction also when it turns the way its indicator
        says (SUMO's blinker bits: 1 right, 2 left) or its lane allows no other way. Beyond a
        turn it does not announce, where it goes is its driver's."""
        known = self._length(lane) - pos
        for k in range(at, len(route) - 1):
            turn = self._turn(route[k], route[k + 1])
            if turn != "s" and not (k == at and self._announced(turn, signals, lane)):
                break
            known += self._length(f"{route[k + 1]}_0")
        else:
            return math.inf  # the trip ends on its route: nothing beyond is asked
        return known

    def _announced(self, turn: str, signals: int, lane: str) -> bool:
        """Whether a vehicle on ``lane`` showing ``signals`` announces ``turn`` at its next
        junction: its indicator, or a lane whose every link turns that way."""
        if (turn in "lt" and signals & 2) or (turn == "r" and signals & 1):
            return True
        found = self._lane_turns.get(lane)
        if found is None:
            links = self.traci.lane.getLinks(lane)
            found = self._lane_turns[lane] = frozenset(
                "l" if d in "lLt" else "r" if d in "rR" else "s" for d in (str(x[6]) for x in links)
            )
        return found == {"l" if turn in "lt" else turn}

    def _turn(self, edge: str, then: str) -> str:
        """The turn from ``edge`` into ``then`` by their junctions' positions: ``s`` within
        30° of straight on, ``t`` beyond 150° (back), else ``l`` or ``r``."""
        key = (edge, then)
        found = self._turns.get(key)
        if found is None:
            a, b = self._edge_heading(edge), self._edge_heading(then)
            d = (b - a + 180.0) % 360.0 - 180.0  # counter-clockwise positive: left
            found = self._turns[key] = (
                "s" if abs(d) <= 30.0 else "t" if abs(d) > 150.0 else "l" if d > 0 else "r"
            )
        return found

    def _edge_heading(self, edge: str) -> float:
        """An edge's direction (degrees counter-clockwise from east), from its junctions."""
        e = self.traci.edge
        x0, y0 = self.traci.junction.getPosition(e.getFromJunction(edge))
        x1, y1 = self.traci.junction.getPosition(e.getToJunction(edge))
        return math.degrees(math.atan2(y1 - y0, x1 - x0))

    def _hazard_ahead(
        self, vid: str, t: float, route: tuple[str, ...], at: int, pos: float,
        hazards: dict[str, list[tuple[float, str]]], in_collision: bool = False,
    ) -> None:  # fmt: skip
        found = self._ahead(route, at, pos, hazards, reach_m=GREY_RANGE_M, me=vid)
        if not found:
            return
        if found[0][0] <= RANGE_M and not in_collision:
            seen = any(self._is_seen(other) for d, other in found if d <= RANGE_M)
            (self._must if seen else self._unseen).observe("HLW", vid, None, t)
        else:
            self._may.observe("HLW", vid, None, t)

    def _sign_on(self, vid: str, t: float, edge: str, pos: float) -> None:
        """IVS: a vehicle on a sign's road must be told of it (module docstring)."""
        if edge in self._signs:
            tracker = self._must if pos >= SIGN_START_M else self._may
            tracker.observe("IVS", vid, None, t)

    def _glosa_sample(self, vid: str, t: float, speed: float, lane: str) -> None:
        if not self._is_connected(vid):
            return
        ahead = self.traci.vehicle.getNextTLS(vid)
        if not ahead or not GLOSA_MIN_DISTANCE_M <= ahead[0][2] <= RANGE_M:
            return
        tls, link, distance, _ = ahead[0]
        edge, limit = self._approach(str(tls), int(link))
        if edge_of_lane(lane) != edge:  # before an upstream junction: grey (docstring)
            return
        if len(self._samples) == self._samples.maxlen:
            self.dropped += 1
        self._samples.append((vid, t, str(tls), int(link), float(distance), limit))

    def glosa_advisory(
        self,
        vehicle: str,
        time_s: float,
        values: dict[str, float],
        other_id: str | None,
        latency_ms: float | None,
    ) -> None:
        """Record a GLOSA advisory issued now to ``vehicle`` (SUMO id) with what SUMO says of
        it now (the advisory is judged at the end, against the realised signals). A vehicle
        that has already left the simulation (its trip ended while the advice was on its way)
        is recorded as a trip that ends before any signal: grey, counted in ``gone``."""
        veh = self.traci.vehicle
        try:
            ahead = veh.getNextTLS(vehicle)
            is_route_end = not ahead and not self._signal_left(
                str(veh.getLaneID(vehicle)), veh.getRoute(vehicle), int(veh.getRouteIndex(vehicle))
            )
            if not ahead and not is_route_end:
                ahead = self._signal_on_route(vehicle)
        except self.traci.TraCIException:
            if not self.gone:
                logger.info(
                    "GLOSA advice to %s, which has left the simulation: judged grey", vehicle
                )
            self.gone += 1
            ahead, is_route_end = (), True
        try:
            node = int((other_id or "").split("/", 1)[0].removeprefix("node:"))
        except ValueError:
            node = -1
        tls, link, distance = (str(ahead[0][0]), int(ahead[0][1]), float(ahead[0][2])) if ahead else (None, -1, math.nan)  # fmt: skip
        if len(self.advice) == self.advice.maxlen:
            self.dropped += 1
        self.advice.append(
            GlosaAdvice(
                vehicle=vehicle,
                time_s=time_s,
                low_mps=float(values.get("advised_min_mps", 0.0)),
                high_mps=float(values.get("advised_max_mps", math.inf)),
                named_tls=self._tls_of_node.get(node),
                tls=tls,
                link=link,
                distance_m=distance,
                limit_mps=self._approach(tls, link)[1] if tls is not None else math.inf,
                latency_ms=latency_ms,
                is_route_end=is_route_end,
            )
        )

    # --- at the end -----------------------------------------------------------------------

    def finish(self) -> list[Episode]:
        """The TJW and HLW episodes (grey-zone ones with ``is_required`` False)."""
        must = self._must.finish()
        unseen = [msgspec.structs.replace(e, is_observable=False) for e in self._unseen.finish()]
        # a must situation seen in one sample only is too brief to require a warning, and a
        # warning then is not false: grey (docs/scoring.md, issue 15's seventh session)
        brief = [*self._may.finish(), *self._must.short, *self._unseen.short]
        may = [msgspec.structs.replace(e, is_required=False) for e in brief]
        # a sample stands for the second around it (its nearest sample judges any moment)
        half = SAMPLE_S / 2
        return [
            msgspec.structs.replace(e, start_s=e.start_s - half, end_s=e.end_s + half)
            for e in (*must, *may, *unseen)
        ]

    def _greens(self, tls: str, link: int) -> list[tuple[float, float]]:
        key = (tls, link)
        found = self._green_cache.get(key)
        if found is None:
            changes = self._changes.get(tls, [])
            found = self._green_cache[key] = green_intervals(changes, link, end_s=self._end_s)
        return found

    def glosa_score(self, vehicle_hours: float) -> AppScore:
        """GLOSA's figures in this run (module docstring): warnings right/false by content,
        recall over the approaches where a constant speed would have met the next green."""
        score = AppScore(app="GLOSA", vehicle_hours=vehicle_hours)
        runs: dict[tuple[str, str | None], list[list[GlosaAdvice]]] = {}
        for a in sorted(self.advice, key=lambda a: a.time_s):
            group = runs.setdefault((a.vehicle, a.named_tls), [])
            if group and a.time_s - group[-1][-1].time_s <= WARNING_GAP_S:
                group[-1].append(a)
            else:
                group.append([a])
        warned: dict[tuple[str, str | None], list[tuple[float, float]]] = {}
        for key, warnings in runs.items():
            for w in warnings:
                score.warnings += 1
                verdicts = [self._verdict(a) for a in w]
                score.matched_warnings += ADVICE_WRONG not in verdicts
                if w[0].latency_ms is not None:
                    score.latencies_ms.append(w[0].latency_ms)
                warned.setdefault(key, []).append((w[0].time_s, w[-1].time_s))
        for vid, tls, start, end in self._approaches():
            score.episodes += 1
            spans = warned.get((vid, tls), [])
            if any(s0 <= end + LATE_S and s1 >= start - EARLY_S for s0, s1 in spans):
                score.detected += 1
        return score

    def _verdict(self, a: GlosaAdvice) -> str:
        if a.tls is None:  # past the stop line is wrong; a trip ending first, unknowable
            return ADVICE_GREY if a.is_route_end else ADVICE_WRONG
        return judge_advice(a, self._greens(a.tls, a.link), end_s=self._end_s)

    def verdicts(self) -> dict[str, int]:
        """How many GLOSA advisories were right, grey and wrong in this run."""
        out = {ADVICE_RIGHT: 0, ADVICE_GREY: 0, ADVICE_WRONG: 0}
        for a in self.advice:
            out[self._verdict(a)] += 1
        return out

    def _approaches(self) -> list[tuple[str, str, float, float]]:
        """(vehicle, traffic light, start, end) of every approach that must be advised."""
        out: list[tuple[str, str, float, float]] = []
        open_: dict[tuple[str, str], list[float]] = {}
        for vid, t, tls, link, distance, limit in self._samples:
            if not self._reachable(t, distance, limit, self._greens(tls, link)):
                continue
            span = open_.get((vid, tls))
            if span is not None and t - span[1] <= SAMPLE_S * 1.5:
                span[1] = t
                continue
            if span is not None:
                out.append((vid, tls, span[0], span[1]))
            open_[(vid, tls)] = [t, t]
        out += [(vid, tls, s[0], s[1]) for (vid, tls), s in open_.items()]
        return out

    def _reachable(
        self, t: float, distance: float, limit: float, greens: list[tuple[float, float]]
    ) -> bool:
        """Whether the next green (the current one when green) of ``greens`` is met at a
        constant speed from ``GLOSA_FLOOR_MPS`` to ``limit``, ``GLOSA_EDGE_S`` inside it."""
        if limit <= GLOSA_FLOOR_MPS:
            return False
        k = bisect.bisect_right([g1 for _, g1 in greens], t)
        if k >= len(greens):
            return False
        g0, g1 = greens[k]
        if g1 >= self._end_s:
            return False  # its end is not known: the run stopped during it
        first, last = t + distance / limit, t + distance / GLOSA_FLOOR_MPS
        return max(first, g0 + GLOSA_EDGE_S) <= min(last, g1 - GLOSA_EDGE_S)
