"""Applying a batch of queued participant reports to the scene's columns, vectorised."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from v2xcloud.geo import unit_to_heading_deg
from v2xcloud.model import ParticipantState
from v2xcloud.model.thresholds import STANDSTILL_MPS
from v2xcloud.twin._columns import FLOAT_COLUMNS
from v2xcloud.twin._track import (
    COVARIANCE_COLUMNS,
    ESTIMATE_COLUMNS,
    NEWBORN_MS,
    Measurements,
    step,
)
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
            seen = scene._alias_ms  # each fused object's latest report (fused ones only)
            if seen:
                sel = cross.nonzero()[0]
                latest = zip(map(keys.__getitem__, sel.tolist()), t_ms[sel].tolist(), strict=True)
                seen.update({k: t for k, t in latest if k in seen})
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
    prev_t = cols.t_ms[rows]
    dt_s = (t_ms - prev_t) * 0.001
    derived = np.zeros(n, dtype=bool)
    if np.isnan(speed.sum() + heading.sum()):  # some report left speed or heading out
        derived = speed != speed
        dx, dy = x - cols.meas_x_m[rows], y - cols.meas_y_m[rows]
        _derive_motion(speed, heading, dx, dy, dt_s, prev_t >= 0)
    cols.meas_x_m[rows], cols.meas_y_m[rows] = x, y
    _track_rows(
        scene, states, rows, t_ms, dt_s, prev_t < 0, perceived, x, y, speed, heading, derived
    )
    cols.z_m[rows] = _column(states, "elevation_m")
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
    since = cols.stopped_since_ms[rows]
    stopped_since = np.where(since < 0, t_ms, since)
    filtered_speed = cols.speed_mps[rows]
    cols.stopped_since_ms[rows] = np.where(
        filtered_speed > scene.stopped_speed_mps, -1, stopped_since
    )
    held = scene._states
    for row, state in zip(rows.tolist(), states, strict=True):
        held[row] = state
    scene.stats.applied += n
    if scene.focus_refresh_ms is not None:
        scene._written.append(rows)


_TRACKED = ESTIMATE_COLUMNS + COVARIANCE_COLUMNS


def _track_rows(
    scene: Scene,
    states: list[ParticipantState],
    rows: IntArray,
    t_ms: IntArray,
    dt_s: FloatArray,
    first: npt.NDArray[np.bool_],
    perceived: npt.NDArray[np.bool_],
    x: FloatArray,
    y: FloatArray,
    speed: FloatArray,
    heading: FloatArray,
    derived: npt.NDArray[np.bool_],
) -> None:
    """Run the rows' tracking filters (``_track``) on this batch's reports.

    A reported acceleration is a measurement; a yaw rate of exactly 0 is not: it is what a
    sender without a gyro puts on the wire (CSAE's AccelerationSet4Way has no "unavailable"
    yaw; ``codec`` encodes unknown as 0), so the filter's heading history decides it. A
    sender that does measure reports a straight drive as a noisy value near 0.
    """
    cols = scene._cols
    born = np.where(first, t_ms, cols.born_ms[rows])
    cols.born_ms[rows] = born
    yaw = _column(states, "yaw_rate_dps")
    yaw[yaw == 0.0] = np.nan
    z = Measurements(
        x=x,
        y=y,
        speed=speed,
        heading=heading,
        accel=_column(states, "accel_long_mps2"),
        yaw=yaw,
        position_sd=_column(states, "position_accuracy_m"),
        roadside=perceived,
        first=first,
        speed_derived=derived,
        newborn=t_ms - born < NEWBORN_MS,
    )
    floats = cols.floats
    state = {name: floats[_ROW[name], rows] for name in _TRACKED}
    missed = cols.gate_missed[rows]
    step(state, missed, dt_s, z)
    for name, values in state.items():
        floats[_ROW[name], rows] = values
    cols.gate_missed[rows] = missed


_ROW = {name: FLOAT_COLUMNS.index(name) for name in _TRACKED}


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
