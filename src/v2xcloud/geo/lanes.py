"""Lane matching: which MAP lane a participant drives in, its offset and distance to the stop line.

A ``LaneMap`` turns a ``MapData`` into centre-line segments in the local frame and indexes them
in a uniform grid, so matching thousands of participants is a few numpy operations. It is the
platform's one lane matcher: the scene matches every participant with it each tick (the
``lane``/``lane_offset_m``/``to_stop_m`` columns of the view), the V2I apps read that match,
``near`` lists the lanes a position cannot rule out and ``match`` without headings serves
wrong-way detection (a participant against a lane's direction).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import numpy.typing as npt

from v2xcloud.geo.frame import LocalFrame, unit_to_heading_deg
from v2xcloud.model import Lane, MapData, MapLink, MapNode, NodeId

__all__ = ["LaneInfo", "LaneMap", "LaneMatch", "polyline_distance_m"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_OFFSET = 1 << 20


class LaneInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One lane of the map: the node it enters, its link's upstream node, and the lane itself."""

    index: int
    node: NodeId
    upstream_node: NodeId
    lane: Lane
    width_m: float
    length_m: float


class LaneMatch(msgspec.Struct, frozen=True, kw_only=True):
    """Per-point match result: ``lane`` index into ``LaneMap.lanes`` (-1 if none), signed
    lateral offset from the centre line (m, positive right of the lane direction), distance
    along the lane to its end, i.e. the stop line (m), and the lane's heading there (deg;
    NaN where unmatched)."""

    lane: IntArray
    lateral_m: FloatArray
    to_stop_m: FloatArray
    lane_heading_deg: FloatArray


def _lane_width(link: MapLink, lane: Lane, default_m: float) -> float:
    if lane.width_m:
        return lane.width_m
    if link.width_m and link.lanes:
        return link.width_m / len(link.lanes)
    return default_m


def polyline_distance_m(x_m: FloatArray, y_m: FloatArray, polyline: FloatArray) -> FloatArray:
    """Distance (m) of each point to a (k, 2) polyline of local metres."""
    x = np.asarray(x_m, dtype=np.float64)[:, None]
    y = np.asarray(y_m, dtype=np.float64)[:, None]
    a = polyline[:-1]
    d = np.diff(polyline, axis=0)
    len2 = np.maximum((d**2).sum(axis=1), 1e-12)
    t = np.clip(((x - a[:, 0]) * d[:, 0] + (y - a[:, 1]) * d[:, 1]) / len2, 0.0, 1.0)
    dist = np.hypot(x - (a[:, 0] + t * d[:, 0]), y - (a[:, 1] + t * d[:, 1]))
    return np.asarray(dist.min(axis=1, initial=np.inf))


