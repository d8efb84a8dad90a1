"""SI models of the T/CSAE 157-2020 Day-2 messages: their main content, not every field.

PSM and SSM carry road users as ``ParticipantState`` (so the scene can fuse them like BSM/RSM
reports); the other messages keep their key fields. Identifiers are lower-case hex.
"""

from __future__ import annotations

import msgspec

from v2xcloud.model.map import NodeId
from v2xcloud.model.participant import ParticipantState
from v2xcloud.model.road import ReferencePath

__all__ = [
    "ClearTheWayRequest",
    "Clpmm",
    "DriveRequest",
    "LaneChangeRequest",
    "LaneCoordination",
    "LinkRef",
    "Pam",
    "PathPoint",
    "PaymentPoint",
    "Psm",
    "ReferenceStation",
    "Rsc",
    "Rtcm",
    "SignalPriorityRequest",
    "Ssm",
    "TestMessage",
    "VehicleCoordination",
    "Vir",
    "Vpm",
]


class Psm(msgspec.Struct, frozen=True, kw_only=True):
    """Personal safety message: a vulnerable road user's own report.

    ``user_type`` is the PersonalDeviceUserType name ("aPEDESTRIAN", "aPEDALCYCLIST", ...);
    ``overall_radius_m`` the radius of the person or cluster.
    """

    msg_count: int
    participant: ParticipantState
    user_type: str
    overall_radius_m: float
    cluster_size: str | None = None


class Ssm(msgspec.Struct, frozen=True, kw_only=True):
    """Sensor sharing message: what one RSU, vehicle or VRU device perceives."""

    msg_count: int
    sender_id: str
    equipment_type: str  # "rsu" | "obu" | "vru" | "unknown"
    timestamp_ms: int
    sensor_lat_deg: float
    sensor_lon_deg: float
    participants: tuple[ParticipantState, ...] = ()
    obstacle_count: int = 0
    event_count: int = 0


class LinkRef(msgspec.Struct, frozen=True, kw_only=True):
    """A directed link of the MAP (``ReferenceLink``): from node ``upstream_node`` to node
    ``downstream_node``, optionally some of its lanes (``ReferenceLanes`` numbers 1..15)."""

    upstream_node: NodeId
    downstream_node: NodeId
    lanes: frozenset[int] = frozenset()


class PathPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One point of a planned path or a path guidance (``PathPlanningPoint``).

    ``time_s``: when the vehicle is (to be) there, seconds after the message's timestamp
    (``estimatedTime``, 0.01 s resolution, 0.01..655.35 s); ``link``: the MAP link the
    point lies on (``posInMap``)."""

    lat_deg: float
    lon_deg: float
    speed_mps: float | None = None
    heading_deg: float | None = None
    time_s: float | None = None
    link: LinkRef | None = None


class LaneChangeRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``Req-LaneChange``: move to lane ``target_lane`` (MAP LaneID) of the link
    ``upstream_node`` → ``downstream_node``."""

    upstream_node: NodeId
    downstream_node: NodeId
    target_lane: int


class ClearTheWayRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``Req-ClearTheWay``: the others should leave lane ``target_lane`` of the link, between
    ``begin_ms`` and ``end_ms`` (UTC) when given, along ``path`` when given."""

    upstream_node: NodeId
    downstream_node: NodeId
    target_lane: int
    path: ReferencePath | None = None
    begin_ms: int | None = None
    end_ms: int | None = None


class SignalPriorityRequest(msgspec.Struct, frozen=True, kw_only=True):
    """``Req-SignalPriority``: priority for the movement towards ``remote_node`` at
    intersection ``intersection_id`` (phase ``phase_id``, ``turn`` the Maneuver name),
    arriving in ``arrival_s`` seconds, ``distance_m`` metres before it."""

    intersection_id: NodeId
    remote_node: NodeId
    phase_id: int | None = None
    turn: str | None = None  # "maneuverStraight" | "maneuverLeftTurn" | ...
    arrival_s: float | None = None
    distance_m: float | None = None


class DriveRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request of a VIR (``DriveRequest``).

    ``status`` is the ReqStatus name ("request", "comfirmed" — spelled as in the standard —,
    "cancel", "complete", "unknown"); ``priority`` 0..7 (the top three bits of
    ``reqPriority``); ``life_time_s`` how long the request holds (0.01 s resolution). At most
    one of ``lane_change``, ``clear_the_way``, ``signal_priority`` is set (``info``); a
    request of another kind keeps its alternative's name in ``other_kind``.
    """

    request_id: int
    status: str = "request"
    priority: int | None = None
    target_vehicle_id: str | None = None
    target_rsu_id: str | None = None
    life_time_s: float | None = None
    lane_change: LaneChangeRequest | None = None
    clear_the_way: ClearTheWayRequest | None = None
    signal_priority: SignalPriorityRequest | None = None
    other_kind: str | None = None  # "sensorSharing" | "parking": carried, not modelled


class Vir(msgspec.Struct, frozen=True, kw_only=True):
    """Vehicle intention and request: where the vehicle is, its planned path, its current
    behaviour and its requests to the platform or to other vehicles.

    ``current``: the vehicle now (``currentPos``); ``path``: the planned path
    (``path-Planning``, up to 100 points, times after ``timestamp_ms``); ``behavior``: the
    DriveBehavior bit names ("laneChangingToLeft", "rampIn", "intersectionStraightThrough",
    ...); ``requests``: up to 8 ``DriveRequest``.
    """

    msg_count: int
    sender_id: str
    timestamp_ms: int
    ref_lat_deg: float
    ref_lon_deg: float
    behavior: frozenset[str] = frozenset()  # DriveBehavior bit names
    current: PathPoint | None = None
    path: tuple[PathPoint, ...] = ()
    requests: tuple[DriveRequest, ...] = ()

    @property
    def request_ids(self) -> tuple[int, ...]:
        """The ids of its requests, in order."""
        return tuple(r.request_id for r in self.requests)


class VehicleCoordination(msgspec.Struct, frozen=True, kw_only=True):
    """What the roadside tells one vehicle (``VehicleCoordination``).

    ``suggestion``: DriveBehavior bit names to do now ("slow-down", "laneChangingToLeft",
    "stop", "speed-up", ...), valid for ``life_time_s`` (the time window, 0.01 s resolution),
    on ``related_link``/``related_path`` when given; ``path_guidance``: points to follow,
    each with the speed to hold and the time to be there (``PathPoint.time_s``, after the
    message's timestamp); ``info``: the CoordinationInfo bit names saying which scenario the
    coordination belongs to ("cooperativeLaneChanging", "cooperativeVehMerging",
    "no-signalIntersectionPassing", "signalPriority", ...).
    """

    vehicle_id: str
    suggestion: frozenset[str] = frozenset()
    life_time_s: float | None = None
    related_link: LinkRef | None = None
    related_path: ReferencePath | None = None
    path_guidance: tuple[PathPoint, ...] = ()
    info: frozenset[str] = frozenset()


class LaneCoordination(msgspec.Struct, frozen=True, kw_only=True):
    """What the roadside says about one lane (``LaneCoordination``): on ``target_lane``
    (a link and its lanes), between ``begin_ms`` and ``end_ms`` (UTC), the recommended speed
    and behaviour, and which coordination (``info``) or why (``description``)."""

    target_lane: LinkRef
    related_path: ReferencePath | None = None
    begin_ms: int | None = None
    end_ms: int | None = None
    recommended_speed_mps: float | None = None
    recommended_behavior: frozenset[str] = frozenset()
    info: frozenset[str] = frozenset()
    description: str | None = None


