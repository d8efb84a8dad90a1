"""Lane topology of a KML map → oriented lanes, manoeuvres and links (private to replay)."""

from __future__ import annotations

import itertools
import math

import msgspec

from v2xcloud.geo import equirectangular_offset_m
from v2xcloud.model import Connection, Lane, MapLink, NodeId
from v2xcloud.model.map import SpeedLimit

__all__ = ["KmlLane", "build_links", "turn_maneuver", "untangle"]

LatLon = tuple[float, float]
_APPROACH_HEADING_DEG = 30.0
_APPROACH_GAP_M = 30.0


class KmlLane(msgspec.Struct, frozen=True, kw_only=True):
    """A lane as the KML lists it: id, points (lat, lon) in file order, sinks and groups."""

    lane_id: int
    points: tuple[LatLon, ...]
    sinks: tuple[int, ...]
    groups: tuple[int | None, ...]


def _dist_m(a: LatLon, b: LatLon) -> float:
    return math.hypot(*equirectangular_offset_m(a[0], a[1], b[0], b[1]))


def _heading_deg(a: LatLon, b: LatLon) -> float:
    east, north = equirectangular_offset_m(a[0], a[1], b[0], b[1])
    return math.degrees(math.atan2(east, north)) % 360.0


def turn_maneuver(in_heading_deg: float, out_heading_deg: float) -> str:
    """AllowedManeuvers bit name of a turn from one compass heading to another."""
    delta = (out_heading_deg - in_heading_deg + 180.0) % 360.0 - 180.0
    if abs(delta) < 30.0:
        return "maneuverStraightAllowed"
    if abs(delta) > 150.0:
        return "maneuverUTurnAllowed"
    return "maneuverRightAllowed" if delta > 0 else "maneuverLeftAllowed"


def _ends(lane: KmlLane) -> tuple[LatLon, LatLon]:
    return lane.points[0], lane.points[-1]


def _orient_towards(
    points: tuple[LatLon, ...], targets: list[LatLon], *, last: bool
) -> tuple[LatLon, ...]:
    """Order ``points`` so that the end nearest ``targets`` comes last (or first)."""
    if not targets or len(points) < 2:
        return points
    d_first = min(_dist_m(points[0], t) for t in targets)
    d_last = min(_dist_m(points[-1], t) for t in targets)
    near_is_last = d_last <= d_first
    return points if near_is_last == last else points[::-1]


def untangle(points: tuple[LatLon, ...]) -> tuple[LatLon, ...]:
    """Put a lane's points back in order when the file lists one out of sequence.

    Real maps contain lanes whose polyline doubles back (a point appended at the wrong end).
    If consecutive segments run against the lane's main axis, the points are sorted along it.
    """
    if len(points) < 3:
        return points
    lat0, lon0 = points[0]
    xy = [equirectangular_offset_m(lat0, lon0, p[0], p[1]) for p in points]
    ax, ay = xy[-1][0] - xy[0][0], xy[-1][1] - xy[0][1]
    if math.hypot(ax, ay) == 0.0:
        ax, ay = xy[1][0] - xy[0][0], xy[1][1] - xy[0][1]
    steps = [(b[0] - a[0]) * ax + (b[1] - a[1]) * ay for a, b in itertools.pairwise(xy)]
    if all(s >= 0 for s in steps) or all(s <= 0 for s in steps):
        return points
    # principal axis of the points (2x2 covariance), then order along it
    mx, my = sum(p[0] for p in xy) / len(xy), sum(p[1] for p in xy) / len(xy)
    sxx = sum((p[0] - mx) ** 2 for p in xy)
    syy = sum((p[1] - my) ** 2 for p in xy)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in xy)
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    ux, uy = math.cos(angle), math.sin(angle)
    order = sorted(range(len(points)), key=lambda i: (xy[i][0] - mx) * ux + (xy[i][1] - my) * uy)
    return tuple(points[i] for i in order)


def _oriented(lanes: dict[int, KmlLane], ref: LatLon) -> dict[int, tuple[LatLon, ...]]:
    """Ingress lanes end at the junction, egress lanes start there."""
    out: dict[int, tuple[LatLon, ...]] = {}
    for lane in lanes.values():
        if lane.sinks:
            targets = [p for s in lane.sinks if s in lanes for p in _ends(lanes[s])] or [ref]
            out[lane.lane_id] = _orient_towards(untangle(lane.points), targets, last=True)
    for lane in lanes.values():
        if not lane.sinks:
            feeders = [out[f.lane_id][-1] for f in lanes.values() if lane.lane_id in f.sinks]
            out[lane.lane_id] = _orient_towards(untangle(lane.points), feeders or [ref], last=False)
    return out


