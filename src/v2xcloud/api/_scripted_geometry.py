"""Geometry and signal plan of the scripted intersection (east/north metres around NODE)."""

from __future__ import annotations

import math

from v2xcloud.geo import LocalFrame
from v2xcloud.model import (
    Connection,
    IntersectionState,
    Lane,
    LightState,
    MapLink,
    MapNode,
    NodeId,
    PhaseState,
    RoadEvent,
    SignalPhase,
)

REF_LAT_DEG = 31.2304
REF_LON_DEG = 121.4737
_CYCLE_S = 30.0
_ARM_M = 150.0
_STOP_M = 14.0
LatLon = tuple[float, float]
FRAME = LocalFrame(origin_lat_deg=REF_LAT_DEG, origin_lon_deg=REF_LON_DEG)


def to_latlon(east_m: float, north_m: float) -> LatLon:
    """WGS-84 (lat, lon) of a point ``east_m``/``north_m`` metres from the centre."""
    lat, lon = FRAME.to_wgs84(east_m, north_m)
    return (float(lat), float(lon))


def to_local(lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """(east m, north m) of a WGS-84 position from the centre."""
    x, y = FRAME.to_local(lat_deg, lon_deg)
    return (float(x), float(y))


class Route:
    """A straight drive through the centre along one axis, looping every pass."""

    def __init__(self, *, heading_deg: float, offset_m: float, speed_mps: float, phase_m: float):
        self.heading_deg = heading_deg
        self.offset_m = offset_m
        self.speed_mps = speed_mps
        self.phase_m = phase_m

    def position(self, t_s: float) -> tuple[float, float]:
        along = (self.phase_m + self.speed_mps * t_s) % (2 * _ARM_M) - _ARM_M
        h = math.radians(self.heading_deg)
        dx, dy = math.sin(h), math.cos(h)  # unit vector of travel (east, north)
        return (along * dx + self.offset_m * dy, along * dy - self.offset_m * dx)


def vehicle_routes(count: int) -> list[Route]:
    routes = []
    for i in range(count):
        heading = (0.0, 90.0, 180.0, 270.0)[i % 4]
        offset = 1.75 + 3.5 * ((i // 4) % 2)  # right-hand traffic, lane 1 or 2
        routes.append(
            Route(heading_deg=heading, offset_m=offset, speed_mps=8.0 + (i % 5), phase_m=37.0 * i)
        )
    return routes


def _lane(lane_id: int, heading_deg: float, offset_m: float, phase_id: int | None) -> Lane:
    """An approach lane ending at its stop line, or (``phase_id`` None) an exit lane."""
    h = math.radians(heading_deg)
    dx, dy = math.sin(h), math.cos(h)
    span = (-_ARM_M, -_STOP_M) if phase_id is not None else (_STOP_M, _ARM_M)
    points = tuple(
        to_latlon(along * dx + offset_m * dy, along * dy - offset_m * dx) for along in span
    )
    connections: tuple[Connection, ...] = ()
    if phase_id is not None:
        connections = (
            Connection(remote_node=NodeId(region=1, id=100 + lane_id), phase_id=phase_id),
        )
    return Lane(
        lane_id=lane_id,
        width_m=3.5,
        lane_type="vehicle",
        connections=connections,
        points=points,
    )


def _crosswalk(lane_id: int, heading_deg: float) -> Lane:
    h = math.radians(heading_deg)
    dx, dy = math.sin(h), math.cos(h)
    along = -_STOP_M + 5.0
    points = tuple(to_latlon(along * dx + o * dy, along * dy - o * dx) for o in (-9.0, 9.0))
    return Lane(lane_id=lane_id, width_m=4.0, lane_type="crosswalk", points=points)


def _build_node() -> MapNode:
    links = []
    for arm, heading in enumerate((0.0, 90.0, 180.0, 270.0)):
        phase = 1 if heading in (0.0, 180.0) else 2
        lanes = (
            _lane(arm * 10 + 1, heading, 1.75, phase),
            _lane(arm * 10 + 2, heading, 5.25, phase),
            # exit lanes: a real MAP lists them under the downstream node; kept here so that
            # the scripted scene has whole roads to draw
            _lane(arm * 10 + 5, heading, 1.75, None),
            _lane(arm * 10 + 6, heading, 5.25, None),
            _crosswalk(arm * 10 + 9, heading),
        )
        links.append(
            MapLink(
                upstream_node=NodeId(region=1, id=200 + arm),
                name=f"arm {arm}",
                width_m=7.0,
                lanes=lanes,
            )
        )
    return MapNode(
        id=NodeId(region=1, id=1),
        lat_deg=REF_LAT_DEG,
        lon_deg=REF_LON_DEG,
        name="Scripted Rd × Test Ave",
        in_links=tuple(links),
    )


NODE = _build_node()


def _light(t_in_cycle_s: float, green_from_s: float) -> tuple[LightState, float]:
    t = (t_in_cycle_s - green_from_s) % _CYCLE_S
    if t < 12.0:
        return LightState.PROTECTED_GREEN, 12.0 - t
    if t < 15.0:
        return LightState.YELLOW, 15.0 - t
    return LightState.RED, _CYCLE_S - t


def signal_state(t_s: float, now_ms: int) -> IntersectionState:
    phases = []
    for phase_id, green_from in ((1, 0.0), (2, 15.0)):
        light, remaining = _light(t_s % _CYCLE_S, green_from)
        phases.append(
            SignalPhase(
                phase_id=phase_id,
                states=(PhaseState(light=light, start_s=0.0, likely_end_s=round(remaining, 1)),),
            )
        )
    return IntersectionState(node=NODE.id, timestamp_ms=now_ms, phases=tuple(phases))


def hazard_event(now_ms: int, lat: float, lon: float) -> RoadEvent:
    return RoadEvent(
        event_id=1,
        event_type=901,
        source="detection",
        lat_deg=lat,
        lon_deg=lon,
        radius_m=20.0,
        description="stalled vehicle in lane",
        start_ms=now_ms,
        kind="stalled_vehicle",
    )
