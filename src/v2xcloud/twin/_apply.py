"""Applying a batch of queued participant reports to the scene's columns, vectorised."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from v2xcloud.geo import unit_to_heading_deg
from v2xcloud.model import ParticipantState
from v2xcloud.model.thresholds import STANDSTILL_MPS
from v2xcloud.twin.flags import KIND_CODES, SOURCE_CODES, Flag, flags_of

if TYPE_CHECKING:
    from v2xcloud.twin.scene import Scene

__all__ = ["Pending", "apply_pending"]

_NAN = float("nan")
_ID = attrgetter("id")
_PERCEIVED, _PERCEPTION_ONLY = int(Flag.PERCEIVED), int(Flag.PERCEPTION_ONLY)
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Pending:
    """Reports queued for the next update, as parallel lists (report, platform time ms,
    arrival ms, is roadside perception): appending allocates no tuple per report, which keeps
    the garbage collector's young generation quiet at thousands of reports per tick."""

    __slots__ = ("perceived", "received_ms", "states", "t_ms")

    def __init__(self) -> None:
        self.states: list[ParticipantState] = []
        self.t_ms: list[int] = []
        self.received_ms: list[int] = []
        self.perceived: list[bool] = []

    def add(self, state: ParticipantState, t_ms: int, received_ms: int, perceived: bool) -> None:
        """Queue one report."""
        self.states.append(state)
        self.t_ms.append(t_ms)
        self.received_ms.append(received_ms)
        self.perceived.append(perceived)


def _column(states: list[ParticipantState], name: str) -> FloatArray:
    """One float field of every report; ``None`` (unavailable) becomes NaN.

    ``fromiter`` over ``attrgetter`` is the fast path; a ``None`` makes it raise, and the
    field is then read again with the conversion.
    """
    get = attrgetter(name)
    try:
        return np.fromiter(map(get, states), np.float64, len(states))
    except TypeError:
        return np.fromiter(
            (_NAN if v is None else v for v in map(get, states)), np.float64, len(states)
        )


def _keys(states: list[ParticipantState], perceived: list[bool]) -> list[str]:
    """The participant id each report updates: a roadside object's BSM id when it has one."""
    if not any(perceived):
        return list(map(_ID, states))
    return [
        s.reported_id if perc and s.reported_id else s.id
        for s, perc in zip(states, perceived, strict=True)
    ]


def apply_pending(scene: Scene, pending: Pending) -> None:
    """Fuse, order and apply one batch of reports (see ``Scene`` for the fusion rule)."""
    states, perceived_list = pending.states, pending.perceived
    n = len(states)
    row_of, row_for = scene._row_of, scene.row_for
    keys = _keys(states, perceived_list)
    try:  # every id known: one C-level pass
        rows = np.fromiter(map(row_of.__getitem__, keys), np.int64, n)
    except KeyError:
        rows = np.fromiter((row_of[k] if k in row_of else row_for(k) for k in keys), np.int64, n)
    t_ms = np.fromiter(pending.t_ms, np.int64, n)
    recv_ms = np.fromiter(pending.received_ms, np.int64, n)
    perceived = np.fromiter(perceived_list, bool, n)
    lat = _column(states, "lat_deg")
    lon = _column(states, "lon_deg")
    x, y = scene.frame.to_local(lat, lon)
    cols = scene._cols
    if perceived.any():
        # a self-report in this very batch counts as fresh too
        self_ms = cols.self_ms.copy()
        own = ~perceived
        np.maximum.at(self_ms, rows[own], t_ms[own])
        last_self = self_ms[rows]
        cross = perceived & (last_self >= 0) & (last_self >= t_ms - scene.stale_after_ms)
        if cross.any():
            _cross_check(scene, rows[cross], t_ms[cross], x[cross], y[cross])
        keep = (~cross).nonzero()[0]
    else:
        keep = np.arange(n)
    # the newest report per row wins; reports not newer than the held state are late
    if keep.size == n and np.bincount(rows).max() == 1:  # the usual batch: one report per row
        fresh = t_ms > cols.t_ms[rows]
        if fresh.all():
            _write(scene, states, rows, t_ms, recv_ms, perceived, x, y)
            return
        order = np.arange(n)
    else:
        order = keep[np.lexsort((t_ms[keep], rows[keep]))]
        last = np.ones(order.size, dtype=bool)
        last[:-1] = rows[order][1:] != rows[order][:-1]
        order = order[last]
        fresh = t_ms[order] > cols.t_ms[rows[order]]
    sel = order[fresh]
    scene.stats.late += int(keep.size - sel.size)
    if sel.size:
        _write(
            scene,
            [states[k] for k in sel.tolist()],
            rows[sel],
            t_ms[sel],
            recv_ms[sel],
            perceived[sel],
            x[sel],
            y[sel],
        )


def _cross_check(
    scene: Scene, rows: IntArray, t_ms: IntArray, x: FloatArray, y: FloatArray
) -> None:
    cols = scene._cols
    cols.rsm_x_m[rows] = x
    cols.rsm_y_m[rows] = y
    cols.rsm_ms[rows] = t_ms
    cols.flags[rows] |= int(Flag.PERCEIVED)
    scene.stats.cross_checked += int(rows.size)