def _is_crosswalk(lane: KmlLane, lanes: dict[int, KmlLane]) -> bool:
    return bool(lane.sinks) and all(
        s in lanes and lane.lane_id in lanes[s].sinks for s in lane.sinks
    )


def _lane(
    lane: KmlLane,
    pts: dict[int, tuple[LatLon, ...]],
    *,
    node_id: NodeId,
    crosswalk: bool,
    limits: tuple[SpeedLimit, ...],
) -> Lane:
    points = pts[lane.lane_id]
    conns = []
    for sink, group in zip(lane.sinks, lane.groups, strict=True):
        maneuvers: frozenset[str] = frozenset()
        if not crosswalk and sink in pts and len(points) > 1 and len(pts[sink]) > 1:
            h_in = _heading_deg(points[-2], points[-1])
            h_out = _heading_deg(pts[sink][0], pts[sink][1])
            maneuvers = frozenset({turn_maneuver(h_in, h_out)})
        conns.append(
            Connection(
                remote_node=node_id, remote_lane_id=sink, maneuvers=maneuvers, phase_id=group
            )
        )
    return Lane(
        lane_id=lane.lane_id,
        lane_type="crosswalk" if crosswalk else "vehicle",
        maneuvers=frozenset().union(*(c.maneuvers for c in conns)),
        connections=tuple(conns),
        speed_limits=() if crosswalk else limits,
        points=points,
    )


def _cluster(lanes: list[Lane]) -> list[list[Lane]]:
    """Group ingress lanes into approaches: similar final heading, nearby stop lines."""
    groups: list[list[Lane]] = []
    for lane in lanes:
        h = _heading_deg(lane.points[-2], lane.points[-1]) if len(lane.points) > 1 else 0.0
        for group in groups:
            first = group[0]
            hf = _heading_deg(first.points[-2], first.points[-1]) if len(first.points) > 1 else 0.0
            close = _dist_m(first.points[-1], lane.points[-1]) < _APPROACH_GAP_M
            if close and abs((h - hf + 180.0) % 360.0 - 180.0) < _APPROACH_HEADING_DEG:
                group.append(lane)
                break
        else:
            groups.append([lane])
    return groups


def build_links(
    kml_lanes: list[KmlLane], *, node_id: NodeId, speed_limit_mps: float | None
) -> tuple[MapLink, ...]:
    """Links into ``node_id``: one per approach (ingress lanes), one per crosswalk, and one
    named ``"egress"`` holding the exit lanes. Upstream node ids of approaches are synthetic
    (1, 2, ...) because a KML does not name the neighbouring junctions."""
    lanes = {lane.lane_id: lane for lane in kml_lanes}
    ref = kml_lanes[0].points[0]
    pts = _oriented(lanes, ref)
    limits = (
        ()
        if speed_limit_mps is None
        else (SpeedLimit(kind="vehicleMaxSpeed", speed_mps=speed_limit_mps),)
    )
    ingress: list[Lane] = []
    crossings: list[Lane] = []
    egress: list[Lane] = []
    for lane in kml_lanes:
        if not lane.sinks:
            egress.append(
                Lane(
                    lane_id=lane.lane_id,
                    lane_type="vehicle",
                    speed_limits=limits,
                    points=pts[lane.lane_id],
                )
            )
            continue
        cw = _is_crosswalk(lane, lanes)
        built = _lane(lane, pts, node_id=node_id, crosswalk=cw, limits=limits)
        (crossings if cw else ingress).append(built)
    links: list[MapLink] = []
    for k, group in enumerate(_cluster(ingress), start=1):
        h = _heading_deg(group[0].points[-2], group[0].points[-1])
        links.append(
            MapLink(
                upstream_node=NodeId(region=None, id=k),
                name=f"approach {h:.0f}",
                speed_limits=limits,
                points=group[0].points,
                lanes=tuple(group),
            )
        )
    for crossing in crossings:
        links.append(
            MapLink(
                upstream_node=node_id,
                name=f"crosswalk {crossing.lane_id}",
                points=crossing.points,
                lanes=(crossing,),
            )
        )
    if egress:
        links.append(MapLink(upstream_node=node_id, name="egress", lanes=tuple(egress)))
    return tuple(links)
