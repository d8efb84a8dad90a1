"""The read-only scene an application sees at one tick: column arrays plus lookups.

Rows are the live participants, 0..n-1, in no particular order; every column has length n.
States are extrapolated (the tracker's constant acceleration, stopping at zero speed) from each
participant's last report to the tick.
Arrays are marked read-only: an application that writes to one gets a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from v2xcloud.geo import LaneMap, LocalFrame, SpatialGrid
from v2xcloud.model import NodeId, ParticipantState
from v2xcloud.twin.pairs import PairTable
from v2xcloud.twin.places import ActiveEvent, ActiveSign, IntersectionView

__all__ = ["COLUMNS", "SceneView"]

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: every column array of a view, with its unit in the name (``kind``/``flags`` are codes)
COLUMNS = (
    "uid",
    "kind",
    "source",
    "flags",
    "x_m",
    "y_m",
    "z_m",
    "vx_mps",
    "vy_mps",
    "speed_mps",
    "heading_deg",
    "accel_mps2",
    "yaw_rate_dps",
    "length_m",
    "width_m",
    "lane",
    "lane_offset_m",
    "to_stop_m",
    "lane_heading_deg",
    "timestamp_ms",
    "received_ms",
    "stopped_since_ms",
    "sin_heading",
    "cos_heading",
    "position_sd_m",
    "speed_sd_mps",
    "accel_sd_mps2",
    "heading_sd_deg",
    "yaw_rate_sd_dps",
)


class SceneView:
    """A snapshot of the scene at ``now_ms`` (platform UTC ms) for the applications.

    Columns (numpy, one entry per row): ``uid`` (a stable integer per participant while it
    stays in the scene), ``kind`` (``twin.Kind``), ``source`` (``SourceCode``),
    ``flags`` (``Flag`` bits), ``x_m``/``y_m`` local metres east/north, ``z_m`` elevation (NaN
    if unknown), ``vx_mps``/``vy_mps``, ``speed_mps``, ``heading_deg`` clockwise from north,
    ``accel_mps2`` longitudinal, ``yaw_rate_dps`` (positive clockwise, i.e. turning right),
    ``length_m``/``width_m`` (a default by kind when not reported), ``lane`` (index into ``lanes.lanes``, -1 if unmatched),
    ``lane_offset_m`` (right of the lane centre), ``to_stop_m`` (to the lane's stop line),
    ``lane_heading_deg`` (the matched lane segment's heading, NaN if unmatched),
    ``timestamp_ms`` (report time on the platform clock), ``received_ms``,
    ``stopped_since_ms`` (-1 while moving), ``sin_heading``/``cos_heading``.
    ``ids`` is the list of participant ids in row order.

    Position, speed, heading, acceleration and yaw rate are the estimates of each
    participant's tracking filter (``twin._track``: a Kalman filter fed by every report,
    weighted by what its source measures), not the last report's raw values. Their
    uncertainty is in one place, the ``*_sd_*`` columns: the 1σ standard deviation of the
    estimate (square root of the filter covariance's diagonal), ``position_sd_m`` (per axis)
    and ``speed_sd_mps`` grown over the extrapolation to ``now_ms``, ``accel_sd_mps2``,
    ``heading_sd_deg``, ``yaw_rate_sd_dps``. An application that acts on a kinematic value
    should require it to hold with its uncertainty (e.g. a deceleration whose estimate plus
    one σ is still hard braking), not act on one sample.
    """

    def __init__(
        self,
        *,
        now_ms: int,
        ids: list[str],
        columns: dict[str, npt.NDArray[np.generic]],
        frame: LocalFrame,
        lanes: LaneMap | None,
        states: list[ParticipantState],
        intersections: Mapping[NodeId, IntersectionView],
        events: tuple[ActiveEvent, ...],
        signs: tuple[ActiveSign, ...],
        level_gap_m: float,
        row_of: Mapping[str, int] | None = None,
        focus: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self.now_ms = now_ms
        self.ids = ids
        self.frame = frame
        self.lanes = lanes
        self.level_gap_m = level_gap_m
        self.intersections: Mapping[NodeId, IntersectionView] = MappingProxyType(
            dict(intersections)
        )
        self.events = events
        self.signs = signs
        self._states = states
        # ``row_of`` (id → row, consistent with ``ids``) may be passed in to save rebuilding it
        self._row_of = row_of if row_of is not None else {pid: r for r, pid in enumerate(ids)}
        for name in COLUMNS:
            array = columns[name]
            array.flags.writeable = False
            setattr(self, name, array)
        #: incremental tick: rows whose pairs the applications evaluate (``None``: all)
        self.focus = focus
        self._grids: dict[float, SpatialGrid] = {}
        self._pairs: dict[float, PairTable] = {}
        self._unordered: dict[float, PairTable] = {}
        self._shared: dict[str, Any] = {}

    # column attributes, declared for type checkers
    uid: IntArray
    kind: IntArray
    source: IntArray
    flags: IntArray
    x_m: FloatArray
    y_m: FloatArray
    z_m: FloatArray
    vx_mps: FloatArray
    vy_mps: FloatArray
    speed_mps: FloatArray
    heading_deg: FloatArray
    accel_mps2: FloatArray
    yaw_rate_dps: FloatArray
    length_m: FloatArray
    width_m: FloatArray
    lane: IntArray
    lane_offset_m: FloatArray
    to_stop_m: FloatArray
    lane_heading_deg: FloatArray
    timestamp_ms: IntArray
    received_ms: IntArray
    stopped_since_ms: IntArray
    sin_heading: FloatArray
    cos_heading: FloatArray
    position_sd_m: FloatArray
    speed_sd_mps: FloatArray
    accel_sd_mps2: FloatArray
    heading_sd_deg: FloatArray
    yaw_rate_sd_dps: FloatArray

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, participant_id: str) -> int | None:
        """Row of a participant id, or ``None`` if it is not (or no longer) in the scene."""
        return self._row_of.get(participant_id)

    def state(self, row: int) -> ParticipantState:
        """The latest report (as received, not extrapolated) behind a row."""
        return self._states[row]

    def grid(self, cell_m: float) -> SpatialGrid:
        """The spatial grid of this tick's positions with ``cell_m`` cells (built once)."""
        grid = self._grids.get(cell_m)
        if grid is None:
            grid = self._grids[cell_m] = SpatialGrid(self.x_m, self.y_m, cell_m=cell_m)
        return grid

    def unordered_pairs(self, radius_m: float) -> PairTable:
        """Every pair within ``radius_m`` once (``ego`` is just the first of the two); cached.
        With a ``focus``, only the pairs with at least one focused row.

        Cheaper than ``pairs``: select on symmetric columns first, then call ``directed()``.
        """
        table = self._unordered.get(radius_m)
        if table is None:
            # half-size cells test fewer candidates; with few points fewer cells cost less
            grid = self.grid(radius_m / 2 if len(self) > 2000 else radius_m)
            focus = self.focus
            if focus is None:
                i, j = grid.pairs(radius_m)
            else:  # from each focused row; a pair of two focused rows once
                i, j = grid.neighbours(focus.nonzero()[0], radius_m)
                keep = ~focus[j] | (i < j)
                i, j = i[keep], j[keep]
            table = self._unordered[radius_m] = PairTable(self, i, j)
        return table

    def pairs(self, radius_m: float) -> PairTable:
        """Every directed pair within ``radius_m`` (both (a, b) and (b, a)); cached per radius."""
        table = self._pairs.get(radius_m)
        if table is None:
            table = self._pairs[radius_m] = self.unordered_pairs(radius_m).directed()
        return table

    def neighbours(
        self, rows: npt.ArrayLike, radius_m: float, *, focused: bool = True
    ) -> PairTable:
        """Directed pairs (row, other) for the given rows and every other row within
        ``radius_m``. With a ``focus`` (and ``focused``), only pairs with a focused row:
        pass ``focused=False`` for context that is not a hazard pair (e.g. a queue check).
        ``rows`` are row indices; a boolean mask raises ``TypeError`` (numpy would read its
        False/True as rows 0 and 1)."""
        rows = np.asarray(rows)
        if rows.dtype == np.bool_:
            raise TypeError("SceneView.neighbours takes row indices, not a boolean mask")
        q, j = self.grid(radius_m).neighbours(rows, radius_m)
        focus = self.focus
        if focused and focus is not None:
            keep = focus[q] | focus[j]
            q, j = q[keep], j[keep]
        return PairTable(self, q, j)

    def any_flag(self, bits: int) -> bool:
        """Whether any participant's ``flags`` has one of ``bits`` (the union is computed
        once per view): lets an application with nothing to trigger it stop at once."""
        union = self._shared.get("flag_union")
        if union is None:
            union = self._shared["flag_union"] = int(np.bitwise_or.reduce(self.flags, initial=0))
        return bool(union & bits)

    def has_kind(self, *kinds: int) -> bool:
        """Whether any participant is of one of these ``kind`` codes (computed once per view)."""
        present = self._shared.get("kind_union")
        if present is None:
            codes = np.left_shift(1, self.kind)
            present = self._shared["kind_union"] = int(np.bitwise_or.reduce(codes, initial=0))
        return any(present & (1 << k) for k in kinds)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per tick under ``key``: for work several applications share
        (e.g. BSW and LCW both need the pairs beside each vehicle)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def release(self) -> None:
        """Drop this view's cached grids, pair tables and shared results (see
        ``PairTable.release``); the scene calls it when it makes the next view. Cached tables
        refer back to the view, so without this each tick's pair arrays would live on until
        the cyclic garbage collector found them. The view stays usable (caches refill)."""
        for table in (*self._pairs.values(), *self._unordered.values()):
            table.release()
        for value in self._shared.values():
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, PairTable):
                    item.release()
        self._grids.clear()
        self._pairs.clear()
        self._unordered.clear()
        self._shared.clear()

    def to_wgs84(self, rows: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat deg, lon deg) of rows' extrapolated positions."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.frame.to_wgs84(self.x_m[rows], self.y_m[rows])
