"""Growable column storage of participant rows (the estimates and covariances of each
participant's tracking filter among them, see ``_track``)."""

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
# the tracking filter's covariances (``_track.COVARIANCE_COLUMNS``)
FLOAT_COLUMNS += ("p_pos", "p_vv", "p_va", "p_aa", "p_hh", "p_hw", "p_ww")
# the last reported position (the filtered one is ``x_m``/``y_m``): displacements for a
# report without speed or heading are measured between reports, not against the estimate
FLOAT_COLUMNS += ("meas_x_m", "meas_y_m")
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
    "gate_missed",  # the tracking filter's gate bits (``_track.MISSED_*``)
    "born_ms",  # the row's first report (the age of a roadside track)
)


class Columns:
    """Row-indexed numpy columns; rows are recycled through a free list.

    The float and the integer columns are the rows of two 2-D blocks (``floats``, ``ints``:
    column × row), so a tick's view copies each block in one step; ``x_m`` etc. are views.
    """

    def __init__(self, *, capacity: int = 256) -> None:
        self.capacity = 0
        self.alive = np.zeros(0, dtype=bool)
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
        self._arrays = arrays
        self.alive = np.concatenate([self.alive, np.zeros(extra, dtype=bool)])
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
        return row

    def release(self, row: int) -> None:
        """Return a row to the free list."""
        self.alive[row] = False
        self.layout += 1
        self._free.append(row)
