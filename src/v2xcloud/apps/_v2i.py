"""Shared plumbing of the V2I apps: which vehicle is on which junction approach."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import numpy as np

from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.twin.junction import Junction
from v2xcloud.twin.roadside import RoadsideView

__all__ = ["OnApproach", "advisory", "on_approaches"]


class OnApproach(msgspec.Struct, frozen=True, kw_only=True):
    """A vehicle (index into the view) on an ingress lane of ``junction``."""

    index: int
    junction: Junction
    lane: int
    to_stop_m: float


def on_approaches(view: RoadsideView, *, range_m: float) -> Iterator[OnApproach]:
    """Moving-direction-matched vehicles before a stop line, within ``range_m`` of it."""
    vehicles = np.flatnonzero(view.is_vehicle)
    if vehicles.size == 0:
        return
    x, y, h = view.x_m[vehicles], view.y_m[vehicles], view.heading_deg[vehicles]
    for junction in view.junctions:
        if len(junction.approach) == 0:
            continue
        m = junction.match(x, y, h)
        ok = (m.lane >= 0) & (m.to_stop_m > 0.0) & (m.to_stop_m <= range_m)
        for k in np.flatnonzero(ok):
            yield OnApproach(
                index=int(vehicles[k]),
                junction=junction,
                lane=int(m.lane[k]),
                to_stop_m=float(m.to_stop_m[k]),
            )


def advisory(
    view: RoadsideView,
    index: int,
    *,
    app: str,
    level: AdvisoryLevel,
    hold_ms: int,
    detail: str,
    other_id: str | None = None,
    ttc_s: float | None = None,
    at: tuple[float, float] | None = None,
    values: dict[str, float] | None = None,
) -> Advisory:
    """An advisory for participant ``index`` of ``view``, valid ``hold_ms``; ``at`` is the
    hazard's local (x, y), default the participant's own position."""
    if at is None:
        lat, lon = float(view.lat_deg[index]), float(view.lon_deg[index])
    else:
        la, lo = view.frame.to_wgs84(at[0], at[1])
        lat, lon = float(la), float(lo)
    return Advisory(
        app=app,
        level=level,
        ego_id=view.ids[index],
        issued_ms=view.now_ms,
        expires_ms=view.now_ms + hold_ms,
        other_id=other_id,
        ttc_s=ttc_s,
        lat_deg=lat,
        lon_deg=lon,
        detail=detail,
        values=values or {},
    )
