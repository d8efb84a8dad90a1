"""A four-arm junction for the movement tests: one ingress and one egress lane per arm,
right-hand traffic, a 16 m box around the node at the origin, exit lanes listed under the
node itself (as the K733 KML does); each ingress lane goes straight, left and right."""

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
    ParticipantSource,
    ParticipantState,
    PhaseState,
    SignalPhase,
    Spat,
)
from v2xcloud.model.map import GIVE_WAY
from v2xcloud.twin.testing import state_at

FRAME = LocalFrame(origin_lat_deg=49.0, origin_lon_deg=8.4)
NODE = NodeId(region=None, id=9)
HALF_BOX_M, OFFSET_M = 8.0, 1.75
#: ingress lane id per arm the traffic comes from, and its (start, stop-line) points
INGRESS = {
    "S": (1, (OFFSET_M, -200.0), (OFFSET_M, -HALF_BOX_M)),
    "W": (2, (-200.0, -OFFSET_M), (-HALF_BOX_M, -OFFSET_M)),
    "N": (3, (-OFFSET_M, 200.0), (-OFFSET_M, HALF_BOX_M)),
    "E": (4, (200.0, OFFSET_M), (HALF_BOX_M, OFFSET_M)),
}
#: egress lane id per direction of travel, and its points (from the box outwards)
EGRESS = {
    "north": (11, (OFFSET_M, HALF_BOX_M), (OFFSET_M, 200.0)),
    "east": (12, (HALF_BOX_M, -OFFSET_M), (200.0, -OFFSET_M)),
    "south": (13, (-OFFSET_M, -HALF_BOX_M), (-OFFSET_M, -200.0)),
    "west": (14, (-HALF_BOX_M, OFFSET_M), (-200.0, OFFSET_M)),
}
#: per arm: (straight, left, right) exit directions
TURNS = {
    "S": ("north", "west", "east"),
    "W": ("east", "north", "south"),
    "N": ("south", "east", "west"),
    "E": ("west", "south", "north"),
}
#: per arm: the exit of a U-turn, back the way it came
UTURN_EXIT = {"S": "south", "W": "west", "N": "north", "E": "east"}
MANEUVERS = ("maneuverStraightAllowed", "maneuverLeftAllowed", "maneuverRightAllowed")


def latlon(x_m: float, y_m: float) -> tuple[float, float]:
    lat, lon = FRAME.to_wgs84(x_m, y_m)
    return float(lat), float(lon)


def cross_map(
    *,
    phases: dict[str, tuple[int, int, int]] | None = None,
    only: dict[str, str] | None = None,
    exits: bool = True,
    give_way: frozenset[str] = frozenset(),
    yielding: frozenset[tuple[str, str]] = frozenset(),
    uturns: frozenset[str] = frozenset(),
) -> MapData:
    """The junction; ``phases`` gives per arm the (straight, left, right) signal groups,
    ``only`` restricts an arm to one manoeuvre ("straight", "left" or "right"), without
    ``exits`` the exit lanes are left out of the MAP (as when the next node's MAP is absent),
    and the connections of the arms in ``give_way`` must give way (a minor road), as must
    those named in ``yielding`` as (arm, manoeuvre), e.g. a major road's left turn across its
    oncoming traffic (SUMO's "m" link on a priority road); the arms in ``uturns`` may also
    turn back (a U-turn into their own arm's exit lane)."""
    links = []
    names = ("straight", "left", "right")
    for arm, (lane_id, start, stop) in INGRESS.items():
        conns = tuple(
            Connection(
                remote_node=NODE,
                remote_lane_id=EGRESS[direction][0],
                maneuvers=frozenset({maneuver})
                | (
                    frozenset({"yieldAllwaysRequired"})
                    if arm in give_way or (arm, names[k]) in yielding
                    else frozenset()
                ),
                phase_id=None if phases is None else phases[arm][k],
            )
            for k, (direction, maneuver) in enumerate(zip(TURNS[arm], MANEUVERS, strict=True))
            if only is None or arm not in only or only[arm] == names[k]
        )
        if arm in uturns:
            back = EGRESS[UTURN_EXIT[arm]][0]
            uturn = frozenset({"maneuverUTurnAllowed"})
            conns += (Connection(remote_node=NODE, remote_lane_id=back, maneuvers=uturn),)
        lane = Lane(
            lane_id=lane_id,
            lane_type="vehicle",
            # as the bench's MAP: the lane allows its connections' manoeuvres; which of them
            # gives way is the connections' (a lane-level give-way would bind all of them)
            maneuvers=frozenset().union(*(c.maneuvers for c in conns)) - GIVE_WAY,
            connections=conns,
            points=(latlon(*start), latlon(*stop)),
        )
        links.append(MapLink(upstream_node=NodeId(region=None, id=100 + lane_id), lanes=(lane,)))
    if exits:
        lanes = tuple(
            Lane(lane_id=lane_id, lane_type="vehicle", points=(latlon(*a), latlon(*b)))
            for lane_id, a, b in EGRESS.values()
        )
        links.append(MapLink(upstream_node=NODE, name="egress", lanes=lanes))
    lat, lon = latlon(0.0, 0.0)
    node = MapNode(id=NODE, lat_deg=lat, lon_deg=lon, in_links=tuple(links))
    return MapData(msg_count=1, nodes=(node,))


#: per arm the (straight, left, right) signal groups: S/N straight 1, their left turns 3,
#: W/E straight 2, their left turns 4
PHASES = {"S": (1, 3, 5), "N": (1, 3, 5), "W": (2, 4, 6), "E": (2, 4, 6)}


def car(
    pid: str,
    x: float,
    y: float,
    heading: float,
    speed: float,
    *,
    source: ParticipantSource = ParticipantSource.RSM,
    **kw: object,
) -> ParticipantState:
    """A road user the roadside reports at (x, y) m of ``FRAME``, at t = 0 (``source``: BSM
    for one that reports itself: a roadside track's first speed is uncertain, σ 4 m/s)."""
    return state_at(
        pid, x_m=x, y_m=y, t_ms=0, speed_mps=speed, heading_deg=heading, frame=FRAME,
        source=source, **kw,
    )  # fmt: skip


def spat(**lights: LightState) -> Spat:
    """The junction's SPAT at t = 0: ``phase<N>=light`` per signal group, each light for 30 s."""
    phases = tuple(
        SignalPhase(
            phase_id=int(k.removeprefix("phase")),
            states=(PhaseState(light=light, start_s=0.0, likely_end_s=30.0),),
        )
        for k, light in lights.items()
    )
    state = IntersectionState(node=NODE, timestamp_ms=0, phases=phases)
    return Spat(msg_count=1, intersections=(state,), timestamp_ms=0)


def all_permissive(**kw: object) -> tuple[MapData, Spat]:
    """``cross_map(phases=PHASES, **kw)`` with every signal group on permissive green (no
    arrows): each movement goes if clear. Two straight movements from crossing approaches
    are then unranked, and right of way holds neither back; a turn gives way to a straight
    movement, and a right turn to the opposite left (``_signals.turning_yields``)."""
    lights = {f"phase{k}": LightState.PERMISSIVE_GREEN for k in range(1, 7)}
    return cross_map(phases=PHASES, **kw), spat(**lights)  # type: ignore[arg-type]
