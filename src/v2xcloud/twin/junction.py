"""A signalised junction: MAP geometry joined with its latest SPAT, in a local metric frame.

Ingress lanes (lanes with connections that are not crosswalks) are indexed 0..k-1 in
``Junction.lanes``; the SPAT's counting-down times are aged by the time elapsed since the SPAT
was stamped. Vehicles are matched to lanes once per tick by the scene (``geo.LaneMap``, the
view's ``lane``/``to_stop_m`` columns); ``junctions_of(view)`` joins that match to the
junctions: which ingress lane of which junction each ``LaneMap`` lane is.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.geo.frame import LocalFrame
from v2xcloud.geo.lanes import LaneMap
from v2xcloud.model import (
    Connection,
    IntersectionState,
    Lane,
    LightState,
    MapLink,
    MapNode,
    NodeId,
)
from v2xcloud.twin.view import SceneView

__all__ = [
    "TURN_ON_RED",
    "Junction",
    "Junctions",
    "PhaseTiming",
    "is_ingress_lane",
    "junctions_of",
]

TURN_ON_RED = frozenset({"maneuverRightTurnOnRedAllowed", "maneuverLeftTurnOnRedAllowed"})


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class PhaseTiming(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A phase's light now and, in seconds from now, when it changes (``None``: unknown)."""

    light: LightState
    remaining_s: float | None
    next_light: LightState | None = None
    next_end_s: float | None = None

    def green_windows(self, horizon_s: float) -> list[tuple[float, float]]:
        """Green intervals (start, end) in seconds from now within ``horizon_s``."""
        windows = []
        end_now = horizon_s if self.remaining_s is None else min(self.remaining_s, horizon_s)
        if self.light.is_green:
            windows.append((0.0, end_now))
        if (
            self.next_light is not None
            and self.next_light.is_green
            and self.remaining_s is not None
        ):
            end = horizon_s if self.next_end_s is None else min(self.next_end_s, horizon_s)
            if self.remaining_s < end:
                windows.append((self.remaining_s, end))
        return windows


def is_ingress_lane(lane: Lane) -> bool:
    """A lane vehicles approach the junction on: it has connections, is no crosswalk, and
    has a centre line."""
    return bool(lane.connections) and lane.lane_type != "crosswalk" and len(lane.points) >= 2


def _limit_mps(lane: Lane, link: MapLink) -> float | None:
    limits = [
        s.speed_mps
        for s in (*lane.speed_limits, *link.speed_limits)
        if s.kind in ("vehicleMaxSpeed", "maxSpeedInSchoolZone", "maxSpeedInConstructionZone")
    ]
    return min(limits) if limits else None


