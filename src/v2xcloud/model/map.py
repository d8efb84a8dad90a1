"""Road geometry from MAP messages: nodes (intersections), links (road sections), lanes."""

from __future__ import annotations

import msgspec

__all__ = [
    "GIVE_WAY",
    "Connection",
    "Lane",
    "MapData",
    "MapLink",
    "MapNode",
    "Movement",
    "NodeId",
    "SpeedLimit",
]

LatLon = tuple[float, float]

#: AllowedManeuvers bits of a connection (or lane) that must give way at an unsignalised
#: junction (J2735 / CSAE ``yieldAllwaysRequired``: a yield sign or a minor road;
#: ``goWithHalt``: a stop sign)
GIVE_WAY = frozenset({"yieldAllwaysRequired", "goWithHalt"})


class NodeId(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A node (intersection) reference: road-regulator region (``None`` if absent) and id."""

    region: int | None
    id: int


class SpeedLimit(msgspec.Struct, frozen=True, kw_only=True):
    """A regulatory speed limit; ``kind`` is the CSAE SpeedLimitType name."""

    kind: str
    speed_mps: float


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """Where a lane leads: the downstream node, lane and the signal phase that controls it."""

    remote_node: NodeId
    remote_lane_id: int | None = None
    maneuvers: frozenset[str] = frozenset()  # AllowedManeuvers bit names
    phase_id: int | None = None


class Movement(msgspec.Struct, frozen=True, kw_only=True):
    """A link-level movement to a downstream node, with its controlling phase."""

    remote_node: NodeId
    phase_id: int | None = None


class Lane(msgspec.Struct, frozen=True, kw_only=True):
    """One lane of a link; ``points`` is its centre line, upstream first, ending at the stop line."""

    lane_id: int
    width_m: float | None = None
    lane_type: str | None = None  # LaneTypeAttributes choice: "vehicle", "crosswalk", ...
    maneuvers: frozenset[str] = frozenset()
    connections: tuple[Connection, ...] = ()
    speed_limits: tuple[SpeedLimit, ...] = ()
    points: tuple[LatLon, ...] = ()


class MapLink(msgspec.Struct, frozen=True, kw_only=True):
    """A directed road section from ``upstream_node`` into the node that lists it."""

    upstream_node: NodeId
    name: str | None = None
    width_m: float | None = None
    speed_limits: tuple[SpeedLimit, ...] = ()
    points: tuple[LatLon, ...] = ()
    movements: tuple[Movement, ...] = ()
    lanes: tuple[Lane, ...] = ()


class MapNode(msgspec.Struct, frozen=True, kw_only=True):
    """A node (intersection or road end) with its reference position and incoming links."""

    id: NodeId
    lat_deg: float
    lon_deg: float
    elevation_m: float | None = None
    name: str | None = None
    in_links: tuple[MapLink, ...] = ()


class MapData(msgspec.Struct, frozen=True, kw_only=True):
    """A MAP message in SI units."""

    msg_count: int
    nodes: tuple[MapNode, ...]
    timestamp_ms: int | None = None
