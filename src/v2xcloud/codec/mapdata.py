"""MAP ⇄ ``model.MapData``: nodes, links, lanes with absolute lat/lon points.

Road points are offsets from their node's ``refPos`` (or absolute ``position-LatLon``). The
module is ``mapdata`` so that it does not shadow the built-in ``map``.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import _participant as p
from v2xcloud.codec import _time
from v2xcloud.codec import _units as u
from v2xcloud.codec._single import decoder_class
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.codec.spat import node_id, node_id_to_wire
from v2xcloud.errors import EncodeError
from v2xcloud.model import Connection, Lane, MapData, MapLink, MapNode, Movement
from v2xcloud.model.map import SpeedLimit

__all__ = ["Decoder", "decode", "encode", "from_wire", "to_wire"]

_MSG = "MAP"
LatLon = tuple[float, float]


def _points(value: list[dict[str, Any]] | None, ref: dict[str, Any]) -> tuple[LatLon, ...]:
    return tuple(u.absolute(pt["posOffset"], ref)[:2] for pt in value or ())


def _limits(value: list[dict[str, Any]] | None) -> tuple[SpeedLimit, ...]:
    # a limit whose speed is "unavailable" says nothing: it is left out
    return tuple(
        SpeedLimit(kind=s["type"], speed_mps=speed)
        for s in value or ()
        if (speed := u.si("speed", s["speed"])) is not None
    )


def _maneuvers(value: Any) -> frozenset[str]:
    return u.bits_of(value, p.named_bits("AllowedManeuvers"))


def _lane(lane: dict[str, Any], ref: dict[str, Any]) -> Lane:
    connections = tuple(
        Connection(
            remote_node=node_id(c["remoteIntersection"]),
            remote_lane_id=(c.get("connectingLane") or {}).get("lane"),
            maneuvers=_maneuvers((c.get("connectingLane") or {}).get("maneuver")),
            phase_id=c.get("phaseId"),
        )
        for c in lane.get("connectsTo", ())
    )
    attributes = lane.get("laneAttributes")
    return Lane(
        lane_id=lane["laneID"],
        width_m=u.si("lane_width", lane.get("laneWidth")),
        lane_type=attributes["laneType"][0] if attributes else None,
        maneuvers=_maneuvers(lane.get("maneuvers")),
        connections=connections,
        speed_limits=_limits(lane.get("speedLimits")),
        points=_points(lane.get("points"), ref),
    )


def _link(link: dict[str, Any], ref: dict[str, Any]) -> MapLink:
    movements = tuple(
        Movement(remote_node=node_id(m["remoteIntersection"]), phase_id=m.get("phaseId"))
        for m in link.get("movements", ())
    )
    return MapLink(
        upstream_node=node_id(link["upstreamNodeId"]),
        name=link.get("name"),
        width_m=u.si("lane_width", link.get("linkWidth")),
        speed_limits=_limits(link.get("speedLimits")),
        points=_points(link.get("points"), ref),
        movements=movements,
        lanes=tuple(_lane(lane, ref) for lane in link["lanes"]),
    )


def from_wire(value: dict[str, Any], *, reference_ms: int) -> MapData:
    """The MAP native value → ``MapData`` in SI units."""
    nodes = []
    for node in value["nodes"]:
        ref = node["refPos"]
        lat, lon = u.position_deg(ref["lat"], ref["long"], "$.nodes.refPos", _MSG)
        nodes.append(
            MapNode(
                id=node_id(node["id"]),
                lat_deg=lat,
                lon_deg=lon,
                elevation_m=u.si("elevation", ref.get("elevation")),
                name=node.get("name"),
                in_links=tuple(_link(link, ref) for link in node.get("inLinks", ())),
            )
        )
    ts = _time.utc_ms(value.get("timeStamp"), None, reference_ms)
    return MapData(msg_count=value["msgCnt"], nodes=tuple(nodes), timestamp_ms=ts)


def _points_to_wire(points: tuple[LatLon, ...], ref: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"posOffset": u.offset(lat, lon, None, ref)} for lat, lon in points]


def _limits_to_wire(limits: tuple[SpeedLimit, ...], where: str) -> list[dict[str, Any]]:
    return [
        {"type": s.kind, "speed": u.wire("speed", s.speed_mps, f"{where}[{i}].speed", _MSG)}
        for i, s in enumerate(limits)
    ]


def _lane_to_wire(lane: Lane, ref: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"laneID": lane.lane_id}
    if lane.width_m is not None:
        out["laneWidth"] = u.wire("lane_width", lane.width_m, f"{where}.laneWidth", _MSG)
    if lane.maneuvers:
        out["maneuvers"] = u.bits_from(lane.maneuvers, p.named_bits("AllowedManeuvers"), 12)
    if lane.connections:
        out["connectsTo"] = [_connection_to_wire(c) for c in lane.connections]
    if lane.speed_limits:
        out["speedLimits"] = _limits_to_wire(lane.speed_limits, f"{where}.speedLimits")
    if lane.points:
        out["points"] = _points_to_wire(lane.points, ref)
    return out


def _connection_to_wire(c: Connection) -> dict[str, Any]:
    out: dict[str, Any] = {"remoteIntersection": node_id_to_wire(c.remote_node)}
    if c.remote_lane_id is not None:
        lane: dict[str, Any] = {"lane": c.remote_lane_id}
        if c.maneuvers:
            lane["maneuver"] = u.bits_from(c.maneuvers, p.named_bits("AllowedManeuvers"), 12)
        out["connectingLane"] = lane
    if c.phase_id is not None:
        out["phaseId"] = c.phase_id
    return out


def _link_to_wire(
    link: MapLink, ref: dict[str, Any], where: str, message_set: MessageSet
) -> dict[str, Any]:
    out: dict[str, Any] = {"upstreamNodeId": node_id_to_wire(link.upstream_node)}
    if link.name:
        out["name"] = link.name
    if link.width_m is not None:
        out["linkWidth"] = u.wire("lane_width", link.width_m, f"{where}.linkWidth", _MSG)
    elif message_set is MessageSet.CSAE2020:
        raise EncodeError(
            _MSG, "csae2020 requires a link width (Link.linkWidth)", where=f"{where}.linkWidth"
        )
    if link.speed_limits:
        out["speedLimits"] = _limits_to_wire(link.speed_limits, f"{where}.speedLimits")
    if link.points:
        out["points"] = _points_to_wire(link.points, ref)
    if link.movements:
        out["movements"] = [
            {
                "remoteIntersection": node_id_to_wire(m.remote_node),
                **({"phaseId": m.phase_id} if m.phase_id is not None else {}),
            }
            for m in link.movements
        ]
    out["lanes"] = [
        _lane_to_wire(lane, ref, f"{where}.lanes[{k}]") for k, lane in enumerate(link.lanes)
    ]
    return out


def to_wire(msg: MapData, *, message_set: MessageSet = MessageSet.CSAE2020) -> dict[str, Any]:
    """``MapData`` → MAP native value for ``message_set``; raises EncodeError with the path."""
    nodes = []
    for n, node in enumerate(msg.nodes):
        ref = u.position3d(
            node.lat_deg, node.lon_deg, node.elevation_m, f"$.nodes[{n}].refPos", _MSG
        )
        wire_node: dict[str, Any] = {"id": node_id_to_wire(node.id), "refPos": ref}
        if node.name:
            wire_node["name"] = node.name
        if node.in_links:
            wire_node["inLinks"] = [
                _link_to_wire(link, ref, f"$.nodes[{n}].inLinks[{i}]", message_set)
                for i, link in enumerate(node.in_links)
            ]
        nodes.append(wire_node)
    out: dict[str, Any] = {"msgCnt": msg.msg_count, "nodes": nodes}
    if msg.timestamp_ms is not None:
        out["timeStamp"] = _time.moy_and_mark(msg.timestamp_ms)[0]
    return out


Decoder = decoder_class(_MSG, from_wire)


def decode(
    data: bytes, *, message_set: MessageSet = MessageSet.CSAE2020, received_at_ms: int = 0
) -> MapData:
    """UPER MessageFrame holding a MAP → ``MapData``; raises ``DecodeError`` otherwise."""
    return Decoder(message_set=message_set).decode(data, received_at_ms=received_at_ms)


def encode(msg: MapData, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``MapData`` → UPER MessageFrame bytes; raises ``EncodeError`` with the field path."""
    return encode_native(
        ("mapFrame", to_wire(msg, message_set=message_set)), message_set=message_set
    )
