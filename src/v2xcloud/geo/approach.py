"""Lane matching against a junction's approach lanes: which ingress lane, how far to its stop line.

Lane centre lines are polylines in a local metric frame (x east, y north), upstream first and
ending at the stop line, as ``model.Lane.points`` orders them. All points of a tick are matched
against all segments of all lanes at once (N × S arrays; a junction has a few hundred segments).
The last segment is extended past the stop line by ``overshoot_m`` so that a vehicle that has
just crossed gets a negative distance instead of no match.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = ["ApproachLanes", "LaneMatch"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class LaneMatch(msgspec.Struct, frozen=True, kw_only=True):
    """Per point: ``lane`` index into the lanes (-1: none), distance to the stop line along the
    lane (m, negative once past it), lateral offset (m) and the lane's heading there (deg)."""

    lane: IntArray
    to_stop_m: FloatArray
    lateral_m: FloatArray
    lane_heading_deg: FloatArray


class ApproachLanes:
    """The ingress lanes of a junction, compiled for vectorised matching.

    ``polylines`` are (k, 2) arrays of local x/y metres, each ending at its stop line.
    """

    def __init__(
        self, polylines: list[FloatArray], *, half_width_m: float = 2.0, overshoot_m: float = 15.0
    ) -> None:
        self.half_width_m = half_width_m
        starts, ends, lane_of, along = [], [], [], []
        self.length_m = np.zeros(len(polylines))
        for k, pts in enumerate(polylines):
            seg = np.diff(pts, axis=0)
            seg_len = np.hypot(seg[:, 0], seg[:, 1])
            self.length_m[k] = float(seg_len.sum())
            stop_end = pts[1:].copy()
            if len(seg_len):  # push the last segment's end past the stop line
                stop_end[-1] += seg[-1] / max(seg_len[-1], 1e-9) * overshoot_m
            starts.append(pts[:-1])
            ends.append(stop_end)
            lane_of.append(np.full(len(seg_len), k))
            along.append(np.concatenate([[0.0], np.cumsum(seg_len)[:-1]]))
        self._a = np.concatenate(starts) if starts else np.zeros((0, 2))
        self._d = (np.concatenate(ends) if ends else np.zeros((0, 2))) - self._a
        self._len2 = np.maximum((self._d**2).sum(axis=1), 1e-12)
        self._lane = np.concatenate(lane_of).astype(np.int64) if lane_of else np.zeros(0, np.int64)
        self._along = np.concatenate(along) if along else np.zeros(0)
        self._heading = np.degrees(np.arctan2(self._d[:, 0], self._d[:, 1])) % 360.0
        self.stop_xy = np.array([p[-1] for p in polylines]) if polylines else np.zeros((0, 2))

    def __len__(self) -> int:
        return int(self.length_m.size)

    def near(
        self,
        x_m: FloatArray,
        y_m: FloatArray,
        heading_deg: FloatArray,
        *,
        within_m: float,
        max_heading_diff_deg: float = 45.0,
    ) -> npt.NDArray[np.bool_]:
        """(points × lanes) mask of the lanes running within ``within_m`` of each point in its
        direction: the candidates when a position cannot tell two adjacent lanes apart."""
        x = np.asarray(x_m, dtype=np.float64)[:, None]
        y = np.asarray(y_m, dtype=np.float64)[:, None]
        out = np.zeros((x.shape[0], len(self)), dtype=bool)
        if x.shape[0] == 0 or self._a.shape[0] == 0:
            return out
        t = ((x - self._a[:, 0]) * self._d[:, 0] + (y - self._a[:, 1]) * self._d[:, 1]) / self._len2
        t = np.clip(t, 0.0, 1.0)
        dist = np.hypot(
            x - (self._a[:, 0] + t * self._d[:, 0]), y - (self._a[:, 1] + t * self._d[:, 1])
        )
        h = np.asarray(heading_deg, dtype=np.float64)[:, None]
        ok = (dist <= within_m) & (
            np.abs((h - self._heading + 180.0) % 360.0 - 180.0) <= max_heading_diff_deg
        )
        rows, segs = np.nonzero(ok)
        out[rows, self._lane[segs]] = True
        return out

    def match(
        self,
        x_m: FloatArray,
        y_m: FloatArray,
        heading_deg: FloatArray | None = None,
        *,
        max_heading_diff_deg: float = 45.0,
    ) -> LaneMatch:
        """Match points to the nearest lane within ``half_width_m`` (and, when headings are
        given, whose direction is within ``max_heading_diff_deg``; NaN headings match any)."""
        x = np.asarray(x_m, dtype=np.float64)[:, None]
        y = np.asarray(y_m, dtype=np.float64)[:, None]
        n = x.shape[0]
        if n == 0 or self._a.shape[0] == 0:
            return _no_match(n)
        t = ((x - self._a[:, 0]) * self._d[:, 0] + (y - self._a[:, 1]) * self._d[:, 1]) / self._len2
        t = np.clip(t, 0.0, 1.0)
        px, py = self._a[:, 0] + t * self._d[:, 0], self._a[:, 1] + t * self._d[:, 1]
        dist = np.hypot(x - px, y - py)
        ok = dist <= self.half_width_m
        if heading_deg is not None:
            h = np.asarray(heading_deg, dtype=np.float64)[:, None]
            diff = np.abs((h - self._heading + 180.0) % 360.0 - 180.0)
            ok &= np.isnan(h) | (diff <= max_heading_diff_deg)
        dist = np.where(ok, dist, np.inf)
        best = np.argmin(dist, axis=1)
        rows = np.arange(n)
        found = np.isfinite(dist[rows, best])
        lane = np.where(found, self._lane[best], -1)
        seg_len = np.sqrt(self._len2[best])
        along = self._along[best] + t[rows, best] * seg_len
        to_stop = np.where(found, self.length_m[self._lane[best]] - along, np.nan)
        cross = (x[:, 0] - px[rows, best]) * np.cos(np.radians(self._heading[best])) - (
            y[:, 0] - py[rows, best]
        ) * np.sin(np.radians(self._heading[best]))
        return LaneMatch(
            lane=lane.astype(np.int64),
            to_stop_m=to_stop,
            lateral_m=np.where(found, cross, np.nan),
            lane_heading_deg=np.where(found, self._heading[best], np.nan),
        )


def _no_match(n: int) -> LaneMatch:
    nan = np.full(n, np.nan)
    return LaneMatch(
        lane=np.full(n, -1, dtype=np.int64),
        to_stop_m=nan,
        lateral_m=nan.copy(),
        lane_heading_deg=nan.copy(),
    )
