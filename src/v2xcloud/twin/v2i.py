"""``SceneView`` (the live scene) → ``RoadsideView`` (what the V2I apps read).

Junctions are compiled once per MAP node and kept while the node is unchanged; the signal
state, events and signs are taken from the view each tick. The last conversion is cached, so
several V2I apps on the same tick share one.
"""

from __future__ import annotations

import numpy as np

from v2xcloud.model import NodeId
from v2xcloud.twin.flags import Kind
from v2xcloud.twin.junction import Junction
from v2xcloud.twin.roadside import RoadsideView
from v2xcloud.twin.view import SceneView

__all__ = ["as_roadside"]

_KIND_NAMES = {int(k): k.name.lower() for k in Kind}
_junctions: dict[NodeId, Junction] = {}
_last: tuple[int, int, RoadsideView] | None = None


def _junction(node_id: NodeId, view: SceneView) -> Junction | None:
    place = view.intersections[node_id]
    if place.node is None:
        return None
    junction = _junctions.get(node_id)
    if junction is None or junction.node != place.node or junction.frame is not view.frame:
        junction = _junctions[node_id] = Junction(place.node, view.frame)
    if place.signal is not None:
        junction.update_signals(place.signal, received_ms=place.signal_received_ms or view.now_ms)
    return junction


def as_roadside(view: SceneView | RoadsideView) -> RoadsideView:
    """The V2I apps' view of a tick; a ``RoadsideView`` is returned as is."""
    global _last
    if isinstance(view, RoadsideView):
        return view
    if _last is not None and _last[0] == id(view) and _last[1] == view.now_ms:
        return _last[2]
    lat, lon = view.frame.to_wgs84(view.x_m, view.y_m)
    junctions = [_junction(n, view) for n in view.intersections]
    out = RoadsideView(
        now_ms=view.now_ms,
        frame=view.frame,
        ids=tuple(view.ids),
        kinds=tuple(_KIND_NAMES.get(int(k), "unknown") for k in view.kind),
        x_m=np.asarray(view.x_m),
        y_m=np.asarray(view.y_m),
        lat_deg=np.atleast_1d(lat),
        lon_deg=np.atleast_1d(lon),
        speed_mps=np.nan_to_num(np.asarray(view.speed_mps)),
        heading_deg=np.asarray(view.heading_deg),
        junctions=tuple(j for j in junctions if j is not None),
        events=tuple(a.event for a in view.events),
        signs=tuple(a.sign for a in view.signs),
    )
    _last = (id(view), view.now_ms, out)
    return out
