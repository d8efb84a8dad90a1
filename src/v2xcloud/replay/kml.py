"""A KML lane/signal map (TAF-BW style) → ``MapData``.

Each ``Folder`` named like ``Intersection 5678`` is a node (id = the number; a KML without
folders is one node with id 0); its ``RefPoint`` placemark is the node position. Each
``LineString`` placemark named ``Lane <id>`` is a lane whose ``ExtendedData`` lists ``Source``
(the lane id), ``Sink`` (downstream lane ids) and ``SignalGroup`` (the phase of each
connection). Lanes with sinks are ingress lanes; lanes whose sinks lead back to them are
crosswalks; lanes without sinks are egress lanes. Geometry is oriented so that an ingress
lane ends at its stop line and an egress lane starts at the junction; the manoeuvre of each
connection is derived from the turn angle. Topology is turned into links by ``_lanes``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from v2xcloud.errors import ReplayError
from v2xcloud.model import MapData, MapNode, NodeId
from v2xcloud.replay._lanes import KmlLane, build_links

__all__ = ["read_kml_map"]

_NS = {"k": "http://www.opengis.net/kml/2.2"}


def _ids(text: str | None) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", text or "")]


def _coords(text: str) -> tuple[tuple[float, float], ...]:
    points = []
    for token in text.split():
        lon, lat, *_ = (float(v) for v in token.split(","))
        points.append((lat, lon))
    return tuple(points)


def _lane(mark: ET.Element, where: str) -> KmlLane | None:
    name = mark.findtext("k:name", default="", namespaces=_NS)
    coords = mark.findtext(".//k:LineString/k:coordinates", namespaces=_NS)
    if coords is None:
        return None
    data = {
        d.get("name", ""): d.findtext("k:value", default="", namespaces=_NS)
        for d in mark.iterfind(".//k:ExtendedData/k:Data", _NS)
    }
    ids = _ids(data.get("Source")) or _ids(name)
    if not ids:
        raise ReplayError(f"{where}: placemark {name!r} has no lane id (Source or name)")
    sinks, groups = _ids(data.get("Sink")), _ids(data.get("SignalGroup"))
    if len(groups) not in (0, len(sinks)):
        raise ReplayError(f"{where}: lane {ids[0]} lists {len(sinks)} sinks, {len(groups)} groups")
    try:
        points = _coords(coords)
    except ValueError as exc:
        raise ReplayError(f"{where}: lane {ids[0]} has bad coordinates ({exc})") from exc
    return KmlLane(
        lane_id=ids[0],
        points=points,
        sinks=tuple(sinks),
        groups=tuple(groups) if groups else (None,) * len(sinks),
    )


def _node(folder: ET.Element, where: str, *, speed_limit_mps: float | None) -> MapNode:
    name = folder.findtext("k:name", default="", namespaces=_NS)
    node_id = NodeId(region=None, id=(_ids(name) or [0])[0])
    ref: tuple[float, float] | None = None
    lanes: list[KmlLane] = []
    for mark in folder.iterfind("k:Placemark", _NS):
        point = mark.findtext(".//k:Point/k:coordinates", namespaces=_NS)
        if point is not None:
            ref = _coords(point)[0]
            continue
        lane = _lane(mark, where)
        if lane is not None:
            lanes.append(lane)
    if not lanes:
        raise ReplayError(f"{where}: intersection {name!r} has no lanes")
    if ref is None:  # no RefPoint: the mean of the lane ends
        ends = [p for lane in lanes for p in (lane.points[0], lane.points[-1])]
        ref = (sum(p[0] for p in ends) / len(ends), sum(p[1] for p in ends) / len(ends))
    links = build_links(lanes, node_id=node_id, speed_limit_mps=speed_limit_mps)
    return MapNode(id=node_id, lat_deg=ref[0], lon_deg=ref[1], name=name or None, in_links=links)


def read_kml_map(path: Path, *, speed_limit_mps: float | None = None) -> MapData:
    """Read a KML lane map into ``MapData`` (one node per intersection folder).

    ``speed_limit_mps`` (e.g. from the recording's metadata) becomes every vehicle lane's
    ``vehicleMaxSpeed``. Raises ``ReplayError`` naming the file and lane when it is unusable.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ReplayError(f"{path}: not a readable KML file ({exc})") from exc
    folders = [
        f for f in root.iter(f"{{{_NS['k']}}}Folder") if f.find("k:Placemark", _NS) is not None
    ]
    doc = root.find("k:Document", _NS)
    containers = folders or ([doc] if doc is not None else [root])
    nodes = tuple(_node(c, str(path), speed_limit_mps=speed_limit_mps) for c in containers)
    return MapData(msg_count=0, nodes=nodes)
