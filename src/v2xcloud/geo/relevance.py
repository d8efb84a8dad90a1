"""Who is concerned by a place: vectorised "on this path" and "ahead of me" tests.

Used by the V2I apps (which sign or hazard applies to which vehicle) and by dissemination
(which participants must hear an event). Positions are local metres, headings degrees
clockwise from north; a NaN heading never counts as aligned.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["ahead_within", "on_path"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _angle_diff_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def on_path(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_deg: FloatArray,
    path_xy: FloatArray,
    radius_m: float,
    *,
    max_heading_diff_deg: float = 45.0,
) -> tuple[BoolArray, FloatArray]:
    """Which points lie within ``radius_m`` of the polyline ``path_xy`` (upstream first) and
    travel along it; also the distance still to go to the path's end (m, NaN if off path).

    A one-point path is a round area: any heading counts, the distance is to its centre.
    """
    x = np.asarray(x_m, dtype=np.float64)[:, None]
    y = np.asarray(y_m, dtype=np.float64)[:, None]
    pts = np.asarray(path_xy, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 1:
        d = np.hypot(x[:, 0] - pts[0, 0], y[:, 0] - pts[0, 1])
        inside = d <= radius_m
        return inside, np.where(inside, d, np.nan)
    a, seg = pts[:-1], np.diff(pts, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    len2 = np.maximum(seg_len**2, 1e-12)
    t = np.clip(((x - a[:, 0]) * seg[:, 0] + (y - a[:, 1]) * seg[:, 1]) / len2, 0.0, 1.0)
    dist = np.hypot(x - (a[:, 0] + t * seg[:, 0]), y - (a[:, 1] + t * seg[:, 1]))
    seg_heading = np.degrees(np.arctan2(seg[:, 0], seg[:, 1])) % 360.0
    h = np.asarray(heading_deg, dtype=np.float64)[:, None]
    aligned = _angle_diff_deg(h, seg_heading) <= max_heading_diff_deg
    dist = np.where(aligned, dist, np.inf)
    best = np.argmin(dist, axis=1)
    rows = np.arange(x.shape[0])
    inside = dist[rows, best] <= radius_m
    remaining = seg_len[best] * (1.0 - t[rows, best]) + (
        np.cumsum(seg_len[::-1])[::-1][best] - seg_len[best]
    )
    return inside, np.where(inside, remaining, np.nan)


def ahead_within(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_deg: FloatArray,
    target_x_m: float,
    target_y_m: float,
    *,
    range_m: float,
    cone_deg: float = 30.0,
) -> tuple[BoolArray, FloatArray]:
    """Which points have the target ahead (within ``cone_deg`` of their heading) and within
    ``range_m``; also their distance to it (m)."""
    dx = target_x_m - np.asarray(x_m, dtype=np.float64)
    dy = target_y_m - np.asarray(y_m, dtype=np.float64)
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    ahead = _angle_diff_deg(bearing, np.asarray(heading_deg, dtype=np.float64)) <= cone_deg
    return (ahead & (dist <= range_m)), dist