def _write(
    scene: Scene,
    states: list[ParticipantState],
    rows: IntArray,
    t_ms: IntArray,
    recv_ms: IntArray,
    perceived: npt.NDArray[np.bool_],
    x: FloatArray,
    y: FloatArray,
) -> None:
    cols = scene._cols
    n = len(states)
    speed = _column(states, "speed_mps")
    heading = _column(states, "heading_deg")
    if np.isnan(speed.sum() + heading.sum()):  # some report left speed or heading out
        prev_t = cols.t_ms[rows]
        dt_s = (t_ms - prev_t) * 0.001
        _derive_motion(speed, heading, x - cols.x_m[rows], y - cols.y_m[rows], dt_s, prev_t >= 0)
    cols.x_m[rows], cols.y_m[rows] = x, y
    cols.z_m[rows] = _column(states, "elevation_m")
    cols.speed_mps[rows], cols.heading_deg[rows] = speed, heading
    cols.length_m[rows] = _column(states, "length_m")
    cols.width_m[rows] = _column(states, "width_m")
    cols.kind[rows] = np.fromiter((KIND_CODES[s.kind] for s in states), np.int64, n)
    cols.source[rows] = np.fromiter((SOURCE_CODES[s.source] for s in states), np.int64, n)
    flags = _flags(states)
    if scene._perception_seen:  # roadside perception marks and cross-check times
        rsm_ms = cols.rsm_ms[rows]
        recent_rsm = (rsm_ms >= 0) & (rsm_ms >= t_ms - scene.stale_after_ms)
        flags |= np.where(perceived, _PERCEPTION_ONLY, 0)
        flags |= np.where(recent_rsm & ~perceived, _PERCEIVED, 0)
        cols.self_ms[rows] = np.where(perceived, cols.self_ms[rows], t_ms)
    else:
        cols.self_ms[rows] = t_ms
    cols.flags[rows] = flags
    cols.t_ms[rows], cols.received_ms[rows] = t_ms, recv_ms
    _history_rates(scene, rows, t_ms, speed, heading, states)
    since = cols.stopped_since_ms[rows]
    stopped_since = np.where(since < 0, t_ms, since)
    cols.stopped_since_ms[rows] = np.where(speed > scene.stopped_speed_mps, -1, stopped_since)
    held = scene._states
    for row, state in zip(rows.tolist(), states, strict=True):
        held[row] = state
    scene.stats.applied += n
    if scene.focus_refresh_ms is not None:
        scene._written.append(rows)


def _flags(states: list[ParticipantState]) -> IntArray:
    """``Flag`` bits per report; most carry no events, lights, brakes or emergency status."""
    return np.fromiter(
        (
            flags_of(s)
            if s.vehicle_events
            or s.exterior_lights
            or s.brakes is not None
            or s.emergency is not None
            else 0
            for s in states
        ),
        np.int64,
        len(states),
    )


def _derive_motion(
    speed: FloatArray,
    heading: FloatArray,
    dx: FloatArray,
    dy: FloatArray,
    dt_s: FloatArray,
    has_prev: npt.NDArray[np.bool_],
) -> None:
    """Fill unreported speed and heading (in place) from the displacement since the last state."""
    ok = has_prev & (dt_s > 0.02)
    with np.errstate(invalid="ignore", divide="ignore"):
        moved_speed = np.where(ok, np.hypot(dx, dy) / dt_s, np.nan)
    miss_speed = np.isnan(speed)
    speed[miss_speed] = moved_speed[miss_speed]
    moving = ok & (moved_speed > STANDSTILL_MPS)  # standing: a displacement is noise
    miss_heading = np.isnan(heading) & moving
    heading[miss_heading] = unit_to_heading_deg(dx, dy)[miss_heading]


def _history_rates(
    scene: Scene,
    rows: IntArray,
    t_ms: IntArray,
    speed: FloatArray,
    heading: FloatArray,
    states: list[ParticipantState],
) -> None:
    """Push the new samples into each row's history ring, then set acceleration and yaw rate:
    reported if present, else from the oldest sample in the ring (≥ 50 ms back). A reported
    yaw rate of exactly 0 counts as not reported (the wire's "unknown", see below)."""
    cols = scene._cols
    size = cols.history_len
    pos = (cols.h_pos[rows] + 1) % size
    count = np.minimum(cols.h_count[rows] + 1, size)
    cols.h_pos[rows], cols.h_count[rows] = pos, count
    base = rows * size
    now_at, old_at = base + pos, base + (pos - count + 1) % size
    h_t, h_speed, h_heading = (
        cols.h_t_ms.ravel(),
        cols.h_speed_mps.ravel(),
        cols.h_heading_deg.ravel(),
    )
    h_t[now_at], h_speed[now_at], h_heading[now_at] = t_ms, speed, heading
    # the oldest sample, if ≥ 50 ms back (a ring of one sample is its own oldest: dt 0)
    dt_s = (t_ms - h_t[old_at]) * 0.001
    per_s = np.divide(1.0, dt_s, out=np.full(dt_s.size, np.nan), where=dt_s >= 0.05)
    accel = (speed - h_speed[old_at]) * per_s
    yaw = ((heading - h_heading[old_at] + 180.0) % 360.0 - 180.0) * per_s
    rep_accel = _column(states, "accel_long_mps2")
    rep_yaw = _column(states, "yaw_rate_dps")
    cols.accel_mps2[rows] = np.where(rep_accel != rep_accel, accel, rep_accel)  # NaN: derived
    # a yaw rate of exactly 0 is what a sender without a gyro puts on the wire (CSAE's
    # AccelerationSet4Way has no "unavailable" yaw; ``codec`` encodes unknown as 0): the
    # heading history knows better. A sender that does measure reports a straight drive as a
    # noisy value near 0 and the history agrees with it there.
    cols.yaw_rate_dps[rows] = np.where((rep_yaw != rep_yaw) | (rep_yaw == 0.0), yaw, rep_yaw)
