"""The closed loop between the simulated vehicles and the platform's coordination.

Day-1 apps warn; the Day-2 coordination apps (cooperative lane change, merge, intersection
passing, priority, platoons) tell vehicles what to do, and the bench must let SUMO's vehicles
do it. Two halves:

- ``IntentionSource`` (up-link): every connected vehicle with an intention states it in a VIR
  built from SUMO's own state and route: a lane change its route needs (SUMO's best lanes: the
  lane it is on ends or does not lead where it goes) as ``laneChangingToLeft/Right`` with a
  ``Req-LaneChange`` naming the target lane (``rampIn`` too when it comes from a ramp), the
  junction ahead (``intersectionStraightThrough/TurnLeft/TurnRight``), and its planned path:
  points ahead along its route at its current speed, each with its time and MAP link. The
  runner sends these VIRs over the same channel as BSMs (latency, loss).
- ``CoordinationFollower`` (down-link): an RSC reaching a vehicle (over the Day-2 down-link,
  decoded again from its bytes as the vehicle's OBU would) is turned into traci commands for
  that vehicle's ``VehicleCoordination``, held for its time window (``life_time_s`` after the
  RSC's timestamp): ``laneChangingToLeft/Right`` → ``changeLane``; ``goStraightForward`` →
  stay in lane; ``stop`` → speed 0; a path-guidance point with a time → the speed that reaches
  that point at that time (distance along the route / time left), a point with a speed → that
  speed; an intersection movement (``intersectionStraightThrough``, ...) → the platform has
  granted the vehicle its slot through an unsignalised junction: for the window it passes by
  that grant instead of the junction's right of way (SUMO speed mode 23: every other safety
  check kept, the one that yields to the priority road off; the plan has held the others
  back); ``slow-down``/``speed-up`` → the guidance's speed, reached at a comfortable rate
  (``comfort_decel_mps2``/``comfort_accel_mps2``, as a driver or an automated vehicle
  following advice would, not SUMO's emergency braking). SUMO's safety layer stays on
  (speed mode 31, lane-change mode: safe gaps only), so a plan can ask, never force: a
  vehicle does not change lanes into a gap SUMO finds unsafe, nor drive into the one ahead.
  When the window ends the vehicle is released to its driver model. The newest coordination
  replaces the one being followed, except that a grant to pass a junction never lifts a hold
  (``stop``/``slow-down``) another roadside gave (its ``rsu_id`` differs) before that hold's
  window ends: two apps' plans, e.g. CIP's slot and VSP's hold for a person on the crossing,
  are combined on the safe side.

Both are generic: an app only needs to send RSC. The follower records every manoeuvre window
(``windows``) so a probe can measure TTC, gaps and collisions during the manoeuvres.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from v2xcloud.codec import Decoded, decode, message_set_of
from v2xcloud.geo import LocalFrame
from v2xcloud.model.day2 import (
    DriveRequest,
    LaneChangeRequest,
    LinkRef,
    PathPoint,
    Rsc,
    SignalPriorityRequest,
    VehicleCoordination,
    Vir,
)
from v2xcloud.model.map import NodeId
from v2xcloud.sim.identities import IdentityMap
from v2xcloud.sim.snapshot import edge_of_lane

__all__ = ["HORIZON_M", "CoordinationFollower", "IntentionSource", "Manoeuvre", "RoadGraph"]

HORIZON_M = 250.0  # a needed lane change or a junction this far ahead is an intention

logger = logging.getLogger(__name__)

_DEFAULT_WINDOW_S = 3.0  # a coordination without lifeTime holds this long
_MAX_WINDOWS = 10_000  # manoeuvre windows kept per run (oldest dropped first, counted)
_TURNS = {
    "s": "intersectionStraightThrough",
    "l": "intersectionTurnLeft",
    "r": "intersectionTurnRight",
    "t": "intersectionUTurn",
}
_REQ_LANE_CHANGE = 1  # reqID of a route's lane change (one open request of that kind)
_REQ_PASSING = 2  # reqID of passing the junction ahead
_REQ_PRIORITY = 3  # reqID of signal priority at the traffic light ahead
#: vehicle types that ask for signal priority (T/CSAE 157 reqPriority 0..7: highest first)
PRIORITY_REQUESTS = {"emergency": 7, "bus": 5}
_SPEED_MODE_DEFAULT = 31  # SUMO: safe speed, accel/decel limits, right of way, red lights
_SPEED_MODE_GRANTED = 23  # the same without yielding at the junction: passing by the plan's grant
_GRANTS = frozenset(_TURNS.values())
_HOLDS = frozenset({"stop", "slow-down"})  # suggestions that hold a vehicle back


class RoadGraph:
    """What the bench knows of the network to name things as the MAP does: SUMO junction id →
    MAP node number, SUMO lane id → MAP LaneID at its downstream node, SUMO edge id → its
    (upstream, downstream) junctions, ramp edges, and the intersections (junctions where
    three or more roads come in, as the MAP counts them)."""

    def __init__(
        self,
        *,
        node_numbers: dict[str, int],
        lane_numbers: dict[str, int],
        edge_nodes: dict[str, tuple[str, str]],
        ramp_edges: frozenset[str] = frozenset(),
        region: int = 1,
    ) -> None:
        incoming: Counter[str] = Counter(down for _, down in edge_nodes.values())
        self.intersections = frozenset(n for n, k in incoming.items() if k >= 3)
        self.node_numbers = node_numbers
        self.lane_numbers = lane_numbers
        self.edge_nodes = edge_nodes
        self.ramp_edges = ramp_edges
        self.region = region

    def link(self, edge: str, lanes: frozenset[int] = frozenset()) -> LinkRef | None:
        """The MAP link of SUMO edge ``edge`` (``None`` for a junction's internal edge)."""
        ends = self.edge_nodes.get(edge)
        if ends is None:
            return None
        up, down = ends
        return LinkRef(
            upstream_node=NodeId(region=self.region, id=self.node_numbers[up]),
            downstream_node=NodeId(region=self.region, id=self.node_numbers[down]),
            lanes=lanes,
        )


@dataclass
class Manoeuvre:
    """One coordination a vehicle followed: SUMO id, what it did, its window (simulation s)
    and the app's scenario bits (``info``)."""

    vehicle: str
    actions: frozenset[str]
    start_s: float
    end_s: float
    info: frozenset[str]


class IntentionSource:
    """Builds each connected vehicle's VIR from SUMO (see the module docstring).

    ``period_ms``: how often a vehicle with an intention sends (aligned on simulation time);
    ``horizon_m``: how far ahead a needed lane change or a junction counts as an intention;
    ``path_points``/``path_step_s``: the planned path's points and their spacing in time.
    """

    def __init__(
        self,
        *,
        traci: Any,
        ids: IdentityMap,
        frame: LocalFrame,
        graph: RoadGraph,
        epoch_ms: int,
        period_ms: int = 500,
        horizon_m: float = HORIZON_M,
        path_points: int = 6,
        path_step_s: float = 1.0,
    ) -> None:
        self.traci = traci
        self.ids = ids
        self.frame = frame
        self.graph = graph
        self.epoch_ms = epoch_ms
        self.period_ms = period_ms
        self.horizon_m = horizon_m
        self.path_points = path_points
        self.path_step_s = path_step_s
        self.sent: Counter[str] = Counter()  # DriveBehavior bit -> VIRs stating it
        self._counts: dict[str, int] = {}  # msgCnt per vehicle (vehicles leave: pruned)

    def intentions(
        self, vehicle_ids: list[str], sim_ms: int, step_ms: int
    ) -> list[tuple[str, Vir]]:
        """The VIRs due at simulation time ``sim_ms``: (SUMO id, VIR) per connected vehicle
        that has an intention now."""
        if sim_ms % self.period_ms >= step_ms:
            return []
        present = set(vehicle_ids)
        for gone in [v for v in self._counts if v not in present]:
            del self._counts[gone]
        out = []
        for vid in vehicle_ids:
            if not self.ids.is_connected(vid):
                continue
            vir = self._vir(vid, sim_ms)
            if vir is not None:
                out.append((vid, vir))
        return out

    def _vir(self, vid: str, sim_ms: int) -> Vir | None:
        veh = self.traci.vehicle
        behavior: set[str] = set()
        requests: list[DriveRequest] = []
        lane_id = veh.getLaneID(vid)
        edge = veh.getRoadID(vid)
        if not lane_id or edge.startswith(":"):
            return None  # inside a junction: it states its intention again after it
        index = veh.getLaneIndex(vid)
        position = veh.getLanePosition(vid)
        change = self._needed_change(vid, lane_id, position)
        if change is not None:
            offset, _, ending = change
            behavior.add("laneChangingToLeft" if offset > 0 else "laneChangingToRight")
            route = veh.getRoute(vid)
            at = veh.getRouteIndex(vid)
            if edge in self.graph.ramp_edges or (at > 0 and route[at - 1] in self.graph.ramp_edges):
                behavior.add("rampIn")
            end_edge, end_index = ending.rsplit("_", 1)
            target = f"{end_edge}_{int(end_index) + offset}"  # beside where its lane ends
            ends = self.graph.edge_nodes.get(end_edge)
            number = self.graph.lane_numbers.get(target)
            if ends is not None and number is not None:
                up, down = (self.graph.node_numbers[n] for n in ends)
                region = self.graph.region
                requests.append(
                    DriveRequest(
                        request_id=_REQ_LANE_CHANGE,
                        life_time_s=5.0,
                        lane_change=LaneChangeRequest(
                            upstream_node=NodeId(region=region, id=up),
                            downstream_node=NodeId(region=region, id=down),
                            target_lane=number,
                        ),
                    )
                )
        turn = self._junction_ahead(vid, lane_id, position)
        if turn is not None:
            behavior.add(turn)
            requests.append(DriveRequest(request_id=_REQ_PASSING, life_time_s=5.0))
        priority = self._priority_request(vid)
        if priority is not None:
            behavior.add(priority[0])
            requests.append(priority[1])
        if not behavior:
            return None
        x, y = veh.getPosition(vid)
        speed = veh.getSpeed(vid)
        heading = veh.getAngle(vid) % 360.0
        lat, lon = self.frame.to_wgs84(x, y)
        link = self.graph.link(edge, frozenset({index + 1}))
        current = PathPoint(
            lat_deg=float(lat), lon_deg=float(lon), speed_mps=speed, heading_deg=heading, link=link
        )
        count = self._counts.get(vid, -1) + 1
        self._counts[vid] = count
        for b in behavior:
            self.sent[b] += 1
        return Vir(
            msg_count=count % 128,
            sender_id=self.ids.bsm_id(vid),
            timestamp_ms=self.epoch_ms + sim_ms,
            ref_lat_deg=float(lat),
            ref_lon_deg=float(lon),
            behavior=frozenset(behavior),
            current=current,
            path=self._path(vid, edge, index, position, speed),
            requests=tuple(requests),
        )

    def _priority_request(self, vid: str) -> tuple[str, DriveRequest] | None:
        """(the movement's DriveBehavior, a ``Req-SignalPriority``) for a vehicle of a type
        that asks for priority (``PRIORITY_REQUESTS``) with a traffic light within the
        horizon, else ``None``."""
        level = PRIORITY_REQUESTS.get(self.traci.vehicle.getTypeID(vid))
        if level is None:
            return None
        ahead = self.traci.vehicle.getNextTLS(vid)
        if not ahead or ahead[0][2] > self.horizon_m or ahead[0][0] not in self.graph.node_numbers:
            return None
        tls, _, distance, _ = ahead[0]
        links = self.traci.vehicle.getNextLinks(vid)
        route, at = self.traci.vehicle.getRoute(vid), self.traci.vehicle.getRouteIndex(vid)
        ends = self.graph.edge_nodes.get(route[at + 1]) if at + 1 < len(route) else None
        if not links or ends is None:
            return None
        region = self.graph.region
        speed = max(self.traci.vehicle.getSpeed(vid), 0.1)
        ask = SignalPriorityRequest(
            intersection_id=NodeId(region=region, id=self.graph.node_numbers[tls]),
            remote_node=NodeId(region=region, id=self.graph.node_numbers[ends[1]]),
            arrival_s=round(min(distance / speed, 655.35), 2),
            distance_m=round(distance, 1),
        )
        request = DriveRequest(
            request_id=_REQ_PRIORITY, priority=level, life_time_s=10.0, signal_priority=ask
        )
        return _TURNS.get(links[0][6], "intersectionStraightThrough"), request

    def _needed_change(
        self, vid: str, lane_id: str, position: float
    ) -> tuple[int, float, str] | None:
        """(+1 left / -1 right, metres left to do it, the lane that ends) when the lanes the
        vehicle can follow
        without changing end within the horizon before its route does (a lane drop, an
        acceleration lane after an on-ramp, a lane not leading where it goes), else ``None``.
        The side is SUMO's best-lane offset, or the left when SUMO sees no better lane yet
        (a one-lane on-ramp joins on the right: right-hand traffic)."""
        run = self._lane_run(vid, lane_id, position)
        if run is None:
            return None
        left, ending = run
        for entry in self.traci.vehicle.getBestLanes(vid):
            if entry[0] == lane_id and entry[3] < 0:
                return -1, left, ending
        return 1, left, ending

    def _lane_run(self, vid: str, lane_id: str, position: float) -> tuple[float, str] | None:
        """Metres until the lane sequence followed without a lane change ends, and its last
        lane, when that is within the horizon and before the route's end; else ``None``."""
        traci = self.traci
        route = traci.vehicle.getRoute(vid)
        at = traci.vehicle.getRouteIndex(vid)
        lane = lane_id
        run = traci.lane.getLength(lane) - position
        while run <= self.horizon_m:
            if at + 1 >= len(route):
                return None  # the route ends first
            nxt = route[at + 1]
            follow = [
                link[0] for link in traci.lane.getLinks(lane) if link[0].startswith(f"{nxt}_")
            ]
            if not follow:
                return run, lane
            lane = follow[0]
            at += 1
            run += traci.lane.getLength(lane)
        return None

    def _junction_ahead(self, vid: str, lane_id: str, position: float) -> str | None:
        """The DriveBehavior of the movement at the junction ahead when it is an intersection
        without signals within the horizon, else ``None``."""
        ends = self.graph.edge_nodes.get(edge_of_lane(lane_id))
        if ends is None or ends[1] not in self.graph.intersections:
            return None
        left = self.traci.lane.getLength(lane_id) - position
        if left > self.horizon_m or self.traci.vehicle.getNextTLS(vid):
            return None
        links = self.traci.vehicle.getNextLinks(vid)
        return _TURNS.get(links[0][6]) if links else None

    def _path(
        self, vid: str, edge: str, index: int, position: float, speed: float
    ) -> tuple[PathPoint, ...]:
        """Points ahead along the route at the current speed, ``path_step_s`` apart."""
        if speed <= 0.1:
            return ()
        veh, traci = self.traci.vehicle, self.traci
        route = veh.getRoute(vid)
        at = veh.getRouteIndex(vid)
        out = []
        for k in range(1, self.path_points + 1):
            t = k * self.path_step_s
            ahead = position + speed * t
            i, e, lane = at, edge, index
            while True:
                n_lanes = traci.edge.getLaneNumber(e)
                lane = min(lane, n_lanes - 1)
                length = traci.lane.getLength(f"{e}_{lane}")
                if ahead <= length or i + 1 >= len(route):
                    ahead = min(ahead, length)
                    break
                ahead -= length
                i += 1
                e = route[i]
            x, y = traci.simulation.convert2D(e, ahead, lane)
            lat, lon = self.frame.to_wgs84(x, y)
            out.append(
                PathPoint(
                    lat_deg=float(lat),
                    lon_deg=float(lon),
                    speed_mps=speed,
                    time_s=t,
                    link=self.graph.link(e),
                )
            )
        return tuple(out)


@dataclass
class _Active:
    """A coordination a vehicle is following: until ``end_s`` (simulation s)."""

    coordination: VehicleCoordination
    issued_s: float  # the RSC's timestamp, simulation s
    end_s: float
    window: Manoeuvre
    lane_target: int | None = None
    is_granted: bool = False  # passing a junction by the plan's grant (speed mode changed)
    sender: str = ""  # the RSC's rsu_id


class CoordinationFollower:
    """Applies the RSCs that reach vehicles (see the module docstring).

    ``receive`` takes the bytes as delivered to one vehicle; ``step`` (once per simulation
    step, after SUMO stepped) keeps every active coordination applied and releases the
    finished ones. ``stats`` counts what happened: RSCs received, coordinations followed per
    action, windows ended, frames not decodable, RSCs naming others only.
    """

    def __init__(
        self,
        *,
        traci: Any,
        ids: IdentityMap,
        frame: LocalFrame,
        epoch_ms: int,
        message_set: str,
        step_s: float = 0.1,
        comfort_decel_mps2: float = 2.0,
        comfort_accel_mps2: float = 1.5,
    ) -> None:
        self.traci = traci
        self.ids = ids
        self.frame = frame
        self.epoch_ms = epoch_ms
        self.step_s = step_s
        self.comfort_decel_mps2 = comfort_decel_mps2
        self.comfort_accel_mps2 = comfort_accel_mps2
        self.message_set = message_set_of(message_set)
        self.active: dict[str, _Active] = {}  # one per vehicle: the newest, but see _start
        self.windows: deque[Manoeuvre] = deque(maxlen=_MAX_WINDOWS)
        self.windows_dropped = 0
        self.stats: Counter[str] = Counter()

    def receive(self, to: str, raw: bytes, arrive_ms: int) -> None:
        """An RSC frame reached vehicle ``to`` (SUMO id) at ``arrive_ms`` (UTC ms)."""
        result = decode(raw, message_set=self.message_set, received_at_ms=arrive_ms)
        if not isinstance(result, Decoded):
            self.stats["undecodable"] += 1
            logger.warning("vehicle %s could not decode a down-link frame: %s", to, result.detail)
            return
        message = result.to_model()
        if not isinstance(message, Rsc):
            return
        self.stats["rsc_received"] += 1
        mine = self.ids.bsm_id(to)
        found = [c for c in message.coordinations if c.vehicle_id == mine]
        if not found:
            self.stats["rsc_for_others"] += 1
            return
        now_s = (arrive_ms - self.epoch_ms) / 1000.0
        issued_s = (message.timestamp_ms - self.epoch_ms) / 1000.0
        for c in found:
            try:
                self._start(to, c, issued_s, now_s, sender=message.rsu_id)
            except self.traci.TraCIException as exc:
                self.active.pop(to, None)
                self._refused(to, "start", exc)

    def _start(
        self, vid: str, c: VehicleCoordination, issued_s: float, now_s: float, *, sender: str = ""
    ) -> None:
        if vid not in self.traci.vehicle.getIDList():
            self.stats["vehicle_gone"] += 1
            return
        end_s = issued_s + (c.life_time_s if c.life_time_s is not None else _DEFAULT_WINDOW_S)
        if end_s <= now_s:
            self.stats["arrived_expired"] += 1  # the channel delayed it past its window
            return
        held = self.active.get(vid)
        if (
            held is not None
            and held.sender != sender
            and held.coordination.suggestion & _HOLDS
            and c.suggestion & _GRANTS
        ):  # a grant to pass never lifts another roadside's hold (e.g. for a person crossing)
            self.stats["grant_refused_while_held"] += 1
            return
        old = self.active.pop(vid, None)
        if old is not None:
            old.window.end_s = now_s
            if old.is_granted and not c.suggestion & _GRANTS:
                self.traci.vehicle.setSpeedMode(vid, _SPEED_MODE_DEFAULT)
        window = Manoeuvre(
            vehicle=vid, actions=c.suggestion, start_s=now_s, end_s=end_s, info=c.info
        )
        if len(self.windows) == self.windows.maxlen:
            self.windows_dropped += 1  # the oldest goes
        self.windows.append(window)
        lane_target = None
        veh = self.traci.vehicle
        index = veh.getLaneIndex(vid)
        if "laneChangingToLeft" in c.suggestion:
            lane_target = index + 1
        elif "laneChangingToRight" in c.suggestion:
            lane_target = index - 1
        elif "goStraightForward" in c.suggestion:
            lane_target = index
        if lane_target is not None:
            lanes = self.traci.edge.getLaneNumber(veh.getRoadID(vid))
            if 0 <= lane_target < lanes:
                veh.changeLane(vid, lane_target, end_s - now_s)
                self.stats["lane_command"] += 1
            else:
                lane_target = None
                self.stats["lane_unreachable"] += 1
        is_granted = bool(c.suggestion & _GRANTS)
        if is_granted:
            veh.setSpeedMode(vid, _SPEED_MODE_GRANTED)
            self.stats["granted"] += 1
        self.active[vid] = _Active(c, issued_s, end_s, window, lane_target, is_granted, sender)
        self.stats["followed"] += 1
        self._hold_speed(vid, self.active[vid], now_s)

    def step(self, now_s: float) -> None:
        """Keep every active coordination applied at simulation time ``now_s``; release the
        vehicles whose window ended (and forget those that left the road)."""
        present = set(self.traci.vehicle.getIDList())
        for vid in list(self.active):
            act = self.active[vid]
            if vid not in present:
                act.window.end_s = min(act.window.end_s, now_s)
                del self.active[vid]
                continue
            try:
                if now_s >= act.end_s:
                    del self.active[vid]
                    self._release(vid, act)
                    self.stats["released"] += 1
                    continue
                self._hold_speed(vid, act, now_s)
            except self.traci.TraCIException as exc:
                self.active.pop(vid, None)
                self._refused(vid, "step", exc)

    def _refused(self, vid: str, where: str, exc: Exception) -> None:
        """SUMO refused a command (a vehicle inside a junction, just teleported, ...): the
        coordination is dropped for that vehicle, counted, and logged the first time."""
        key = f"traci_refused:{where}"
        if not self.stats[key]:
            logger.warning("SUMO refused a coordination command for %s (%s): %s", vid, where, exc)
        self.stats[key] += 1

    def _release(self, vid: str, act: _Active) -> None:
        veh = self.traci.vehicle
        veh.setSpeed(vid, -1.0)
        if act.is_granted:
            veh.setSpeedMode(vid, _SPEED_MODE_DEFAULT)
        if act.lane_target is not None:
            veh.changeLane(vid, veh.getLaneIndex(vid), 0.0)  # the lane hold ends now

    def _hold_speed(self, vid: str, act: _Active, now_s: float) -> None:
        target = self._target_speed(vid, act, now_s)
        if target is None:
            self.traci.vehicle.setSpeed(vid, -1.0)  # this part of the plan leaves speed free
            return
        v = float(self.traci.vehicle.getSpeed(vid))
        if target < v:
            command = max(target, v - self.comfort_decel_mps2 * self.step_s)
        else:
            command = min(target, v + self.comfort_accel_mps2 * self.step_s)
        self.traci.vehicle.setSpeed(vid, max(0.0, command))

    def _target_speed(self, vid: str, act: _Active, now_s: float) -> float | None:
        """The speed the coordination asks for now, or ``None`` (the driver model's own)."""
        c = act.coordination
        if "stop" in c.suggestion:
            return 0.0
        for pt in c.path_guidance:
            if pt.time_s is not None:
                left_s = act.issued_s + pt.time_s - now_s
                if left_s <= 0.05:
                    continue  # that point's time has passed: the next one
                distance = self._distance_to(vid, pt)
                if distance is None or distance < 0:
                    continue  # behind the vehicle already
                return distance / left_s
            if pt.speed_mps is not None:
                return pt.speed_mps
        return None

    def _distance_to(self, vid: str, pt: PathPoint) -> float | None:
        x, y = self.frame.to_local(pt.lat_deg, pt.lon_deg)
        d = self.traci.vehicle.getDrivingDistance2D(vid, float(x), float(y))
        if d is None or not math.isfinite(d) or d < -1e9:  # SUMO: INVALID_DOUBLE_VALUE
            return None
        return float(d)
