"""Growable column storage of participant rows, with a short history ring per row."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FLOAT_COLUMNS", "INT_COLUMNS", "Columns"]

#: the float columns, in the row order of ``Columns.floats``
FLOAT_COLUMNS: tuple[str, ...] = (
    "x_m",
    "y_m",
    "z_m",
    "speed_mps",
    "heading_deg",
    "accel_mps2",
    "yaw_rate_dps",
)
FLOAT_COLUMNS += ("length_m", "width_m", "rsm_x_m", "rsm_y_m")
#: the integer columns, in the row order of ``Columns.ints``
INT_COLUMNS = (
    "uid",
    "kind",
    "source",
    "flags",
    "t_ms",
    "received_ms",
    "stopped_since_ms",
    "self_ms",
    "rsm_ms",
    "focus_ms",  # when the row was last in a view's focus (incremental ticks)
)
_HIST = ("h_t_ms", "h_speed_mps", "h_heading_deg")


class Columns:
    """Row-indexed numpy columns; rows are recycled through a free list.

    The float and the integer columns are the rows of two 2-D blocks (``floats``, ``ints``:
    column × row), so a tick's view copies each block in one step; ``x_m`` etc. are views.
    """

    def __init__(self, *, capacity: int = 256, history_len: int = 6) -> None:
        self.capacity = 0
        self.history_len = history_len
        self.alive = np.zeros(0, dtype=bool)
        self.h_pos = np.zeros(0, dtype=np.int64)
        self.h_count = np.zeros(0, dtype=np.int64)
        self.floats = np.zeros((len(FLOAT_COLUMNS), 0))
        self.ints = np.zeros((len(INT_COLUMNS), 0), dtype=np.int64)
        self._arrays: dict[str, npt.NDArray[np.generic]] = {}
        self._free: list[int] = []
        self.used = 0  # rows 0..used-1 have ever been allocated
        self.layout = 0  # bumped on every allocate and release: the set of live rows changed
        self._grow(capacity)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def _grow(self, capacity: int) -> None:
        extra = capacity - self.capacity
        self.floats = np.concatenate([self.floats, np.full((len(FLOAT_COLUMNS), extra), np.nan)], 1)
        self.ints = np.concatenate([self.ints, np.full((len(INT_COLUMNS), extra), -1)], 1)
        arrays: dict[str, npt.NDArray[np.generic]] = {}
        for k, name in enumerate(FLOAT_COLUMNS):
            arrays[name] = self.floats[k]
        for k, name in enumerate(INT_COLUMNS):
            arrays[name] = self.ints[k]
        for name in _HIST:
            fill = -1 if name == "h_t_ms" else np.nan
            dtype = np.int64 if name == "h_t_ms" else np.float64
            block = np.full((extra, self.history_len), fill, dtype=dtype)
            old = self._arrays.get(name)
            arrays[name] = block if old is None else np.concatenate([old, block])
        self._arrays = arrays
        self.alive = np.concatenate([self.alive, np.zeros(extra, dtype=bool)])
        self.h_pos = np.concatenate([self.h_pos, np.zeros(extra, dtype=np.int64)])
        self.h_count = np.concatenate([self.h_count, np.zeros(extra, dtype=np.int64)])
        self.capacity = capacity

    def allocate(self) -> int:
        """A fresh row (reset to 'unknown' values), growing the storage when full."""
        if self._free:
            row = self._free.pop()
        else:
            if self.used == self.capacity:
                self._grow(max(256, self.capacity * 2))
            row = self.used
            self.used += 1
        self.alive[row] = True
        self.layout += 1
        self.floats[:, row] = np.nan
        self.ints[:, row] = -1
        for name in _HIST:
            self._arrays[name][row] = -1 if name == "h_t_ms" else np.nan
        self.h_pos[row] = 0
        self.h_count[row] = 0
        return row

    def release(self, row: int) -> None:
        """Return a row to the free list."""
        self.alive[row] = False
        self.layout += 1
        self._free.append(row)
