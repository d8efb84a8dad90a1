"""A uniform spatial grid that yields candidate pairs within a radius, never all pairs.

Points are bucketed into square cells; a pair can only be within ``radius_m`` if its cells
are at most ``ceil(radius_m / cell_m)`` apart. Everything is vectorised: points are sorted by
cell key once, and the partner ranges of every point in every neighbour cell are expanded with
``np.repeat`` into flat index arrays.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import ConfigError

__all__ = ["SpatialGrid"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_OFFSET = 1 << 20  # cell coordinates are shifted to be non-negative before packing


def _expand(owner: IntArray, start: IntArray, length: IntArray) -> tuple[IntArray, IntArray]:
    """For each k: pairs (owner[k], start[k] + 0..length[k]-1), flattened."""
    keep = length > 0
    owner, start, length = owner[keep], start[keep], length[keep]
    total = int(length.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    first = owner.repeat(length)
    base = (start - (np.cumsum(length) - length)).repeat(length)
    return first, base + np.arange(total, dtype=np.int64)


@functools.cache
def _half_offsets(reach: int) -> IntArray:
    """Packed key offsets of half the neighbourhood, so that each unordered cell pair is
    visited once (read-only, shared)."""
    half = [(0, dy) for dy in range(1, reach + 1)] + [
        (dx, dy) for dx in range(1, reach + 1) for dy in range(-reach, reach + 1)
    ]
    offsets = np.array([(dx << 21) + dy for dx, dy in half], dtype=np.int64)
    offsets.flags.writeable = False
    return offsets


@functools.cache
def _full_offsets(reach: int) -> IntArray:
    """Packed key offsets of the whole (2 reach + 1)² neighbourhood (read-only, shared)."""
    span = np.arange(-reach, reach + 1, dtype=np.int64)
    offsets = ((span[:, None] << 21) + span[None, :]).ravel()
    offsets.flags.writeable = False
    return offsets


class SpatialGrid:
    """Uniform grid over local metric points (``x_m``, ``y_m`` arrays of equal length).

    >>> grid = SpatialGrid(np.array([0.0, 3.0, 50.0]), np.array([0.0, 4.0, 0.0]), cell_m=10.0)
    >>> i, j = grid.pairs(6.0)
    >>> list(zip(i.tolist(), j.tolist()))
    [(0, 1)]

    Raises ``ConfigError`` for a cell size that is not positive.
    """

    def __init__(self, x_m: FloatArray, y_m: FloatArray, *, cell_m: float) -> None:
        if not cell_m > 0:
            raise ConfigError(f"grid cell size must be > 0 m, got {cell_m}")
        self.cell_m = float(cell_m)
        self.x_m = np.asarray(x_m, dtype=np.float64)
        self.y_m = np.asarray(y_m, dtype=np.float64)
        cx = np.floor(self.x_m / self.cell_m).astype(np.int64) + _OFFSET
        cy = np.floor(self.y_m / self.cell_m).astype(np.int64) + _OFFSET
        keys = (cx << 21) | cy
        self._order = keys.argsort(kind="stable")
        self._sorted_keys = keys[self._order]
        # the keys are sorted already: cell boundaries are where they change
        new_cell = np.empty(self._sorted_keys.size, dtype=bool)
        new_cell[:1] = True
        np.not_equal(self._sorted_keys[1:], self._sorted_keys[:-1], out=new_cell[1:])
        self._starts = new_cell.nonzero()[0]
        self._cells = self._sorted_keys[self._starts]
        self._counts = np.empty_like(self._starts)
        self._counts[:-1] = self._starts[1:] - self._starts[:-1]
        self._counts[-1:] = self._sorted_keys.size - self._starts[-1:]
        self._cell_of_sorted = new_cell.cumsum() - 1

    def __len__(self) -> int:
        return int(self.x_m.size)

    def _reach(self, radius_m: float) -> int:
        return max(1, math.ceil(radius_m / self.cell_m))

    def _range_in(self, keys: IntArray) -> tuple[IntArray, IntArray]:
        """Sorted-array (start, count) of the cells with ``keys``; count 0 where empty."""
        pos = self._cells.searchsorted(keys)
        pos_c = np.minimum(pos, self._cells.size - 1)
        hit = self._cells[pos_c] == keys
        return self._starts[pos_c], np.where(hit, self._counts[pos_c], 0)

    def pairs(self, radius_m: float) -> tuple[IntArray, IntArray]:
        """Unordered pairs ``(i, j)``, ``i != j``, each once, with distance ≤ ``radius_m``."""
        n = len(self)
        if n < 2:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        offsets = _half_offsets(self._reach(radius_m))
        # partner ranges per occupied cell and offset, all offsets in one lookup
        start, count = self._range_in((self._cells[:, None] + offsets[None, :]).ravel())
        cells = self._cells.size
        start, count = start.reshape(cells, -1), count.reshape(cells, -1)
        cell = self._cell_of_sorted
        sorted_pos = np.arange(n, dtype=np.int64)
        k = offsets.size
        owners = np.concatenate([sorted_pos, sorted_pos.repeat(k)])
        starts = np.concatenate([sorted_pos + 1, start[cell].ravel()])
        same_cell_rest = self._starts[cell] + self._counts[cell] - sorted_pos - 1
        lengths = np.concatenate([same_cell_rest, count[cell].ravel()])
        a, b = _expand(owners, starts, lengths)
        # distances from the cell-sorted coordinates (contiguous reads), original rows at the end
        xs, ys = self.x_m[self._order], self.y_m[self._order]
        dx_m = xs[b] - xs[a]
        dy_m = ys[b] - ys[a]
        keep = (dx_m * dx_m + dy_m * dy_m <= radius_m * radius_m).nonzero()[0]
        return self._order[a[keep]], self._order[b[keep]]

    def neighbours(self, rows: npt.ArrayLike, radius_m: float) -> tuple[IntArray, IntArray]:
        """Directed pairs ``(q, j)`` for each query row ``q`` and every other point within reach."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0 or len(self) < 2:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        offsets = _full_offsets(self._reach(radius_m))
        xq, yq = self.x_m[rows], self.y_m[rows]
        cx = np.floor(xq / self.cell_m).astype(np.int64) + _OFFSET
        cy = np.floor(yq / self.cell_m).astype(np.int64) + _OFFSET
        start, count = self._range_in((((cx << 21) | cy)[:, None] + offsets[None, :]).ravel())
        owner = np.arange(rows.size, dtype=np.int64).repeat(offsets.size)
        k, b = _expand(owner, start, count)
        j = self._order[b]
        q = rows[k]
        dx, dy = self.x_m[j] - xq[k], self.y_m[j] - yq[k]
        keep = ((dx * dx + dy * dy) <= radius_m * radius_m) & (q != j)
        return q[keep], j[keep]

    def within(
        self, x_m: FloatArray, y_m: FloatArray, radius_m: float
    ) -> tuple[IntArray, IntArray]:
        """Pairs ``(k, j)``: query point ``k`` (of ``x_m``, ``y_m``, points that need not be in
        the grid) and every grid point ``j`` within ``radius_m`` of it (``neighbours`` for
        outside points: a grid of one set, queried from another)."""
        xq = np.asarray(x_m, dtype=np.float64).reshape(-1)
        yq = np.asarray(y_m, dtype=np.float64).reshape(-1)
        if xq.size == 0 or len(self) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        offsets = _full_offsets(self._reach(radius_m))
        cx = np.floor(xq / self.cell_m).astype(np.int64) + _OFFSET
        cy = np.floor(yq / self.cell_m).astype(np.int64) + _OFFSET
        start, count = self._range_in((((cx << 21) | cy)[:, None] + offsets[None, :]).ravel())
        owner = np.arange(xq.size, dtype=np.int64).repeat(offsets.size)
        k, b = _expand(owner, start, count)
        j = self._order[b]
        dx, dy = self.x_m[j] - xq[k], self.y_m[j] - yq[k]
        keep = (dx * dx + dy * dy) <= radius_m * radius_m
        return k[keep], j[keep]
