"""Shared kinematics for the applications, vectorised over numpy arrays.

Conventions: local metres (x east, y north), headings in degrees clockwise from north, yaw
rates in degrees per second positive clockwise (a right turn), times in seconds. Functions
return ``inf`` (never) or ``nan`` (undefined) instead of raising on degenerate input.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "closest_approach",
    "crossing_times",
    "gap_ttc",
    "predict_ctrv",
    "predict_cv",
    "required_decel",
    "time_to_contact",
    "ttc_lead_braking",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
_EPS = 1e-9


def predict_cv(
    x_m: ArrayLike, y_m: ArrayLike, vx_mps: ArrayLike, vy_mps: ArrayLike, t_s: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Constant-velocity positions after ``t_s`` (broadcasts, e.g. rows × time steps)."""
    t = np.asarray(t_s, dtype=np.float64)
    return np.asarray(x_m) + np.asarray(vx_mps) * t, np.asarray(y_m) + np.asarray(vy_mps) * t


def predict_ctrv(
    x_m: ArrayLike,
    y_m: ArrayLike,
    speed_mps: ArrayLike,
    heading_deg: ArrayLike,
    yaw_rate_dps: ArrayLike,
    t_s: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Constant speed and turn rate: positions and headings (deg) after ``t_s``.

    Falls back to a straight line where the turn rate is below 0.01 deg/s.
    """
    x0, y0 = np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
    v, t = np.asarray(speed_mps, dtype=np.float64), np.asarray(t_s, dtype=np.float64)
    h0 = np.radians(np.asarray(heading_deg, dtype=np.float64))
    w = np.radians(np.asarray(yaw_rate_dps, dtype=np.float64))
    h1 = h0 + w * t
    straight = np.abs(w) < np.radians(0.01)
    w_safe = np.where(straight, 1.0, w)
    x_turn = x0 + v / w_safe * (np.cos(h0) - np.cos(h1))
    y_turn = y0 + v / w_safe * (np.sin(h1) - np.sin(h0))
    x_line = x0 + v * np.sin(h0) * t
    y_line = y0 + v * np.cos(h0) * t
    x = np.where(straight, x_line, x_turn)
    y = np.where(straight, y_line, y_turn)
    return x, y, np.mod(np.degrees(h1), 360.0)


def closest_approach(
    dx_m: ArrayLike, dy_m: ArrayLike, dvx_mps: ArrayLike, dvy_mps: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Time (≥ 0) and distance of the closest approach of two constant-velocity movers.

    ``dx``/``dy`` is the other's position minus the ego's, ``dvx``/``dvy`` likewise for velocity.
    """
    dx, dy = np.asarray(dx_m, dtype=np.float64), np.asarray(dy_m, dtype=np.float64)
    dvx, dvy = np.asarray(dvx_mps, dtype=np.float64), np.asarray(dvy_mps, dtype=np.float64)
    dv2 = dvx * dvx + dvy * dvy
    t = np.where(dv2 > _EPS, -(dx * dvx + dy * dvy) / np.maximum(dv2, _EPS), 0.0)
    t = np.maximum(t, 0.0)
    return t, np.hypot(dx + dvx * t, dy + dvy * t)


def time_to_contact(
    dx_m: ArrayLike, dy_m: ArrayLike, dvx_mps: ArrayLike, dvy_mps: ArrayLike, radius_m: ArrayLike
) -> FloatArray:
    """First time (≥ 0) two constant-velocity movers come within ``radius_m``; ``inf`` if never.

    0 when they are already within the radius.
    """
    dx, dy = np.asarray(dx_m, dtype=np.float64), np.asarray(dy_m, dtype=np.float64)
    dvx, dvy = np.asarray(dvx_mps, dtype=np.float64), np.asarray(dvy_mps, dtype=np.float64)
    r = np.asarray(radius_m, dtype=np.float64)
    a = dvx * dvx + dvy * dvy
    b = dx * dvx + dy * dvy
    c = dx * dx + dy * dy - r * r
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    hit = (a > _EPS) & (disc >= 0) & (t >= 0)
    return np.where(c <= 0, 0.0, np.where(hit, t, np.inf))


def gap_ttc(gap_m: ArrayLike, closing_mps: ArrayLike) -> FloatArray:
    """Time to collision of a gap closing at constant speed; ``inf`` if it is not closing."""
    gap = np.asarray(gap_m, dtype=np.float64)
    closing = np.asarray(closing_mps, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(closing > _EPS, np.maximum(gap, 0.0) / closing, np.inf)


def required_decel(gap_m: ArrayLike, closing_mps: ArrayLike) -> FloatArray:
    """Deceleration (m/s², ≥ 0) that stops the closing within the gap: closing² / (2 gap)."""
    gap = np.maximum(np.asarray(gap_m, dtype=np.float64), 0.01)
    closing = np.maximum(np.asarray(closing_mps, dtype=np.float64), 0.0)
    return closing * closing / (2.0 * gap)


def ttc_lead_braking(
    gap_m: ArrayLike,
    ego_speed_mps: ArrayLike,
    lead_speed_mps: ArrayLike,
    lead_decel_mps2: ArrayLike,
) -> FloatArray:
    """Time until a constant-speed ego reaches a lead that brakes at ``lead_decel_mps2`` (> 0)
    until it stops; ``inf`` if never."""
    gap = np.maximum(np.asarray(gap_m, dtype=np.float64), 0.0)
    ve = np.asarray(ego_speed_mps, dtype=np.float64)
    vl = np.maximum(np.asarray(lead_speed_mps, dtype=np.float64), 0.0)
    a = np.maximum(np.asarray(lead_decel_mps2, dtype=np.float64), _EPS)
    # while the lead still moves: gap + (vl - ve) t - a t²/2 = 0
    b = vl - ve
    disc = b * b + 2.0 * a * gap
    t_moving = (b + np.sqrt(disc)) / a
    t_stop = vl / a
    stopped_at = gap + vl * vl / (2.0 * a)  # ego must cover this once the lead stands
    with np.errstate(divide="ignore"):
        t_after = np.where(ve > _EPS, stopped_at / np.maximum(ve, _EPS), np.inf)
    return np.where(t_moving <= t_stop, t_moving, t_after)


def crossing_times(
    x1_m: ArrayLike,
    y1_m: ArrayLike,
    vx1_mps: ArrayLike,
    vy1_mps: ArrayLike,
    x2_m: ArrayLike,
    y2_m: ArrayLike,
    vx2_mps: ArrayLike,
    vy2_mps: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Where two straight constant-velocity paths cross and when each mover gets there.

    Returns ``(t1_s, t2_s, x_m, y_m)``; times are negative for a point already passed and NaN
    for parallel paths (or a mover standing still).
    """
    x1, y1 = np.asarray(x1_m, dtype=np.float64), np.asarray(y1_m, dtype=np.float64)
    vx1, vy1 = np.asarray(vx1_mps, dtype=np.float64), np.asarray(vy1_mps, dtype=np.float64)
    dx = np.asarray(x2_m, dtype=np.float64) - x1
    dy = np.asarray(y2_m, dtype=np.float64) - y1
    vx2, vy2 = np.asarray(vx2_mps, dtype=np.float64), np.asarray(vy2_mps, dtype=np.float64)
    denom = vx1 * vy2 - vy1 * vx2
    ok = np.abs(denom) > 1e-6
    safe = np.where(ok, denom, 1.0)
    t1 = np.where(ok, (dx * vy2 - dy * vx2) / safe, np.nan)
    t2 = np.where(ok, (dx * vy1 - dy * vx1) / safe, np.nan)
    return t1, t2, x1 + vx1 * t1, y1 + vy1 * t1
