"""Which participants an RSI event or sign concerns: on its reference paths, or heading for it.

Shared by the V2I apps (who sees a sign or hazard) and by dissemination (who must hear it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from v2xcloud.geo.frame import LocalFrame
from v2xcloud.geo.relevance import ahead_within, on_path
from v2xcloud.model.road import ReferencePath

__all__ = ["PositionsView", "concerned"]


class PositionsView(Protocol):
    """What relevance and dissemination read of a tick: ids, local positions and headings
    (``twin.SceneView`` provides it)."""

    @property
    def ids(self) -> Sequence[str]:
        """Participant ids in row order."""
        ...

    @property
    def frame(self) -> LocalFrame:
        """The local frame of ``x_m``/``y_m``."""
        ...

    @property
    def x_m(self) -> npt.NDArray[np.float64]:
        """Local x (east, m) per row."""
        ...

    @property
    def y_m(self) -> npt.NDArray[np.float64]:
        """Local y (north, m) per row."""
        ...

    @property
    def heading_deg(self) -> npt.NDArray[np.float64]:
        """Heading (deg clockwise from north) per row."""
        ...

    def row_of(self, participant_id: str) -> int | None:
        """Row of a participant id, or ``None``."""
        ...


def concerned(
    view: PositionsView,
    *,
    lat_deg: float | None,
    lon_deg: float | None,
    radius_m: float | None,
    paths: tuple[ReferencePath, ...],
    range_m: float,
    cone_deg: float = 30.0,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """(mask, distance m) of the participants concerned.

    With reference paths: those travelling along one of them. Without: those within the
    item's radius, or with its position ahead (within ``cone_deg`` of their heading) within
    ``range_m``. Distances are to the item's position when known, else to the end of the path.
    """
    n = len(view.ids)
    mask = np.zeros(n, dtype=bool)
    dist = np.full(n, np.nan)
    pos = None
    if lat_deg is not None and lon_deg is not None:
        px, py = view.frame.to_local(lat_deg, lon_deg)
        pos = (float(px), float(py))
    for path in paths:
        lat = np.array([p[0] for p in path.points])
        lon = np.array([p[1] for p in path.points])
        x, y = view.frame.to_local(lat, lon)
        inside, remaining = on_path(
            view.x_m, view.y_m, view.heading_deg, np.column_stack([x, y]), path.radius_m
        )
        dist = np.where(inside & ~mask, remaining, dist)
        mask |= inside
    if not paths and pos is not None:
        ahead, d = ahead_within(
            view.x_m, view.y_m, view.heading_deg, pos[0], pos[1], range_m=range_m,
            cone_deg=cone_deg,
        )  # fmt: skip
        mask = ahead | (d <= (radius_m or 0.0))
        dist = np.where(mask, d, np.nan)
    if pos is not None and mask.any():
        dist = np.where(mask, np.hypot(view.x_m - pos[0], view.y_m - pos[1]), dist)
    return mask, dist