class Junction:
    """One MAP node with its signal state; lane indices refer to ``lanes``."""

    def __init__(self, node: MapNode, frame: LocalFrame) -> None:
        self.node = node
        self.frame = frame
        self.lanes: list[Lane] = []
        #: each ingress lane's approach: the index of its link in ``node.in_links`` (the road
        #: it comes in on; lanes of one approach share it)
        self.approach: list[int] = []
        self.speed_limit_mps: list[float | None] = []
        stops, lengths = [], []
        for k, link in enumerate(node.in_links):
            for lane in link.lanes:
                if not is_ingress_lane(lane):
                    continue
                self.approach.append(k)
                lat = np.array([p[0] for p in lane.points])
                lon = np.array([p[1] for p in lane.points])
                x, y = frame.to_local(lat, lon)
                stops.append((float(x[-1]), float(y[-1])))
                lengths.append(float(np.hypot(np.diff(x), np.diff(y)).sum()))
                self.lanes.append(lane)
                self.speed_limit_mps.append(_limit_mps(lane, link))
        #: local (x, y) of each ingress lane's stop line (the end of its centre line)
        self.stop_xy = np.array(stops, dtype=np.float64).reshape(-1, 2)
        #: length of each ingress lane's centre line (m)
        self.length_m = np.array(lengths, dtype=np.float64)
        self._signals: IntersectionState | None = None
        self._signals_ms = 0
        # ``phase`` answers of one instant (the apps of a tick ask the same few phases for
        # every vehicle): phase id -> timing at ``_timings_ms``; dropped on a new signal state
        self._timings: dict[int, PhaseTiming | None] = {}
        self._timings_ms: int | None = None
        self._main: dict[int, Connection] = {}

    def update_signals(self, state: IntersectionState, *, received_ms: int) -> None:
        """Take a new signal state; its times count from its own stamp (or ``received_ms``)."""
        stamp = state.timestamp_ms if state.timestamp_ms is not None else received_ms
        if state is not self._signals or stamp != self._signals_ms:
            self._timings_ms = None
        self._signals = state
        self._signals_ms = stamp

    def clear_signals(self) -> None:
        """Forget the signal state (no SPAT for this junction any more)."""
        self._signals, self._signals_ms = None, 0
        self._timings_ms = None

    @property
    def has_signals(self) -> bool:
        """Whether a SPAT has been joined."""
        return self._signals is not None

    def phase(self, phase_id: int | None, now_ms: int) -> PhaseTiming | None:
        """The timing of ``phase_id`` at ``now_ms``, or ``None`` without SPAT or phase."""
        if self._signals is None or phase_id is None:
            return None
        if self._timings_ms != now_ms:
            self._timings.clear()
            self._timings_ms = now_ms
        if phase_id in self._timings:
            return self._timings[phase_id]
        found = self._timings[phase_id] = self._phase(phase_id, now_ms)
        return found

    def _phase(self, phase_id: int, now_ms: int) -> PhaseTiming | None:
        assert self._signals is not None
        age_s = max(0.0, (now_ms - self._signals_ms) / 1000.0)
        for phase in self._signals.phases:
            if phase.phase_id != phase_id or not phase.states:
                continue
            cur = phase.states[0]
            end = cur.likely_end_s if cur.likely_end_s is not None else cur.min_end_s
            nxt = phase.states[1] if len(phase.states) > 1 else None
            nxt_end = None if nxt is None else nxt.likely_end_s
            return PhaseTiming(
                light=cur.light,
                remaining_s=None if end is None else max(0.0, end - age_s),
                next_light=None if nxt is None else nxt.light,
                next_end_s=None if nxt_end is None else max(0.0, nxt_end - age_s),
            )
        return None

    def movements(self, lane_index: int) -> tuple[Connection, ...]:
        """Connections (movements with their phases) of an ingress lane."""
        return self.lanes[lane_index].connections

    def main_movement(self, lane_index: int) -> Connection:
        """The lane's straight-on connection if it has one, else its first."""
        found = self._main.get(lane_index)
        if found is None:
            conns = self.lanes[lane_index].connections
            found = next((c for c in conns if "maneuverStraightAllowed" in c.maneuvers), conns[0])
            self._main[lane_index] = found
        return found


class Junctions(NamedTuple):
    """A tick's junctions and, per ``LaneMap`` lane index, the junction (index into
    ``junctions``, -1: not an ingress lane of a known junction) and its lane index there."""

    junctions: tuple[Junction, ...]
    junction_of_lane: npt.NDArray[np.int64]
    local_lane: npt.NDArray[np.int64]


#: junctions compiled per lane map (the scene builds a new ``LaneMap`` for each new MAP)
_compiled: weakref.WeakKeyDictionary[LaneMap, dict[NodeId, Junction]] = weakref.WeakKeyDictionary()


def _compile(lanes: LaneMap, view: SceneView) -> dict[NodeId, Junction]:
    by_node = _compiled.get(lanes)
    if by_node is None:
        by_node = {
            node_id: Junction(place.node, view.frame)
            for node_id, place in view.intersections.items()
            if place.node is not None
        }
        _compiled[lanes] = by_node
    return by_node


def _join(view: SceneView) -> Junctions:
    lanes = view.lanes
    if lanes is None:
        none = np.empty(0, dtype=np.int64)
        return Junctions(junctions=(), junction_of_lane=none, local_lane=none)
    by_node = _compile(lanes, view)
    junctions = tuple(by_node.values())
    for junction in junctions:
        place = view.intersections.get(junction.node.id)
        if place is not None and place.signal is not None:
            received = place.signal_received_ms or view.now_ms
            junction.update_signals(place.signal, received_ms=received)
        else:
            junction.clear_signals()
    position = {j.node.id: k for k, j in enumerate(junctions)}
    local = {(j.node.id, lane.lane_id): i for j in junctions for i, lane in enumerate(j.lanes)}
    junction_of = np.full(len(lanes.lanes), -1, dtype=np.int64)
    local_lane = np.full(len(lanes.lanes), -1, dtype=np.int64)
    for info in lanes.lanes:
        i = local.get((info.node, info.lane.lane_id))
        if i is not None:
            junction_of[info.index], local_lane[info.index] = position[info.node], i
    return Junctions(junctions=junctions, junction_of_lane=junction_of, local_lane=local_lane)


def junctions_of(view: SceneView) -> Junctions:
    """The junctions of ``view`` with their signal state now, joined to the scene's lane match
    (computed once per tick and shared by every V2I app and detector)."""
    return view.shared("twin.junctions", lambda: _join(view))
