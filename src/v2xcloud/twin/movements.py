"""Movements through a junction from its MAP, the conflict zones where two movements meet, and
which movement a vehicle is on.

A **movement** is one MAP ``Connection`` of an ingress lane: ingress lane → junction box →
egress lane (what the traffic-engineering literature calls a turning movement: straight,
left, right, U-turn). Its **path** is a polyline in the scene's local frame with arc length
``s`` (m): 0 at the stop line, negative upstream. It is the last ``approach_m`` of the ingress
lane's centre line, a cubic Bézier across the junction box from the stop line (tangent: the
lane's last heading) to the egress lane's first point (tangent: the egress lane's first
heading), and the first ``egress_m`` of the egress lane. The egress lane is lane
``remote_lane_id`` of ``remote_node`` when the map holds it (the K733 KML lists exit lanes
under the same node; a MAP built from SUMO lists them as ingress lanes of the next node);
otherwise it is synthesised from the manoeuvre: the stop line's offset from the node's
reference point, turned with the movement (a symmetric junction).

A **conflict zone** of two movements of one junction from different ingress lanes is where
their paths come within ``conflict_m`` (two half vehicle widths): crossing paths meet around
a conflict point, merging ones (into one egress lane) from the first point they come that
close. Each path's entry into it (``s``) is computed for every movement pair of a junction
once per MAP revision: ``movements_of`` caches per ``LaneMap``, which the scene builds anew
for every new MAP, and computes a junction's movements when it is first asked about.

``Movements.locate`` puts vehicles on movements: one matched to an ingress lane (the scene's
live lane match, ``lane``/``to_stop_m``) is on each of its lane's movements at
``s = -to_stop``; one in a junction box (no lane match, or a match clamped at the stop line it
has passed: the live match stops there) is on every box path running within ``box_match_m``
of it, in its direction (of its clamped lane, or the lane ``LaneMemory`` saw it on). ``weigh`` says
how likely each candidate is (``MovementWeights``: turn signal, speed profile, deceleration,
distance from the path, heading and yaw rate in the box; for a track known only from roadside
perception, the movements its lane's traffic was seen to take, ``LaneMemory.taken``).
"""

from __future__ import annotations

import math
import weakref
from typing import Generic, NamedTuple, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.bounded import LruTable
from v2xcloud.geo.frame import LocalFrame
from v2xcloud.geo.lanes import LaneMap
from v2xcloud.model import Connection, MapNode, NodeId
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin.flags import Flag, Kind
from v2xcloud.twin.junction import is_ingress_lane
from v2xcloud.twin.view import SceneView