class LaneMap:
    """The lanes of one or more MAP messages, ready for vectorised matching.

    ``max_heading_diff_deg``: a participant only matches lanes within this angle of its
    heading (so oncoming traffic matches the opposite lanes); ``tolerance_m`` is added to the
    half lane width. Lanes without centre-line points are listed but never matched.
    ``overshoot_m`` extends each lane's last segment past its end (the stop line), so that a
    participant that has just crossed gets a negative ``to_stop_m`` instead of no match (for
    finding crossings); the live scene uses none. ``lane_filter`` keeps only the lanes it
    accepts (all by default).
    """

    def __init__(
        self,
        maps: list[MapData],
        frame: LocalFrame,
        *,
        default_width_m: float = 3.5,
        max_heading_diff_deg: float = 45.0,
        tolerance_m: float = 0.5,
        cell_m: float = 25.0,
        overshoot_m: float = 0.0,
        lane_filter: Callable[[Lane], bool] | None = None,
    ) -> None:
        self.frame = frame
        self.overshoot_m = overshoot_m
        self.max_heading_diff_deg = max_heading_diff_deg
        self.tolerance_m = tolerance_m
        self.cell_m = cell_m
        kept: list[tuple[MapNode, MapLink, Lane]] = [
            (node, link, lane)
            for map_data in maps
            for node in map_data.nodes
            for link in node.in_links
            for lane in link.lanes
            if lane_filter is None or lane_filter(lane)
        ]
        # every centre-line point of the map projected at once (one call, not one per lane)
        lat = [p[0] for _, _, lane in kept for p in lane.points]
        lon = [p[1] for _, _, lane in kept for p in lane.points]
        all_x, all_y = self.frame.to_local(lat, lon)
        lanes: list[LaneInfo] = []
        segs: list[FloatArray] = []
        start = 0
        for node, link, lane in kept:
            end = start + len(lane.points)
            length = self._add_segments(all_x[start:end], all_y[start:end], len(lanes), segs)
            start = end
            lanes.append(
                LaneInfo(
                    index=len(lanes),
                    node=node.id,
                    upstream_node=link.upstream_node,
                    lane=lane,
                    width_m=_lane_width(link, lane, default_width_m),
                    length_m=length,
                )
            )
        self.lanes: tuple[LaneInfo, ...] = tuple(lanes)
        self._build_index(segs)

    def _add_segments(
        self, x_m: FloatArray, y_m: FloatArray, index: int, segs: list[FloatArray]
    ) -> float:
        """Append the lane's segments (a (k, 6) block: start x, y, end x, y, lane index,
        distance from the segment end to the lane end); ``x_m``, ``y_m`` are its centre-line
        points in the local frame. Returns the lane's length."""
        if x_m.size < 2:
            return 0.0
        x, y = x_m.copy(), y_m.copy()
        seg_len = np.hypot(np.diff(x), np.diff(y))
        remaining = np.cumsum(seg_len[::-1])[::-1] - seg_len  # after each segment's end
        length = float(seg_len.sum())
        if self.overshoot_m > 0 and seg_len[-1] > 0:  # push the last segment past the end
            x[-1] += (x[-1] - x[-2]) / seg_len[-1] * self.overshoot_m
            y[-1] += (y[-1] - y[-2]) / seg_len[-1] * self.overshoot_m
            seg_len[-1] += self.overshoot_m
            remaining[-1] = -self.overshoot_m
        block = np.empty((seg_len.size, 6), dtype=np.float64)
        block[:, 0], block[:, 1], block[:, 2], block[:, 3] = x[:-1], y[:-1], x[1:], y[1:]
        block[:, 4] = index
        block[:, 5] = remaining
        segs.append(block)
        return length

    def _build_index(self, segs: list[FloatArray]) -> None:
        arr = np.concatenate(segs) if segs else np.empty((0, 6), dtype=np.float64)
        self._ax, self._ay, self._bx, self._by = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
        self._lane = arr[:, 4].astype(np.int64)
        self._after = arr[:, 5]
        widths = np.array([info.width_m for info in self.lanes], dtype=np.float64)
        self._half_w = widths[self._lane] / 2
        dx, dy = self._bx - self._ax, self._by - self._ay
        self._len2 = np.maximum(dx * dx + dy * dy, 1e-9)
        self._heading = unit_to_heading_deg(dx, dy)
        # the grid cells each segment's padded bounding box touches, all segments at once:
        # segment s owns cells (cx0 + i, cy0 + j), listed row by row (j outer, i inner)
        pad = self._half_w + self.tolerance_m
        cx0 = np.floor((np.minimum(self._ax, self._bx) - pad) / self.cell_m).astype(np.int64)
        cx1 = np.floor((np.maximum(self._ax, self._bx) + pad) / self.cell_m).astype(np.int64)
        cy0 = np.floor((np.minimum(self._ay, self._by) - pad) / self.cell_m).astype(np.int64)
        cy1 = np.floor((np.maximum(self._ay, self._by) + pad) / self.cell_m).astype(np.int64)
        nx = cx1 - cx0 + 1
        count = nx * (cy1 - cy0 + 1)
        owner = np.repeat(np.arange(arr.shape[0], dtype=np.int64), count)
        k = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        gx = cx0[owner] + k % nx[owner]
        gy = cy0[owner] + k // nx[owner]
        all_keys = ((gx + _OFFSET) << 21) | (gy + _OFFSET)
        order = np.argsort(all_keys, kind="stable")
        self._entry_keys, self._entry_seg = all_keys[order], owner[order]

    def match(self, x_m: FloatArray, y_m: FloatArray, heading_deg: FloatArray | None) -> LaneMatch:
        """Match points with headings to lanes; unmatched points get lane -1 and NaN offsets.
        ``heading_deg=None`` matches the nearest lane whatever its direction."""
        n = x_m.size
        lane = np.full(n, -1, dtype=np.int64)
        lateral = np.full(n, np.nan)
        to_stop = np.full(n, np.nan)
        lane_heading = np.full(n, np.nan)
        if n == 0 or self._entry_keys.size == 0:
            return LaneMatch(
                lane=lane, lateral_m=lateral, to_stop_m=to_stop, lane_heading_deg=lane_heading
            )
        keys = ((np.floor(x_m / self.cell_m).astype(np.int64) + _OFFSET) << 21) | (
            np.floor(y_m / self.cell_m).astype(np.int64) + _OFFSET
        )
        lo = np.searchsorted(self._entry_keys, keys, side="left")
        hi = np.searchsorted(self._entry_keys, keys, side="right")
        count = hi - lo
        p = np.repeat(np.arange(n), count)
        e = np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
        s = self._entry_seg[e]
        best = self._score(p, s, x_m, y_m, heading_deg)
        if best is not None:
            p, s, lat, along_left = best
            lane[p] = self._lane[s]
            lateral[p] = lat
            to_stop[p] = along_left
            lane_heading[p] = self._heading[s]
        return LaneMatch(
            lane=lane, lateral_m=lateral, to_stop_m=to_stop, lane_heading_deg=lane_heading
        )

    def near(
        self,
        x_m: FloatArray,
        y_m: FloatArray,
        heading_deg: FloatArray,
        *,
        within_m: float,
        max_heading_diff_deg: float | None = None,
    ) -> npt.NDArray[np.bool_]:
        """(points × lanes) mask of the lanes running within ``within_m`` of each point in its
        direction (default ``max_heading_diff_deg``: the map's): the candidates when a
        position cannot tell adjacent lanes apart (``near_pairs`` as a mask)."""
        n = np.asarray(x_m).shape[0]
        out = np.zeros((n, len(self.lanes)), dtype=bool)
        rows, lanes = self.near_pairs(
            x_m, y_m, heading_deg, within_m=within_m, max_heading_diff_deg=max_heading_diff_deg
        )
        out[rows, lanes] = True
        return out

    def near_pairs(
        self,
        x_m: FloatArray,
        y_m: FloatArray,
        heading_deg: FloatArray,
        *,
        within_m: float,
        max_heading_diff_deg: float | None = None,
    ) -> tuple[IntArray, IntArray]:
        """(point, lane) pairs, sorted and unique, of the lanes running within ``within_m`` of
        each point in its direction (as ``near``), all points in one pass over the grid: only
        the segments listed in the cells that the point's ``within_m`` square touches are
        tested (a segment that close has its padded box in one of them)."""
        x = np.asarray(x_m, dtype=np.float64).reshape(-1)
        y = np.asarray(y_m, dtype=np.float64).reshape(-1)
        h = np.asarray(heading_deg, dtype=np.float64).reshape(-1)
        empty = np.empty(0, dtype=np.int64)
        if x.size == 0 or self._entry_keys.size == 0:
            return empty, empty
        cx0 = np.floor((x - within_m) / self.cell_m).astype(np.int64)
        cx1 = np.floor((x + within_m) / self.cell_m).astype(np.int64)
        cy0 = np.floor((y - within_m) / self.cell_m).astype(np.int64)
        cy1 = np.floor((y + within_m) / self.cell_m).astype(np.int64)
        nx = cx1 - cx0 + 1
        count = nx * (cy1 - cy0 + 1)
        point = np.repeat(np.arange(x.size, dtype=np.int64), count)
        k = np.arange(point.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        keys = ((cx0[point] + k % nx[point] + _OFFSET) << 21) | (
            cy0[point] + k // nx[point] + _OFFSET
        )
        lo = np.searchsorted(self._entry_keys, keys, side="left")
        hi = np.searchsorted(self._entry_keys, keys, side="right")
        hits = hi - lo
        p = np.repeat(point, hits)
        e = np.repeat(lo - (np.cumsum(hits) - hits), hits) + np.arange(int(hits.sum()))
        s = self._entry_seg[e]
        ax, ay = self._ax[s], self._ay[s]
        sx, sy = self._bx[s] - ax, self._by[s] - ay
        t = np.clip(((x[p] - ax) * sx + (y[p] - ay) * sy) / self._len2[s], 0.0, 1.0)
        dist = np.hypot(x[p] - (ax + t * sx), y[p] - (ay + t * sy))
        limit = self.max_heading_diff_deg if max_heading_diff_deg is None else max_heading_diff_deg
        dh = np.abs((h[p] - self._heading[s] + 180.0) % 360.0 - 180.0)
        ok = (dist <= within_m) & ~(dh > limit)
        pair = np.unique(p[ok] * max(1, len(self.lanes)) + self._lane[s[ok]])
        return pair // max(1, len(self.lanes)), pair % max(1, len(self.lanes))

    def _score(
        self, p: IntArray, s: IntArray, x: FloatArray, y: FloatArray, heading: FloatArray | None
    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray] | None:
        """Best candidate segment per point: aligned, within half width, smallest offset."""
        ax, ay = self._ax[s], self._ay[s]
        sx, sy = self._bx[s] - ax, self._by[s] - ay
        px, py = x[p] - ax, y[p] - ay
        t = np.clip((px * sx + py * sy) / self._len2[s], 0.0, 1.0)
        ex, ey = px - t * sx, py - t * sy
        dist = np.hypot(ex, ey)
        seg_len = np.sqrt(self._len2[s])
        side = np.sign(ex * sy - ey * sx)  # > 0 when the point is right of the direction
        ok = dist <= self._half_w[s] + self.tolerance_m
        if heading is not None:
            dh = np.abs((heading[p] - self._heading[s] + 180.0) % 360.0 - 180.0)
            ok &= ~(dh > self.max_heading_diff_deg)
        if not ok.any():
            return None
        p, s, dist, side, t, seg_len = p[ok], s[ok], dist[ok], side[ok], t[ok], seg_len[ok]
        order = np.lexsort((dist, p))
        p, s, dist, side, t, seg_len = (
            p[order],
            s[order],
            dist[order],
            side[order],
            t[order],
            seg_len[order],
        )
        first = np.ones(p.size, dtype=bool)
        first[1:] = p[1:] != p[:-1]
        along_left = self._after[s] + (1.0 - t) * seg_len
        return p[first], s[first], (side * dist)[first], along_left[first]
