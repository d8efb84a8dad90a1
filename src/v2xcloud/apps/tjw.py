"""TJW, traffic jam warning: a queue or slow traffic ahead on the vehicle's path, seen directly
(slow vehicles ahead in its direction) or announced as a congestion event in an RSI.

Straight ahead is the vehicle's path until it turns: a vehicle on a MAP approach lane that
signals a turn, or whose lane allows no straight-on movement, leaves the road at the stop
line, so the slow cars straight on beyond the junction are on a road it does not take. Its
path is the queue before that line (``turn_margin_m`` past it) and then the road its turn
enters: the movement's egress (the MAP connection's lane, or the turned direction where the
MAP does not give it), looked along from the junction box's exit for the rest of the range.
A left indicator (or a lane that only turns left or back) means the left turn where the lane
has one, the U-turn only where it has none: U-turns are the rare exception. Where the lane
still allows several movements of that kind (two left turns into different roads), a queue
counts only when it lies on every one of them: the platform does not know which is taken.
A vehicle turning (yaw rate ≥ ``TURNING_DPS``) is not judged: its heading sweeps across roads
it does not take."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from v2xcloud.apps._select import TURNING_DPS
from v2xcloud.apps._v2i import (
    AHEAD_CONE_DEG,
    CONGESTION_KINDS,
    COS_EXIT_CONE,
    Exit,
    RoadApp,
    RoadHit,
    approaching,
    exit_of,
    is_vehicle,
    on_approaches,
    road_events,
    turns_taken,
)
from v2xcloud.apps.base import AppConfig, Partners, Reach
from v2xcloud.geo.grid import SpatialGrid
from v2xcloud.model import AdvisoryLevel
from v2xcloud.twin import SceneView
from v2xcloud.twin.flags import Flag
from v2xcloud.twin.movements import (
    MovementPath,
    Movements,
    MovementsMemo,
    movements_of,
)

__all__ = ["SLOW_MPS", "TjwConfig", "TrafficJamWarning", "queue_ahead"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: a vehicle slower than this is part of a queue (m/s)
SLOW_MPS = 2.5
_CHUNK_PAIRS = 500_000  # (fast, slow) pairs tested at once
_GRID_SPAN = 6.0  # the grid pays off once the scene spans this many times the range


def beyond_turns(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_deg: FloatArray,
    speed: FloatArray,
    exits: list[Exit],
    left_m: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """For each movement exit (``exits``: x, y, heading of the road entered and its sine and
    cosine) the slow vehicles (below ``SLOW_MPS``) on that road within ``left_m`` of the exit,
    heading its way (±30°) and within a 15° cone ahead of it (or within 3 m): their count and
    the distance to the nearest (``inf`` when none). The (exit, slow vehicle) pairs come in
    chunks of at most ``_CHUNK_PAIRS`` (``_pairs_within``: only those within reach once the
    scene is city-sized)."""
    n = len(exits)
    count = np.zeros(n, dtype=np.int64)
    nearest = np.full(n, np.inf)
    slow = np.flatnonzero(speed < SLOW_MPS)  # NaN (no heading / not a vehicle) is False
    if not n or not len(slow):
        return count, nearest
    sx, sy, sh = x_m[slow], y_m[slow], heading_deg[slow]
    ex, ey, out_deg, sin_out, cos_out = (np.array(c) for c in zip(*exits, strict=True))
    left_m = np.asarray(left_m, dtype=np.float64)
    for e, s in _pairs_within(ex, ey, sx, sy, float(left_m.max())):
        dx, dy = sx[s] - ex[e], sy[s] - ey[e]
        dist = np.hypot(dx, dy)
        along = dx * sin_out[e] + dy * cos_out[e]
        same = np.abs((sh[s] - out_deg[e] + 180.0) % 360.0 - 180.0) <= 30.0
        on = same & (dist <= left_m[e]) & ((along >= dist * COS_EXIT_CONE) | (dist <= 3.0))
        count += np.bincount(e[on], minlength=n)
        np.minimum.at(nearest, e[on], dist[on])
    return count, nearest


def queue_ahead(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_deg: FloatArray,
    speed_mps: FloatArray,
    *,
    approach_mps: float = 8.0,
    slow_mps: float | None = None,
    min_count: int = 3,
    range_m: float = 300.0,
    min_gap_m: float = 10.0,
    cone_deg: float = AHEAD_CONE_DEG,
    heading_tol_deg: float = 30.0,
    reach_m: FloatArray | None = None,
) -> tuple[npt.NDArray[np.bool_], FloatArray, npt.NDArray[np.int64]]:
    """Per vehicle: whether ≥ ``min_count`` slow vehicles travel ahead of it in its direction
    (within ``cone_deg`` and ``range_m``, or its own ``reach_m`` where shorter) while it still
    approaches at ≥ ``approach_mps``; the distance to the queue's tail (m) and the queue
    size."""
    n = x_m.size
    fast = np.flatnonzero((speed_mps >= approach_mps) & ~np.isnan(heading_deg))
    slow_mps = SLOW_MPS if slow_mps is None else slow_mps
    slow = np.flatnonzero((speed_mps < slow_mps) & ~np.isnan(heading_deg))
    warn = np.zeros(n, dtype=bool)
    tail = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)
    if fast.size == 0 or slow.size == 0:
        return warn, tail, count
    nearest = np.full(n, np.inf)
    cos_cone = np.cos(np.radians(cone_deg))
    rad = np.radians(heading_deg)
    for qf, qs in _pairs_within(x_m[fast], y_m[fast], x_m[slow], y_m[slow], range_m):
        f, s = fast[qf], slow[qs]
        same_dir = np.abs((heading_deg[s] - heading_deg[f] + 180.0) % 360.0 - 180.0)
        keep = same_dir <= heading_tol_deg  # cheap test first: most pairs go other ways
        f, s = f[keep], s[keep]
        dx, dy = x_m[s] - x_m[f], y_m[s] - y_m[f]
        dist = np.hypot(dx, dy)
        along = dx * np.sin(rad[f]) + dy * np.cos(rad[f])  # = dist * cos(angle off the axis)
        limit = range_m if reach_m is None else np.minimum(reach_m[f], range_m)
        in_queue = (along >= dist * cos_cone) & (dist >= min_gap_m) & (dist <= limit)
        count += np.bincount(f[in_queue], minlength=n)
        np.minimum.at(nearest, f[in_queue], dist[in_queue])
    warn[:] = count >= min_count
    tail[warn] = nearest[warn]
    return warn, tail, count


def _pairs_within(
    qx: FloatArray, qy: FloatArray, px: FloatArray, py: FloatArray, range_m: float
) -> Iterator[tuple[IntArray, IntArray]]:
    """(query, point) index pairs to test, in chunks of at most ``_CHUNK_PAIRS``: every pair
    while they are few or close together, else only those within ``range_m`` (a spatial grid
    of the points), so a city-sized scene is never a queries × points matrix."""
    if qx.size == 0 or px.size == 0:
        return
    span = max(float(np.ptp(np.concatenate([qx, px]))), float(np.ptp(np.concatenate([qy, py]))))
    if qx.size * px.size > _CHUNK_PAIRS and span > _GRID_SPAN * range_m:
        grid = SpatialGrid(px, py, cell_m=max(range_m, 1.0) / 3)
        yield grid.within(qx, qy, range_m)
        return
    step = max(1, _CHUNK_PAIRS // px.size)
    points = np.arange(px.size, dtype=np.int64)
    for k in range(0, qx.size, step):
        part = np.arange(k, min(qx.size, k + step), dtype=np.int64)
        yield np.repeat(part, px.size), np.tile(points, part.size)


class TjwConfig(AppConfig, frozen=True, kw_only=True):
    """TJW settings: ``min_count`` slow vehicles ahead within ``range_m`` make a queue for a
    vehicle still approaching at ``approach_mps`` or more."""

    range_m: float = 300.0
    min_count: int = 3
    approach_mps: float = 8.0
    validity_ms: int = 2000
    #: a turning vehicle's path ends this far past its stop line (the junction box's edge)
    turn_margin_m: float = 5.0


class TrafficJamWarning(RoadApp):
    """WARNING for vehicles approaching a queue or an announced congestion ahead."""

    code = "TJW"
    config_type = TjwConfig
    config: TjwConfig

    def reach(self) -> tuple[Reach, ...]:
        """A queue of slow vehicles (below ``SLOW_MPS``) ahead within ``range_m``, and
        congestion events (RSI) within ``range_m``."""
        cfg = self.config
        return (
            Reach(cfg.range_m, Partners.SLOW, speed_mps=SLOW_MPS),
            Reach(cfg.range_m, Partners.ROAD_ITEMS),
        )

    def __init__(self, config: AppConfig | None = None) -> None:
        super().__init__(config)
        # per MAP revision: id(path) -> its exit; (lane, indicator) -> the movements a
        # vehicle there may take when it turns
        self._exits: MovementsMemo[int, Exit] = MovementsMemo()
        self._taken: MovementsMemo[tuple[int, int], tuple[MovementPath, ...] | None] = (
            MovementsMemo()
        )

    def _turners(
        self, view: SceneView, speed: FloatArray, moves: Movements | None
    ) -> list[tuple[int, float, tuple[MovementPath, ...]]]:
        """(row, distance to its stop line, the movements it may take) of each vehicle still
        approaching (``speed`` ≥ ``approach_mps``) that turns at a mapped stop line ahead
        (module docstring); the movements are empty when the MAP's movements are unknown."""
        flags, lanes = view.flags, view.lane
        approach = self.config.approach_mps
        signals = int(Flag.LEFT_SIGNAL) | int(Flag.RIGHT_SIGNAL)
        taken_on = self._taken.table(moves)
        out = []
        for a in on_approaches(view, range_m=self.config.range_m):
            if not speed[a.index] >= approach:
                continue
            key = (int(lanes[a.index]), int(flags[a.index]) & signals)
            if key in taken_on:
                taken = taken_on[key]
            else:
                paths = moves.lane_movements(key[0]) if moves is not None else ()
                taken = taken_on[key] = turns_taken(paths, key[1])
            if taken is not None:
                out.append((a.index, a.to_stop_m, taken))
        return out

    def road_hits(self, view: SceneView, now_ms: int) -> list[RoadHit]:
        """The vehicles with a queue ahead at ``now_ms``."""
        cfg = self.config
        vehicles = is_vehicle(view)
        speed = np.where(vehicles, view.speed_mps, np.nan)  # only vehicles form or meet queues
        moves = movements_of(view)
        turners = self._turners(view, speed, moves)
        reach: FloatArray | None = None
        if turners:
            reach = np.full(len(view), np.inf)
            for row, to_stop, _ in turners:
                reach[row] = to_stop + cfg.turn_margin_m
        warn, tail, count = queue_ahead(
            view.x_m,
            view.y_m,
            view.heading_deg,
            speed,
            approach_mps=cfg.approach_mps,
            min_count=1,
            range_m=cfg.range_m,
            reach_m=reach,
        )
        # every (turning vehicle, movement it may take) whose road beyond the box is in range
        asked: list[tuple[int, float, float]] = []  # (turner, to its box's end, range left)
        exits: list[Exit] = []
        exits_on = self._exits.table(moves)  # each path's exit, computed once per MAP revision
        for k, (_, to_stop, taken) in enumerate(turners):
            for p in taken:
                left_m = cfg.range_m - to_stop - p.box_end_s
                if left_m > 0.0 and len(p.xy) >= 2:
                    asked.append((k, to_stop + p.box_end_s, left_m))
                    got = exits_on.get(id(p))
                    if got is None:
                        got = exits_on[id(p)] = exit_of(p)
                    exits.append(got)
        n_beyond, d_beyond = beyond_turns(
            view.x_m,
            view.y_m,
            view.heading_deg,
            speed,
            exits,
            np.array([a[2] for a in asked]),
        )
        in_range = Counter(k for k, _, _ in asked)
        beyond: list[list[tuple[int, float]]] = [
            [(0, np.inf)] * (len(taken) - in_range[k]) for k, (_, _, taken) in enumerate(turners)
        ]
        for (k, to_box_end, _), n, d in zip(asked, n_beyond, d_beyond, strict=True):
            beyond[k].append((int(n), to_box_end + float(d)) if n else (0, np.inf))
        for (row, _, _), found in zip(turners, beyond, strict=True):
            if found:
                n, nearest = min(found)  # on every movement it may take
                if n:
                    count[row] += n
                    tail[row] = nearest if np.isnan(tail[row]) else tail[row]
        # a vehicle turning through a junction points its heading across roads it does not
        # take; its road ahead is judged once it has turned (NaN yaw rate: not turning)
        turning = np.abs(view.yaw_rate_dps) >= TURNING_DPS
        warn = (count >= cfg.min_count) & ~turning
        out = [
            RoadHit(
                row=int(i),
                level=AdvisoryLevel.WARNING,
                detail=f"queue of {count[i]} vehicles ahead",
                values={"distance_m": float(tail[i]), "queue_count": float(count[i])},
            )
            for i in np.flatnonzero(warn)
        ]
        for event in road_events(view):
            if event.kind not in CONGESTION_KINDS:
                continue
            # as the queues it sees itself: a vehicle crawling in the congestion is in it
            mask, dist = approaching(
                view, event, range_m=cfg.range_m, min_speed_mps=cfg.approach_mps
            )
            for i in np.flatnonzero(mask & ~warn):
                out.append(
                    RoadHit(
                        row=int(i),
                        level=AdvisoryLevel.WARNING,
                        detail=f"{event.kind} ahead",
                        about=f"event:{event.event_id}",
                        values={"distance_m": float(dist[i])},
                    )
                )
        return out
