"""Directed participant pairs with their relative geometry, computed lazily and once.

Several applications look at the same candidate pairs; a ``PairTable`` computes each relative
quantity (offsets, ego-frame coordinates, relative velocity, heading difference) only when
first asked and keeps it, and ``select`` carries what was computed over to the subset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from v2xcloud.twin.view import SceneView

__all__ = ["PairTable"]

_SYMMETRIC = frozenset({"dist_m", "heading_diff_deg", "heading_cos", "same_level"})
_ANTISYMMETRIC = frozenset({"dx_m", "dy_m", "dvx_mps", "dvy_mps"})

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class PairTable:
    """Pairs ``(ego[k], other[k])`` of view rows; relative quantities are in the ego's frame.

    ``along_m`` is how far the other is ahead of the ego along the ego's heading, ``lateral_m``
    how far to the ego's right; ``heading_diff_deg`` in [0, 180]; ``closing_along_mps`` the
    ego's speed minus the other's speed along the ego's heading (> 0: the gap ahead shrinks);
    ``lateral_rate_mps`` the rate of change of ``lateral_m``. ``same_level`` is False only when
    both elevations are known and differ by more than the view's ``level_gap_m``.
    """

    def __init__(self, view: SceneView, ego: IntArray, other: IntArray) -> None:
        self.view = view
        self.ego = ego
        self.other = other
        self._cache: dict[str, npt.NDArray[np.generic]] = {}
        self._subsets: dict[str, PairTable] = {}
        self._parent: PairTable | None = None
        self._index: IntArray = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ego.size)

    def _get(self, name: str) -> FloatArray:
        value = self._cache.get(name)
        if value is None:
            value = self._inherited(name)
            if value is None:
                value = getattr(self, "_compute_" + name)()
            self._cache[name] = value
        return value  # type: ignore[return-value]

    def _inherited(self, name: str) -> npt.NDArray[np.generic] | None:
        """A column the table this one was selected from had computed, gathered lazily."""
        if self._parent is None:
            return None
        value = self._parent._cache.get(name)
        if value is None:
            value = self._parent._inherited(name)
            if value is None:
                return None
        return value[self._index]

    def select(self, mask: npt.NDArray[np.bool_] | IntArray) -> PairTable:
        """The subset of pairs under a boolean mask or index array. Columns already computed
        here are gathered for the subset only when it asks for them."""
        index: IntArray = mask.nonzero()[0] if mask.dtype == np.bool_ else mask.astype(np.int64)
        sub = PairTable(self.view, self.ego[index], self.other[index])
        sub._parent, sub._index = self, index
        return sub

    def subset(self, name: str, mask: Callable[[PairTable], npt.NDArray[np.bool_]]) -> PairTable:
        """``select(mask(self))``, computed once per ``name`` and shared by every caller.

        Applications use it for selections several of them start from (e.g. "same way").
        """
        sub = self._subsets.get(name)
        if sub is None:
            sub = self._subsets[name] = self.select(mask(self))
        return sub

    def release(self) -> None:
        """Drop the cached columns and subsets (theirs too). A subset and the table it came
        from refer to each other; releasing breaks that cycle, so a finished tick's arrays are
        freed at once by reference counting instead of waiting for the cyclic garbage
        collector (whose full collections then cost tens of ms at 10,000 participants).
        The table stays usable: columns are recomputed on demand."""
        for sub in self._subsets.values():
            sub.release()
        self._subsets.clear()
        self._cache.clear()
        self._parent = None

    def directed(self) -> PairTable:
        """Both orders of every pair: ``(a, b)`` then ``(b, a)``; symmetric columns are reused
        and antisymmetric ones negated rather than recomputed."""
        both = PairTable(
            self.view,
            np.concatenate([self.ego, self.other]),
            np.concatenate([self.other, self.ego]),
        )
        for name in _SYMMETRIC | _ANTISYMMETRIC:
            value = self._cache.get(name)
            if value is None:
                value = self._inherited(name)
            if value is None:
                continue
            if name in _SYMMETRIC:
                both._cache[name] = np.concatenate([value, value])
            elif name in _ANTISYMMETRIC:
                both._cache[name] = np.concatenate([value, -value.astype(np.float64)])
        return both

    @property
    def dx_m(self) -> FloatArray:
        return self._get("dx_m")

    @property
    def dy_m(self) -> FloatArray:
        return self._get("dy_m")

    @property
    def dist_m(self) -> FloatArray:
        return self._get("dist_m")

    @property
    def along_m(self) -> FloatArray:
        return self._get("along_m")

    @property
    def lateral_m(self) -> FloatArray:
        return self._get("lateral_m")

    @property
    def dvx_mps(self) -> FloatArray:
        return self._get("dvx_mps")

    @property
    def dvy_mps(self) -> FloatArray:
        return self._get("dvy_mps")

    @property
    def heading_diff_deg(self) -> FloatArray:
        return self._get("heading_diff_deg")

    @property
    def heading_cos(self) -> FloatArray:
        """Cosine of the heading difference (1 same way, 0 crossing, -1 opposite): cheaper
        than ``heading_diff_deg`` for threshold tests."""
        return self._get("heading_cos")

    @property
    def closing_along_mps(self) -> FloatArray:
        return self._get("closing_along_mps")

    @property
    def lateral_rate_mps(self) -> FloatArray:
        return self._get("lateral_rate_mps")

    @property
    def same_level(self) -> npt.NDArray[np.bool_]:
        return self._get("same_level")  # type: ignore[return-value]

    def _compute_dx_m(self) -> FloatArray:
        return self.view.x_m[self.other] - self.view.x_m[self.ego]

    def _compute_dy_m(self) -> FloatArray:
        return self.view.y_m[self.other] - self.view.y_m[self.ego]

    def _compute_dist_m(self) -> FloatArray:
        return np.hypot(self.dx_m, self.dy_m)

    def _compute_along_m(self) -> FloatArray:
        return (
            self.dx_m * self.view.sin_heading[self.ego]
            + self.dy_m * self.view.cos_heading[self.ego]
        )

    def _compute_lateral_m(self) -> FloatArray:
        return (
            self.dx_m * self.view.cos_heading[self.ego]
            - self.dy_m * self.view.sin_heading[self.ego]
        )

    def _compute_dvx_mps(self) -> FloatArray:
        return self.view.vx_mps[self.other] - self.view.vx_mps[self.ego]

    def _compute_dvy_mps(self) -> FloatArray:
        return self.view.vy_mps[self.other] - self.view.vy_mps[self.ego]

    def _compute_heading_diff_deg(self) -> FloatArray:
        diff = self.view.heading_deg[self.other] - self.view.heading_deg[self.ego]
        return np.abs((diff + 180.0) % 360.0 - 180.0)

    def _compute_heading_cos(self) -> FloatArray:
        v, e, o = self.view, self.ego, self.other
        return v.sin_heading[e] * v.sin_heading[o] + v.cos_heading[e] * v.cos_heading[o]

    def _compute_closing_along_mps(self) -> FloatArray:
        ego = self.ego
        return -(
            self.dvx_mps * self.view.sin_heading[ego] + self.dvy_mps * self.view.cos_heading[ego]
        )

    def _compute_lateral_rate_mps(self) -> FloatArray:
        ego = self.ego
        return self.dvx_mps * self.view.cos_heading[ego] - self.dvy_mps * self.view.sin_heading[ego]

    def _compute_same_level(self) -> npt.NDArray[np.bool_]:
        dz = np.abs(self.view.z_m[self.other] - self.view.z_m[self.ego])
        return ~(dz > self.view.level_gap_m)  # NaN (unknown elevation) counts as same level