__all__ = [
    "LEFT",
    "RIGHT",
    "SLOWED",
    "STEADY",
    "STRAIGHT",
    "UNKNOWN",
    "UTURN",
    "Candidates",
    "LaneMemory",
    "MovementPath",
    "MovementWeights",
    "Movements",
    "MovementsMemo",
    "movements_of",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_K = TypeVar("_K")
_V = TypeVar("_V")

STRAIGHT, LEFT, RIGHT, UTURN = 0, 1, 2, 3
#: how a vehicle entered a junction box (``LaneMemory.entry``)
UNKNOWN, STEADY, SLOWED = -1, 0, 1
_TURN_OF_MANEUVER = {
    "maneuverStraightAllowed": STRAIGHT,
    "maneuverLeftAllowed": LEFT,
    "maneuverRightAllowed": RIGHT,
    "maneuverUTurnAllowed": UTURN,
}
_STEP_M = 1.0  # sampling of the paths for the conflict search
_F_LEFT, _F_RIGHT = int(Flag.LEFT_SIGNAL), int(Flag.RIGHT_SIGNAL)
_F_PERCEPTION_ONLY = int(Flag.PERCEPTION_ONLY)


class MovementPath:
    """One movement: its ingress lane (``LaneMap`` index), connection, turn (``STRAIGHT``,
    ``LEFT``, ``RIGHT``, ``UTURN``), signal phase, heading at its stop line
    (``entry_heading_deg``, degrees clockwise from north), and path (``xy``, arc length
    ``s``; the junction box is ``0 <= s <= box_end_s``)."""

    __slots__ = (
        "box_end_s",
        "connection",
        "egress_known",
        "entry_heading_deg",
        "index",
        "junction",
        "lane",
        "local",
        "node",
        "phase_id",
        "s",
        "turn",
        "xy",
    )

    def __init__(
        self,
        *,
        index: int,
        junction: int,
        local: int,
        node: NodeId,
        lane: int,
        connection: Connection,
        turn: int,
        entry_heading_deg: float,
        xy: FloatArray,
        s: FloatArray,
        box_end_s: float,
        egress_known: bool,
    ) -> None:
        self.index = index
        self.junction = junction
        self.local = local
        self.node = node
        self.lane = lane
        self.connection = connection
        self.phase_id = connection.phase_id
        self.turn = turn
        self.entry_heading_deg = entry_heading_deg
        self.xy = xy
        self.s = s
        self.box_end_s = box_end_s
        self.egress_known = egress_known

    def point_at(self, s_m: float) -> tuple[float, float]:
        """The path's (x, y) at arc length ``s_m`` (clamped to the path)."""
        return float(np.interp(s_m, self.s, self.xy[:, 0])), float(
            np.interp(s_m, self.s, self.xy[:, 1])
        )


class Candidates(NamedTuple):
    """Vehicle-on-movement candidates, one entry each: the query's position (``query``, an
    index into the rows asked about), the movement (``path``), the vehicle's arc length on it
    (``s_m``), its distance from the path (``off_m``, 0 on an ingress lane) and how far its
    heading is from the path's there (``heading_off_deg``, 0 on an ingress lane)."""

    query: IntArray
    path: IntArray
    s_m: FloatArray
    off_m: FloatArray
    heading_off_deg: FloatArray


class MovementWeights(msgspec.Struct, frozen=True, kw_only=True):
    """How likely each candidate movement of a vehicle is (``Movements.weigh``), as factors
    normalised per vehicle. A turn signal multiplies its side's turns by ``signal``; without
    one, straight on is ``no_signal_straight`` times as likely as a turn (drivers signal turns).
    These are odds per manoeuvre: a lane connected into several exit lanes for one manoeuvre
    (straight on into both lanes ahead) splits that manoeuvre's odds among them (counted per
    connection, a car signalling right at speed on such a lane was taken as going straight:
    demo_district and unseen_grid4_dense, seed 4, 8 false ICW warnings over 5 seeds).
    A vehicle known only from roadside perception reports no indicators (an RSM carries none):
    its straight on counts ``perceived_straight`` (``None``: as one without a signal; ICW: 1,
    no evidence either way). With a ``LaneMemory`` that has watched the junction, such a
    vehicle's odds are the movements its lane's traffic was seen to take (``LaneMemory.taken``),
    those prior odds counting as ``observed_prior_n`` vehicles: a junction where half the
    traffic turns is not predicted straight on three times in four (demo_district: most false
    LTA warnings against a perceived oncoming car were against one that turned).
    A vehicle before its stop line that is too fast to make a turn braking at
    ``comfortable_decel_mps2`` down to ``turn_speed_mps`` by the line has its turns multiplied
    by ``too_fast``; in the box, a candidate ``off_m`` from the path counts
    ``exp(-(off/box_sigma_m)^2)``. In the box the track's turning weighs too (a car already
    turning is not on the straight path it is still near: demo_district, 6 of 21 false LTA
    warnings were oncoming cars partway into a turn, known only from roadside perception,
    predicted straight on): a straight path counts ``exp(-(dh/σ_h)^2/2)`` for the track's
    heading ``heading_off_deg`` from the path's there and ``exp(-(ω/σ_ω)^2/2)`` for its yaw
    rate ω; a turn counts the yaw-rate term only for a yaw toward the other side. σ_h and
    σ_ω combine the track's own σ with ``box_heading_sigma_deg`` / ``box_yaw_sigma_dps`` (a
    driver's line through a box against the drawn path). A turn is not weighed by heading:
    a tracker's heading lags a turn being entered (by 20 degrees 4 m into a tight right
    turn), and the path's heading there would count against the very turn it is making."""

    signal: float = 8.0
    no_signal_straight: float = 3.0
    turn_speed_mps: float = 8.0
    comfortable_decel_mps2: float = 3.0
    too_fast: float = 0.2
    box_sigma_m: float = 1.5
    box_heading_sigma_deg: float = 10.0
    box_yaw_sigma_dps: float = 4.0
    perceived_straight: float | None = None
    observed_prior_n: float = 4.0


def _heading(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _unit(heading_deg: float) -> FloatArray:
    h = math.radians(heading_deg)
    return np.array([math.sin(h), math.cos(h)])


def _turn_of(conn: Connection, h_in: float, h_out: float | None) -> int:
    for name, turn in _TURN_OF_MANEUVER.items():
        if name in conn.maneuvers:
            return turn
    if h_out is None:
        return STRAIGHT
    d = (h_out - h_in + 180.0) % 360.0 - 180.0  # clockwise positive: a right turn
    if abs(d) < 30.0:
        return STRAIGHT
    if abs(d) > 150.0:
        return UTURN
    return RIGHT if d > 0 else LEFT


def _resample(xy: FloatArray, step_m: float) -> FloatArray:
    seg = np.hypot(*np.diff(xy, axis=0).T)
    keep = np.concatenate([[True], seg > 1e-6])
    xy = xy[keep]
    if len(xy) < 2:
        return xy
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    n = max(2, math.ceil(s[-1] / step_m) + 1)
    t = np.linspace(0.0, s[-1], n)
    return np.column_stack([np.interp(t, s, xy[:, 0]), np.interp(t, s, xy[:, 1])])


def _tail(xy: FloatArray, length_m: float) -> FloatArray:
    """The last ``length_m`` of a polyline."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    back = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])  # distance to the end
    if back[0] <= length_m:
        return xy
    k = int(np.flatnonzero(back > length_m)[-1])  # the segment that crosses length_m
    f = (back[k] - length_m) / max(back[k] - back[k + 1], 1e-9)
    start = xy[k] + f * (xy[k + 1] - xy[k])
    return np.vstack([start, xy[k + 1 :]])


def _head(xy: FloatArray, length_m: float) -> FloatArray:
    """The first ``length_m`` of a polyline."""
    return _tail(xy[::-1], length_m)[::-1]


def _bezier(p0: FloatArray, d0: FloatArray, p1: FloatArray, d1: FloatArray) -> FloatArray:
    """A cubic Bézier from p0 (direction d0) to p1 (direction d1), sampled every ~0.5 m."""
    chord = float(np.hypot(*(p1 - p0)))
    c0, c1 = p0 + d0 * 0.4 * chord, p1 - d1 * 0.4 * chord
    n = max(4, int(chord / 0.5) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    u = 1.0 - t
    return u**3 * p0 + 3 * u * u * t * c0 + 3 * u * t * t * c1 + t**3 * p1


class _Node(NamedTuple):
    paths: tuple[int, ...]  # global path indices of this junction's movements
    conflict_s: FloatArray  # (P, P): entry s on row path into its zone with column path, NaN
    box_segments: FloatArray  # (k, 7): ax, ay, bx, by, path, s at a, heading (path order)


class Movements:
    """Every movement of the junctions of one ``LaneMap`` (module docstring); junctions are
    compiled when first asked about."""

    def __init__(
        self,
        lanes: LaneMap,
        nodes: dict[NodeId, MapNode],
        frame: LocalFrame,
        *,
        approach_m: float = 60.0,
        egress_m: float = 20.0,
        conflict_m: float = 2.0,
        box_match_m: float = 2.5,
        box_unknown_m: float = 1.5,
        max_heading_diff_deg: float = 45.0,
    ) -> None:
        self.lanes = lanes
        self.frame = frame
        self.approach_m = approach_m
        self.egress_m = egress_m
        self.conflict_m = conflict_m
        self.box_match_m = box_match_m
        self.box_unknown_m = box_unknown_m
        self.max_heading_diff_deg = max_heading_diff_deg
        #: where the traffic of this MAP revision came from and which movements it took, one
        #: memory for every app that reads the movements (``LaneMemory``)
        self.lane_memory = LaneMemory()
        self.paths: list[MovementPath] = []
        self._nodes = nodes
        self._node_keys = list(nodes)
        self._node_index = {n: k for k, n in enumerate(self._node_keys)}
        self._compiled: dict[int, _Node] = {}
        self._lane_paths: dict[int, tuple[int, ...]] = {}
        self._by_id = {(info.node, info.lane.lane_id): info.index for info in lanes.lanes}
        self._xy: dict[int, FloatArray] = {}
        self._table: IntArray | None = None
        self._table_paths = -1
        self._flat_paths = -1
        self._box_paths = -1
        no_rows = np.empty(0, dtype=np.int64)
        self._box_cache: tuple[FloatArray, IntArray, IntArray, IntArray, IntArray] = (
            np.empty((0, 7)),
            no_rows,
            no_rows,
            no_rows,
            no_rows,
        )
        self._flat_cache: tuple[FloatArray, IntArray, IntArray] = (
            np.empty(0),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
        )
        self._path_junction = np.empty(0, dtype=np.int64)
        self._path_local = np.empty(0, dtype=np.int64)
        self._path_turn = np.empty(0, dtype=np.int64)
        self._path_lane = np.empty(0, dtype=np.int64)
        self._path_entry = np.empty(0)
        self._path_signalled = np.empty(0, dtype=bool)
        centre = [frame.to_local(n.lat_deg, n.lon_deg) for n in nodes.values()]
        self._centre = np.array([[float(x), float(y)] for x, y in centre]).reshape(-1, 2)
        #: per ``LaneMap`` lane: its junction (index into the nodes) when it is an ingress lane
        self.junction_of_lane = np.full(len(lanes.lanes), -1, dtype=np.int64)
        for info in lanes.lanes:
            k = self._node_index.get(info.node)
            if k is not None and is_ingress_lane(info.lane):
                self.junction_of_lane[info.index] = k

    # --- geometry -----------------------------------------------------------------------
    def _lane_xy(self, lane: int) -> FloatArray:
        found = self._xy.get(lane)
        if found is None:
            pts = self.lanes.lanes[lane].lane.points
            x, y = self.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
            found = self._xy[lane] = np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])
        return found

    def _egress(self, node: int, conn: Connection) -> FloatArray | None:
        if conn.remote_lane_id is None:
            return None
        lane = self._by_id.get((conn.remote_node, conn.remote_lane_id))
        if lane is None:
            return None
        xy = self._lane_xy(lane)
        return xy if len(xy) >= 2 else None

    def _path(
        self, node: int, lane: int, conn: Connection
    ) -> tuple[FloatArray, float, float, int, float, bool]:
        """(xy from upstream to the egress end, s of the stop line along it, length of the
        box, turn, heading at the stop line, whether the egress lane is the MAP's)."""
        ingress = _tail(self._lane_xy(lane), self.approach_m)
        p0 = ingress[-1]
        d = ingress[-1] - ingress[-2]
        h_in = _heading(float(d[0]), float(d[1]))
        egress = self._egress(node, conn)
        known = egress is not None
        h_out = None
        if egress is not None:
            e = _head(egress, self.egress_m)
            de = e[1] - e[0]
            h_out = _heading(float(de[0]), float(de[1]))
        turn = _turn_of(conn, h_in, h_out)
        if h_out is None:  # synthesise: the stop line's offset from the centre, turned
            turn_deg = {STRAIGHT: 0.0, LEFT: -90.0, RIGHT: 90.0, UTURN: 180.0}[turn]
            h_out = (h_in + turn_deg) % 360.0
            rel = self._centre[node] - p0
            u_in = _unit(h_in)
            right_in = np.array([u_in[1], -u_in[0]])
            along, lateral = float(rel @ u_in), float(-rel @ right_in)
            u_out = _unit(h_out)
            right_out = np.array([u_out[1], -u_out[0]])
            start = self._centre[node] + max(along, 2.0) * u_out + lateral * right_out
            if turn == UTURN:
                start = p0 - 2.0 * lateral * right_in
            e = np.vstack([start, start + u_out * self.egress_m])
        box = _bezier(p0, _unit(h_in), e[0], _unit(h_out))
        xy = np.vstack([ingress[:-1], box, e[1:]])
        stop_s = float(np.hypot(*np.diff(ingress, axis=0).T).sum())
        return xy, stop_s, float(np.hypot(*np.diff(box, axis=0).T).sum()), turn, h_in, known

    def _compile(self, node: int) -> _Node:
        found = self._compiled.get(node)
        if found is not None:
            return found
        lanes = np.flatnonzero(self.junction_of_lane == node).tolist()
        ids: list[int] = []
        for lane in lanes:
            mine = []
            for conn in self.lanes.lanes[lane].lane.connections:
                xy, stop_s, box_m, turn, h_in, known = self._path(node, lane, conn)
                s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]) - stop_s
                path = MovementPath(
                    index=len(self.paths),
                    junction=node,
                    local=len(ids),
                    node=self._node_keys[node],
                    lane=lane,
                    connection=conn,
                    turn=turn,
                    entry_heading_deg=h_in,
                    xy=xy,
                    s=s,
                    box_end_s=box_m,
                    egress_known=known,
                )
                self.paths.append(path)
                ids.append(path.index)
                mine.append(path.index)
            self._lane_paths[lane] = tuple(mine)
        compiled = _Node(
            paths=tuple(ids),
            conflict_s=self._conflicts(ids),
            box_segments=self._box_segments(ids),
        )
        self._compiled[node] = compiled
        return compiled

    def _conflicts(self, ids: list[int]) -> FloatArray:
        """(P, P) entry arc lengths into each movement pair's conflict zone (NaN: none)."""
        n = len(ids)
        out = np.full((n, n), np.nan)
        samples = []
        for i in ids:
            p = self.paths[i]
            keep = p.s >= -_STEP_M
            xy = _resample(p.xy[keep], _STEP_M)
            s0 = float(p.s[keep][0])
            s = s0 + np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
            samples.append((xy, s))
        if n == 0:
            return out
        xy = np.concatenate([x for x, _ in samples])
        arc = np.concatenate([a for _, a in samples])
        starts = np.cumsum([0] + [len(x) for x, _ in samples[:-1]])
        lim2 = self.conflict_m * self.conflict_m
        # every sample against every other (a few thousand at a junction), then per path pair
        # the first sample of one path that comes that close to the other path
        d2 = (xy[:, 0, None] - xy[None, :, 0]) ** 2 + (xy[:, 1, None] - xy[None, :, 1]) ** 2
        near = np.logical_or.reduceat(d2 <= lim2, starts, axis=1)  # (samples, paths)
        for a in range(n):
            block = near[starts[a] : starts[a] + len(samples[a][0])]
            hit = block.any(axis=0)
            first = np.argmax(block, axis=0)
            out[a, hit] = arc[starts[a] + first[hit]]
        lanes = np.array([self.paths[i].lane for i in ids])
        out[lanes[:, None] == lanes[None, :]] = np.nan  # one lane's movements: no zone
        both = np.isfinite(out) & np.isfinite(out.T)
        out[~both] = np.nan
        return out

    def _box_segments(self, ids: list[int]) -> FloatArray:
        rows = []
        for i in ids:
            p = self.paths[i]
            keep = (p.s >= -2.0) & (p.s <= p.box_end_s + 2.0)
            xy, s = p.xy[keep], p.s[keep]
            if len(xy) < 2:
                continue
            block = np.empty((len(xy) - 1, 7))
            block[:, 0:2], block[:, 2:4] = xy[:-1], xy[1:]
            block[:, 4], block[:, 5] = i, s[:-1]
            d = np.diff(xy, axis=0)
            block[:, 6] = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0
            rows.append(block)
        return np.concatenate(rows) if rows else np.empty((0, 7))

    # --- queries ------------------------------------------------------------------------
    def junction(self, node: int) -> tuple[MovementPath, ...]:
        """The movements of junction ``node`` (index into the map's nodes)."""
        return tuple(self.paths[i] for i in self._compile(node).paths)

    def _observed_odds(
        self,
        paths: IntArray,
        straight_odds: float,
        memory: LaneMemory,
        prior_n: float,
        entry: IntArray,
    ) -> FloatArray:
        """Per candidate path: (vehicles seen taking it + ``prior_n`` x its prior share) /
        (vehicles seen leaving its lane + ``prior_n``); the prior share is its odds among its
        lane's movements, straight on ``straight_odds`` to 1 per turn. Where ``entry`` is
        known (``LaneMemory.entry``), of the vehicles that entered the box the same way, with
        the odds of all its lane's traffic as the prior."""
        out = np.empty(paths.size)
        for k, (path, how) in enumerate(zip(paths.tolist(), entry.tolist(), strict=True)):
            p = self.paths[path]
            lane = self.lane_movements(p.lane)
            turns = {q.turn for q in lane}
            total = sum(straight_odds if t == STRAIGHT else 1.0 for t in turns)
            fan = sum(q.turn == p.turn for q in lane)  # one manoeuvre into several exit lanes
            share = (straight_odds if p.turn == STRAIGHT else 1.0) / total / fan
            n, n_lane = memory.taken(self, path)
            odds = (n + prior_n * share) / (n_lane + prior_n)
            if how != UNKNOWN:
                n, n_lane = memory.taken(self, path, how)
                odds = (n + prior_n * odds) / (n_lane + prior_n)
            out[k] = odds
        return out

    def lane_movements(self, lane: int) -> tuple[MovementPath, ...]:
        """The movements of ``LaneMap`` lane ``lane`` (none unless it is an ingress lane)."""
        node = int(self.junction_of_lane[lane]) if 0 <= lane < self.junction_of_lane.size else -1
        if node < 0:
            return ()
        self._compile(node)
        return tuple(self.paths[i] for i in self._lane_paths.get(lane, ()))

    def conflict_s(self, a: IntArray, b: IntArray) -> tuple[FloatArray, FloatArray]:
        """Per movement pair (a[k], b[k]) of compiled junctions: each path's entry arc length
        into their conflict zone; NaN when they do not meet (other junctions, one lane,
        paths apart)."""
        flat, offset, size = self._flat()
        ja, jb = self._path_junction[a], self._path_junction[b]
        la, lb = self._path_local[a], self._path_local[b]
        same = ja == jb
        n = size[ja]
        ia = np.where(same, offset[ja] + la * n + lb, 0)
        ib = np.where(same, offset[ja] + lb * n + la, 0)
        return np.where(same, flat[ia], np.nan), np.where(same, flat[ib], np.nan)

    def _flat(self) -> tuple[FloatArray, IntArray, IntArray]:
        """Every compiled junction's conflict matrix in one array, with per-junction offsets
        and sizes (rebuilt when a junction has been compiled since)."""
        if self._flat_paths != len(self.paths):
            n = len(self._nodes)
            offset = np.zeros(n, dtype=np.int64)
            size = np.zeros(n, dtype=np.int64)
            blocks, at = [], 0
            for j, compiled in sorted(self._compiled.items()):
                m = compiled.conflict_s
                offset[j], size[j] = at, m.shape[0]
                blocks.append(m.reshape(-1))
                at += m.size
            flat = np.concatenate(blocks) if blocks else np.empty(0)
            self._flat_cache = (np.append(flat, np.nan), offset, size)
            self._path_junction = np.array([p.junction for p in self.paths], dtype=np.int64)
            self._path_local = np.array([p.local for p in self.paths], dtype=np.int64)
            self._path_turn = np.array([p.turn for p in self.paths], dtype=np.int64)
            self._path_lane = np.array([p.lane for p in self.paths], dtype=np.int64)
            self._path_entry = np.array([p.entry_heading_deg for p in self.paths])
            self._path_signalled = np.array([p.phase_id is not None for p in self.paths])
            self._flat_paths = len(self.paths)
        return self._flat_cache

    def turns(self, paths: IntArray) -> IntArray:
        """The turn (``STRAIGHT``, ``LEFT``, ``RIGHT``, ``UTURN``) of each movement."""
        self._flat()
        return self._path_turn[paths]

    def entry_headings(self, paths: IntArray) -> FloatArray:
        """Each movement's heading at its stop line (degrees clockwise from north)."""
        self._flat()
        return self._path_entry[paths]

    def signalled(self, paths: IntArray) -> npt.NDArray[np.bool_]:
        """Whether each movement has a signal group in the MAP (a phase id)."""
        self._flat()
        return self._path_signalled[paths]

    def junctions(self, paths: IntArray) -> IntArray:
        """The junction (index into the map's nodes) of each movement."""
        self._flat()
        return self._path_junction[paths]

    def locate(
        self, view: SceneView, rows: IntArray, memory: LaneMemory | None = None
    ) -> Candidates:
        """Movement candidates of view rows ``rows`` (module docstring). With ``memory``, a
        vehicle in a junction box that was last seen on an ingress lane of that junction is
        only on that lane's movements (within ``box_match_m``); one never seen on an ingress
        lane must be within ``box_unknown_m`` of a path."""
        lane = view.lane[rows]
        to_stop = view.to_stop_m[rows]
        node = np.where(lane >= 0, self.junction_of_lane[np.maximum(lane, 0)], -1)
        on_lane = (node >= 0) & (to_stop > 0)
        for j in np.unique(node[on_lane]).tolist():
            self._compile(j)
        q_out: list[IntArray] = []
        p_out: list[IntArray] = []
        s_out: list[FloatArray] = []
        o_out: list[FloatArray] = []
        h_out: list[FloatArray] = []
        q = np.flatnonzero(on_lane)
        if q.size:
            table = self._lane_table()
            ids = table[lane[q]]  # (q, widest lane) path ids, -1 padded
            qq, col = np.nonzero(ids >= 0)
            q_out.append(q[qq])
            p_out.append(ids[qq, col])
            s_out.append(-to_stop[q[qq]])
            o_out.append(np.zeros(qq.size))
            h_out.append(np.zeros(qq.size))
        # in a box: no lane match, or a match clamped at the stop line (past it: the live
        # match ends there), which says which lane it came from
        free = np.flatnonzero((lane < 0) | ((node >= 0) & (to_stop <= 0)))
        if free.size and self._centre.size:
            x, y = view.x_m[rows[free]], view.y_m[rows[free]]
            d = np.hypot(x[:, None] - self._centre[:, 0], y[:, None] - self._centre[:, 1])
            near = d.argmin(axis=1)
            close = d[np.arange(free.size), near] <= self.approach_m
            free, near = free[close], near[close]
            came = np.where(node[free] >= 0, lane[free], -1).astype(np.int64)
            if memory is not None:
                unmatched = came < 0
                came[unmatched] = np.array(
                    [memory.lane_of(u) for u in view.uid[rows[free[unmatched]]].tolist()],
                    dtype=np.int64,
                ).reshape(-1)
            if free.size:
                known = came >= 0
                came[known & (self.junction_of_lane[np.maximum(came, 0)] != near)] = -1
            for j in np.unique(near).tolist():
                self._compile(j)
            found = self._on_boxes(view, rows[free], near, came)
            if found is not None:  # every box vehicle of every junction at once
                q, paths, s, off, dh = found
                q_out.append(free[q])
                p_out.append(paths)
                s_out.append(s)
                o_out.append(off)
                h_out.append(dh)
        if not q_out:
            e = np.empty(0, dtype=np.int64)
            return Candidates(
                query=e, path=e, s_m=np.empty(0), off_m=np.empty(0), heading_off_deg=np.empty(0)
            )
        return Candidates(
            query=np.concatenate(q_out),
            path=np.concatenate(p_out),
            s_m=np.concatenate(s_out),
            off_m=np.concatenate(o_out),
            heading_off_deg=np.concatenate(h_out),
        )

    def _lane_table(self) -> IntArray:
        """(lanes, most connections) movement ids per ``LaneMap`` lane, -1 padded (rebuilt
        when a junction has been compiled since)."""
        if self._table is None or self._table_paths != len(self.paths):
            width = max((len(v) for v in self._lane_paths.values()), default=0)
            table = np.full((len(self.lanes.lanes), max(width, 1)), -1, dtype=np.int64)
            for lane, ids in self._lane_paths.items():
                table[lane, : len(ids)] = ids
            self._table, self._table_paths = table, len(self.paths)
        return self._table

    def _box_table(self) -> tuple[FloatArray, IntArray, IntArray, IntArray, IntArray]:
        """Every compiled junction's box segments (rows as ``_Node.box_segments``) twice in one
        array: ordered by junction, then by ingress ``LaneMap`` lane (lane indices need not
        follow the junctions: MAPs arrive in any order); the first row and row count of each
        junction in the first half and of each lane in the second (rebuilt when a junction
        has been compiled since)."""
        if self._box_paths != len(self.paths):
            self._flat()  # the per-path arrays, current with every compiled junction
            blocks = [c.box_segments for _, c in sorted(self._compiled.items())]
            table = np.concatenate(blocks) if blocks else np.empty((0, 7))
            path = table[:, 4].astype(np.int64)
            junction, lane = self._path_junction[path], self._path_lane[path]
            by_junction, by_lane = (
                np.argsort(junction, kind="stable"),
                np.argsort(lane, kind="stable"),
            )

            def ranges(key: IntArray, n: int, offset: int) -> tuple[IntArray, IntArray]:
                count = np.bincount(key, minlength=n).astype(np.int64)
                return offset + np.cumsum(count) - count, count

            self._box_cache = (
                np.concatenate([table[by_junction], table[by_lane]]),
                *ranges(junction, len(self._nodes), 0),
                *ranges(lane, len(self.lanes.lanes), len(table)),
            )
            self._box_paths = len(self.paths)
        return self._box_cache

    def _on_boxes(
        self, view: SceneView, rows: IntArray, node: IntArray, came_from: IntArray
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray] | None:
        """The box paths (of the lane each came from, if known) that vehicles ``rows`` are on,
        each against the box segments of its junction ``node`` (compiled), or only of the
        lane it came from (of that junction) where known, all junctions in one pass: (query
        index into rows, path, s, distance from the path, heading difference to the path)."""
        table, j_first, j_count, l_first, l_count = self._box_table()
        known = came_from >= 0
        lane = np.maximum(came_from, 0)
        first = np.where(known, l_first[lane], j_first[node])
        n = np.where(known, l_count[lane], j_count[node])
        total = int(n.sum())
        if total == 0:
            return None
        q = np.repeat(np.arange(rows.size, dtype=np.int64), n)
        k = np.repeat(first - (np.cumsum(n) - n), n) + np.arange(total, dtype=np.int64)
        seg = table[k]
        r = rows[q]
        x, y = view.x_m[r], view.y_m[r]
        ax, ay = seg[:, 0], seg[:, 1]
        sx, sy = seg[:, 2] - ax, seg[:, 3] - ay
        len2 = np.maximum(sx * sx + sy * sy, 1e-9)
        t = np.clip(((x - ax) * sx + (y - ay) * sy) / len2, 0.0, 1.0)
        off = np.hypot(x - (ax + t * sx), y - (ay + t * sy))
        came = came_from[q]
        limit = np.where(came >= 0, self.box_match_m, self.box_unknown_m)
        dh = np.abs((view.heading_deg[r] - seg[:, 6] + 180.0) % 360.0 - 180.0)
        hit = np.flatnonzero((off <= limit) & (dh <= self.max_heading_diff_deg))
        if hit.size == 0:
            return None
        q = q[hit]
        path = seg[hit, 4].astype(np.int64)
        s = seg[hit, 5] + t[hit] * np.sqrt(len2[hit])
        o, h = off[hit], dh[hit]
        order = np.lexsort((o, path, q))  # nearest segment per (vehicle, path)
        q, path, s, o, h = q[order], path[order], s[order], o[order], h[order]
        keep = np.ones(q.size, dtype=bool)
        keep[1:] = (q[1:] != q[:-1]) | (path[1:] != path[:-1])
        return q[keep], path[keep], s[keep], o[keep], h[keep]

    def weigh(
        self,
        view: SceneView,
        rows: IntArray,
        cand: Candidates,
        weights: MovementWeights,
        memory: LaneMemory | None = None,
    ) -> FloatArray:
        """Per candidate: the probability of its movement for its vehicle (sums to 1 per
        vehicle over its candidates; module docstring and ``MovementWeights``); with
        ``memory``, a perceived vehicle's odds learn from the movements its lane's traffic
        took (``LaneMemory.taken``)."""
        if cand.path.size == 0:
            return np.empty(0)
        r = rows[cand.query]
        turn = self.turns(cand.path)
        flags = view.flags[r]
        left, right = (flags & _F_LEFT) != 0, (flags & _F_RIGHT) != 0
        w = np.ones(cand.path.size)
        is_turn = turn != STRAIGHT
        w *= np.where(left & ((turn == LEFT) | (turn == UTURN)), weights.signal, 1.0)
        w *= np.where(right & (turn == RIGHT), weights.signal, 1.0)
        # a track known only from roadside perception carries no indicator state (an RSM has
        # none): its straight-on factor is ``perceived_straight``
        told = (flags & _F_PERCEPTION_ONLY) == 0
        unknown = weights.perceived_straight
        plain = weights.no_signal_straight
        straight = np.where(told, plain, plain if unknown is None else unknown)
        prior = np.where(~left & ~right & ~is_turn, straight, 1.0)
        # a lane's connections into several exit lanes for one manoeuvre are one choice of the
        # driver's, split among them: a lane fanning out straight on into two lanes is not
        # twice as likely to go straight
        key = cand.query * (UTURN + 1) + turn  # one per vehicle and manoeuvre
        _, fan, n_fan = np.unique(key, return_inverse=True, return_counts=True)
        prior = prior / n_fan[fan]
        if memory is not None and not told.all():  # only the perceived tracks' candidates
            k = np.flatnonzero(~told)
            perceived = plain if unknown is None else unknown
            # in the box, by the way it entered (``LaneMemory.entry``)
            entry = np.where(
                cand.s_m[k] >= 0.0,
                [memory.entry(uid) for uid in view.uid[r[k]].tolist()],
                UNKNOWN,
            )
            prior[k] = self._observed_odds(
                cand.path[k], perceived, memory, weights.observed_prior_n, entry
            )
        w *= prior
        before = cand.s_m < 0
        v = view.speed_mps[r]
        need_m = (v * v - weights.turn_speed_mps**2) / (2.0 * weights.comfortable_decel_mps2)
        too_fast = before & is_turn & (v > weights.turn_speed_mps) & (need_m > -cand.s_m)
        w *= np.where(too_fast, weights.too_fast, 1.0)
        w *= np.exp(-((cand.off_m / weights.box_sigma_m) ** 2))
        w *= _turning_evidence(view, r, cand, turn, weights)
        total = np.zeros(rows.size)
        np.add.at(total, cand.query, w)
        return w / np.maximum(total[cand.query], 1e-12)


def _turning_evidence(
    view: SceneView, r: IntArray, cand: Candidates, turn: IntArray, weights: MovementWeights
) -> FloatArray:
    """Per candidate: the factor of the track's heading and yaw rate in the box
    (``MovementWeights``); 1 for candidates before the stop line."""
    in_box = cand.s_m >= 0.0
    yaw = np.nan_to_num(view.yaw_rate_dps[r], nan=0.0)
    yaw_sd = np.nan_to_num(view.yaw_rate_sd_dps[r], nan=90.0)
    heading_sd = np.nan_to_num(view.heading_sd_deg[r], nan=180.0)
    var_w = yaw_sd * yaw_sd + weights.box_yaw_sigma_dps**2
    var_h = heading_sd * heading_sd + weights.box_heading_sigma_deg**2
    # clockwise positive: a right turn yaws positive, a left turn (or U-turn) negative
    against = np.where(
        turn == STRAIGHT,
        yaw,
        np.where(turn == RIGHT, np.minimum(yaw, 0.0), np.maximum(yaw, 0.0)),
    )
    log = -0.5 * against * against / var_w
    log -= np.where(turn == STRAIGHT, 0.5 * cand.heading_off_deg**2 / var_h, 0.0)
    return np.where(in_box, np.exp(log), 1.0)


class LaneMemory:
    """The ingress lane each vehicle was last matched to (by ``uid``), for ``memory_ms``:
    inside a junction box the live lane match is gone, but the movement is one of that lane's.
    Call ``observe`` every tick (a second call for the same tick does nothing: apps sharing
    one memory, ``Movements.lane_memory``, each call it). At most ``limit`` vehicles (the
    least recently seen go).

    It also counts the movements the traffic takes (``taken``): a vehicle in a box within
    ``exit_m`` of the end of the box arc of one of its lane's movements, and within
    ``box_match_m`` of it, took that movement (once per passage; by then the arcs of one
    lane's movements lie metres apart). The counts are per MAP revision.

    And how each vehicle entered the box (``entry``): *slowed* if it came in at least
    ``slowed_mps`` slower than its top speed on the last ``near_m`` of its lane, without
    standing there (below ``MOVING_MPS``); *steady* otherwise (at its approach speed, or
    pulling away from a stop: either way its speed says nothing of where it goes). A driver
    slows for a turn, not for straight on (demo_district, seeds 0 and 1: 5 of 42 false LTA
    warnings were against an oncoming car known only from roadside perception that had
    slowed from 11-15 m/s to 5 m/s into the box and turned right, predicted straight on);
    the movements are counted per entry too (``taken``'s ``entry``), so a perceived car's
    odds in the box are those of the vehicles that entered its lane's box as it did."""

    def __init__(
        self,
        *,
        memory_ms: int = 15_000,
        near_m: float = 60.0,
        limit: int = 20_000,
        exit_m: float = 4.0,
        slowed_mps: float = 3.0,
    ):
        self.memory_ms = memory_ms
        self.near_m = near_m
        self.exit_m = exit_m
        self.slowed_mps = slowed_mps
        # per vehicle: (top speed on its approach, whether it stood there) and its entry
        self._approach: LruTable[int, tuple[float, bool]] = LruTable(
            limit=limit, name="movement lane memory (approaches)"
        )
        self._entry: LruTable[int, int] = LruTable(
            limit=limit, name="movement lane memory (box entries)"
        )
        self._taken_by: MovementsMemo[tuple[int, int], int] = MovementsMemo()
        self._left_by: MovementsMemo[tuple[int, int], int] = MovementsMemo()
        self._seen: LruTable[int, tuple[int, int]] = LruTable(
            limit=limit, name="movement lane memory (vehicles)"
        )
        self._counted: LruTable[int, int] = LruTable(
            limit=limit, name="movement lane memory (counted passages)"
        )
        self._taken: MovementsMemo[int, int] = MovementsMemo()  # path -> vehicles
        self._left: MovementsMemo[int, int] = MovementsMemo()  # ingress lane -> vehicles
        self._now_ms = 0
        self._observed: int | None = None  # ``id`` of the last view observed

    def taken(self, movements: Movements, path: int, entry: int = UNKNOWN) -> tuple[int, int]:
        """(vehicles seen taking movement ``path``, vehicles seen taking any movement of its
        lane) since this MAP revision came; with ``entry`` (``SLOWED``, ``STEADY``) only
        those that entered the box so."""
        lane = movements.paths[path].lane
        if entry != UNKNOWN:
            return (
                self._taken_by.table(movements).get((path, entry), 0),
                self._left_by.table(movements).get((lane, entry), 0),
            )
        return (
            self._taken.table(movements).get(path, 0),
            self._left.table(movements).get(lane, 0),
        )

    def entry(self, uid: int) -> int:
        """How vehicle ``uid`` entered its box: ``SLOWED``, ``STEADY`` or ``UNKNOWN`` (not in
        a box yet, or never seen on its approach)."""
        return self._entry.get(uid, UNKNOWN)

    def _watch_entries(self, view: SceneView, on_lane: IntArray) -> None:
        """Keep each approaching vehicle's top speed (rows ``on_lane``: on ingress lanes near
        their line, before it) and class each vehicle's entry into a box the first time it is
        seen there (class docstring)."""
        speed = view.speed_mps
        approach = self._approach
        for uid, v in zip(view.uid[on_lane].tolist(), speed[on_lane].tolist(), strict=True):
            if uid in self._entry:  # a new approach (the next junction): forget the last
                del self._entry[uid]
                approach.pop(uid, None)
            top, stood = approach.get(uid, (0.0, False))
            approach[uid] = (max(top, v), stood or v < MOVING_MPS)
        box = np.flatnonzero(
            ((view.lane < 0) | (view.to_stop_m <= 0)) & (view.kind == int(Kind.VEHICLE))
        )
        for uid, v in zip(view.uid[box].tolist(), speed[box].tolist(), strict=True):
            if uid in self._entry:
                continue
            seen = approach.get(uid)
            if seen is None:
                continue
            top, stood = seen
            slowed = not stood and top - v >= self.slowed_mps
            self._entry[uid] = SLOWED if slowed else STEADY

    def _count_exits(self, view: SceneView, movements: Movements) -> None:
        """Count the movement of each vehicle about to leave a box (class docstring)."""
        rows = np.flatnonzero(
            ((view.lane < 0) | (view.to_stop_m <= 0)) & (view.kind == int(Kind.VEHICLE))
        )
        # only those whose lane is known (the only ones counted) and not counted for it yet:
        # located on that lane's box paths alone, which is most of the cost
        uids = view.uid[rows].tolist()
        lanes = view.lane[rows].tolist()
        keep = []
        for k, (uid, ln) in enumerate(zip(uids, lanes, strict=True)):
            came = ln if ln >= 0 else self.lane_of(uid)
            if came >= 0 and self._counted.get(uid) != came:
                keep.append(k)
        rows = rows[np.array(keep, dtype=np.int64)]
        if rows.size == 0:
            return
        cand = movements.locate(view, rows, self)
        if cand.path.size == 0:
            return
        end = np.array([movements.paths[p].box_end_s for p in cand.path.tolist()])
        near = np.flatnonzero(cand.s_m >= end - self.exit_m)
        if near.size == 0:
            return
        taken, left = self._taken.table(movements), self._left.table(movements)
        taken_by, left_by = self._taken_by.table(movements), self._left_by.table(movements)
        # the nearest such path per vehicle
        order = near[np.lexsort((cand.off_m[near], cand.query[near]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = cand.query[order][1:] != cand.query[order][:-1]
        for k in order[first].tolist():
            uid = int(view.uid[rows[cand.query[k]]])
            path = int(cand.path[k])
            lane = movements.paths[path].lane
            if self._counted.get(uid) == lane or self.lane_of(uid) != lane:
                continue  # counted already, or it came from elsewhere (or nobody knows)
            self._counted[uid] = lane
            taken[path] = taken.get(path, 0) + 1
            left[lane] = left.get(lane, 0) + 1
            entry = self._entry.get(uid, UNKNOWN)
            if entry != UNKNOWN:
                by_path, by_lane = taken_by, left_by
                by_path[(path, entry)] = by_path.get((path, entry), 0) + 1
                by_lane[(lane, entry)] = by_lane.get((lane, entry), 0) + 1

    def observe(self, view: SceneView, movements: Movements) -> None:
        """Record the vehicles on ingress lanes within ``near_m`` of their stop line, and the
        movements of those leaving a box."""
        if self._observed == id(view) and self._now_ms == view.now_ms:
            return  # this tick's view, observed already
        self._observed = id(view)
        self._now_ms = view.now_ms
        lane = view.lane
        rows = np.flatnonzero((lane >= 0) & (view.to_stop_m <= self.near_m))
        rows = rows[movements.junction_of_lane[lane[rows]] >= 0]
        now = view.now_ms
        seen = self._seen
        for uid, ln in zip(view.uid[rows].tolist(), lane[rows].tolist(), strict=True):
            seen[uid] = (ln, now)
        self._watch_entries(view, rows[view.to_stop_m[rows] > 0.0])
        self._count_exits(view, movements)

    def lane_of(self, uid: int) -> int:
        """The ingress lane ``uid`` was last seen on, -1 if none within ``memory_ms``."""
        found = self._seen.get(uid)
        if found is None or self._now_ms - found[1] > self.memory_ms:
            return -1
        return found[0]


#: movements per lane map (the scene builds a new ``LaneMap`` for each new MAP revision)
_cache: weakref.WeakKeyDictionary[LaneMap, Movements] = weakref.WeakKeyDictionary()


def movements_of(view: SceneView) -> Movements | None:
    """The movements of the view's MAP (``None`` without one), cached per MAP revision."""
    lanes = view.lanes
    if lanes is None:
        return None
    found = _cache.get(lanes)
    if found is None:
        nodes = {n: p.node for n, p in view.intersections.items() if p.node is not None}
        found = _cache[lanes] = Movements(lanes, nodes, view.frame)
    return found


class MovementsMemo(Generic[_K, _V]):
    """Values an app derives from one MAP revision's movements (a lane's turns, a path's exit),
    remembered across ticks and forgotten together when the MAP is replaced.

    ``table(movements_of(view))`` is the dict for the view's current ``Movements``: the same
    dict while that object lives, a new empty one when it changes (a new MAP revision, or no
    MAP: ``None`` scopes a table of its own). Keys may be lane rows or ``id``s of the MAP's
    paths: both are stable for one ``Movements``, which the memo holds while it is current. It
    is bounded by the MAP's size (lanes and paths), not by traffic.
    """

    __slots__ = ("_for", "_values")

    def __init__(self) -> None:
        self._for: Movements | None = None
        self._values: dict[_K, _V] = {}

    def table(self, moves: Movements | None) -> dict[_K, _V]:
        """The remembered values for ``moves`` (emptied when ``moves`` is not the last one)."""
        if moves is not self._for:
            self._values = {}
            self._for = moves
        return self._values