class Rsc(msgspec.Struct, frozen=True, kw_only=True):
    """Roadside coordination: per-vehicle coordination (up to 16) and per-lane coordination
    (up to 8) from one RSU or the platform."""

    msg_count: int
    rsu_id: str
    timestamp_ms: int
    ref_lat_deg: float
    ref_lon_deg: float
    coordinations: tuple[VehicleCoordination, ...] = ()
    lanes: tuple[LaneCoordination, ...] = ()

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        """The ids of the vehicles it coordinates, in order."""
        return tuple(c.vehicle_id for c in self.coordinations)

    @property
    def lane_coordination_count(self) -> int:
        """How many lane coordinations it carries."""
        return len(self.lanes)


class Pam(msgspec.Struct, frozen=True, kw_only=True):
    """Parking area map: the lot and the size of its node graph."""

    msg_count: int
    timestamp_ms: int | None
    lot_id: int | None = None
    lot_name: str | None = None
    node_count: int = 0
    guide_count: int = 0


class Clpmm(msgspec.Struct, frozen=True, kw_only=True):
    """Platooning management: a member's role and state in platoon ``platoon_id``."""

    msg_count: int
    sender_id: str
    timestamp_ms: int
    platoon_id: str
    role: str  # "leader" | "follower" | "tail" | "free-vehicle"
    status: str
    member_ids: tuple[str, ...] = ()


class Vpm(msgspec.Struct, frozen=True, kw_only=True):
    """Vehicle payment message: one step of a near-field toll transaction (T/CSAE 157-2020 VPM,
    an ETC-like exchange between a roadside payment point and an OBU).

    ``step`` is the ``payment`` alternative: "initialzation-request" (the roadside service
    table, RST: the point's ``rsu_id``, ``gantry_id`` and ``price_fen``), "initialzation-
    response" (the OBU's VSI: ``obu_id`` answering ``rsu_id``), "action-request" (the point
    asks the OBU to act: ``action`` "setTollDataRq" to charge ``amount_fen`` under
    ``transaction_sn``, or "setMMIRq" to show the ``result``; ``needs_confirm`` is the mode
    bit) and "action-response" (the OBU's answer to a request: ``action`` "setTollDataRs",
    ``result`` the ReturnStatus, e.g. "noError"). ``time_ms`` UTC ms; money in fen (0.01 CNY);
    ids lower-case hex (8 bytes); ``entity`` the PaymentEntityID ("freeflow", "parking", ...).
    """

    msg_count: int
    step: str  # the ``payment`` alternative, e.g. "action-request"
    time_ms: int | None = None
    rsu_id: str | None = None
    obu_id: str | None = None
    entity: str = "freeflow"
    gantry_id: int | None = None
    price_fen: int | None = None
    action: str | None = None  # the TransInfo alternative
    needs_confirm: bool = False
    amount_fen: int | None = None
    transaction_sn: int | None = None
    result: str | None = None


class PaymentPoint(msgspec.Struct, frozen=True, kw_only=True):
    """A roadside payment point (a toll gantry) registering with the platform, which runs its
    transactions (VNFP): its RSU, gantry id, position, the radius of its zone (m) and price
    (fen, 0.01 CNY)."""

    rsu_id: str
    gantry_id: int
    lat_deg: float
    lon_deg: float
    radius_m: float
    price_fen: int
    entity: str = "freeflow"


class ReferenceStation(msgspec.Struct, frozen=True, kw_only=True):
    """A GNSS reference (base) station registering with the platform, which relays its RTCM
    corrections to the connected vehicles within ``range_m`` of it (differential
    positioning): its id (16 hex digits, the id its corrections arrive under) and position."""

    station_id: str
    lat_deg: float
    lon_deg: float
    range_m: float


class Rtcm(msgspec.Struct, frozen=True, kw_only=True):
    """Differential GNSS corrections: the RTCM payloads as sent."""

    msg_count: int
    payloads: tuple[bytes, ...]


class TestMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Test message with opaque user data."""

    __test__ = False  # not a pytest test class

    msg_count: int
    user_data: bytes
