"""Scripted road-side scenes for the V2I app tests: one junction with a north-bound approach.

Lane 1 (x = 0) goes straight on phase 1; lane 2 (x = 3.5 m) turns right on phase 2. Both run
from y = -300 m to the stop line at y = 0. Positions are given in local metres.
"""

from __future__ import annotations

from v2xcloud.geo.frame import LocalFrame
from v2xcloud.model import (
    Connection,
    IntersectionState,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    PhaseState,
    SignalPhase,
    Spat,
)
from v2xcloud.model.map import SpeedLimit
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import state_at

FRAME = LocalFrame(origin_lat_deg=49.0, origin_lon_deg=8.4)
NODE = NodeId(region=None, id=7)


def latlon(x_m: float, y_m: float) -> tuple[float, float]:
    lat, lon = FRAME.to_wgs84(x_m, y_m)
    return float(lat), float(lon)


def junction_map(*, limit_mps: float | None = 50 / 3.6, right_on_red: bool = False) -> MapData:
    limits = () if limit_mps is None else (SpeedLimit(kind="vehicleMaxSpeed", speed_mps=limit_mps),)
    right = {"maneuverRightAllowed"} | (
        {"maneuverRightTurnOnRedAllowed"} if right_on_red else set()
    )
    lanes = (
        Lane(
            lane_id=1,
            lane_type="vehicle",
            speed_limits=limits,
            points=(latlon(0, -300), latlon(0, 0)),
            connections=(
                Connection(
                    remote_node=NODE,
                    remote_lane_id=11,
                    phase_id=1,
                    maneuvers=frozenset({"maneuverStraightAllowed"}),
                ),
            ),
        ),
        Lane(
            lane_id=2,
            lane_type="vehicle",
            speed_limits=limits,
            points=(latlon(3.5, -300), latlon(3.5, 0)),
            connections=(
                Connection(
                    remote_node=NODE, remote_lane_id=12, phase_id=2, maneuvers=frozenset(right)
                ),
            ),
        ),
    )
    link = MapLink(upstream_node=NodeId(region=None, id=1), lanes=lanes)
    lat, lon = latlon(0, 10)
    return MapData(
        msg_count=1, nodes=(MapNode(id=NODE, lat_deg=lat, lon_deg=lon, in_links=(link,)),)
    )


def spat(
    t_ms: int, **phases: tuple[LightState, float | None, LightState | None, float | None]
) -> Spat:
    """``phase1=(light, remaining_s, next_light, next_end_s)``; keys are ``phase<id>``."""
    built = []
    for key, (light, rem, nxt, nxt_end) in phases.items():
        states = [PhaseState(light=light, start_s=0.0, likely_end_s=rem)]
        if nxt is not None:
            states.append(PhaseState(light=nxt, start_s=rem, likely_end_s=nxt_end))
        built.append(SignalPhase(phase_id=int(key.removeprefix("phase")), states=tuple(states)))
    state = IntersectionState(node=NODE, timestamp_ms=t_ms, phases=tuple(built))
    return Spat(msg_count=1, intersections=(state,), timestamp_ms=t_ms)


def vehicle(
    pid: str,
    x_m: float,
    y_m: float,
    speed_mps: float,
    heading_deg: float = 0.0,
    *,
    t_ms: int = 0,
    kind: ParticipantKind = ParticipantKind.VEHICLE,
    source: ParticipantSource = ParticipantSource.RSM,
) -> ParticipantState:
    """A roadside-perceived participant at local (x, y) of ``FRAME`` (size left to the scene;
    ``source``: BSM for one that reports itself, whose first speed is sure to 0.2 m/s)."""
    return state_at(
        pid,
        x_m=x_m,
        y_m=y_m,
        t_ms=t_ms,
        speed_mps=speed_mps,
        heading_deg=heading_deg,
        kind=kind,
        source=source,
        frame=FRAME,
        length_m=None,
        width_m=None,
    )


def view_of(*items: object, now_ms: int = 0) -> SceneView:
    """The live scene's view at ``now_ms`` after ingesting ``items`` (MAP, SPAT, RSI,
    participant states) as received at ``now_ms``."""
    scene = Scene(FRAME)
    for item in items:
        scene.ingest(item, received_at_ms=now_ms, source="rsu")  # type: ignore[arg-type]
    return scene.update(now_ms)
