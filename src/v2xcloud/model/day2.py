"""SI models of the T/CSAE 157-2020 Day-2 messages: their main content, not every field.

PSM and SSM carry road users as ``ParticipantState`` (so the scene can fuse them like BSM/RSM
reports); the other messages keep their key fields. Identifiers are lower-case hex.
"""

from __future__ import annotations

import msgspec

from v2xcloud.model.participant import ParticipantState

__all__ = [
    "Clpmm",
    "Pam",
    "Psm",
    "Rsc",
    "Rtcm",
    "Ssm",
    "TestMessage",
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


class Vir(msgspec.Struct, frozen=True, kw_only=True):
    """Vehicle intention and request: current behaviour and the ids of its requests."""

    msg_count: int
    sender_id: str
    timestamp_ms: int
    ref_lat_deg: float
    ref_lon_deg: float
    behavior: frozenset[str] = frozenset()  # DriveBehavior bit names
    request_ids: tuple[int, ...] = ()


class Rsc(msgspec.Struct, frozen=True, kw_only=True):
    """Roadside coordination: which vehicles the RSU guides, and how many lane instructions."""

    msg_count: int
    rsu_id: str
    timestamp_ms: int
    ref_lat_deg: float
    ref_lon_deg: float
    vehicle_ids: tuple[str, ...] = ()
    lane_coordination_count: int = 0


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
    """Vehicle payment message: which step of the toll transaction it is."""

    msg_count: int
    step: str  # the ``payment`` alternative, e.g. "action-request"


class Rtcm(msgspec.Struct, frozen=True, kw_only=True):
    """Differential GNSS corrections: the RTCM payloads as sent."""

    msg_count: int
    payloads: tuple[bytes, ...]


class TestMessage(msgspec.Struct, frozen=True, kw_only=True):
    """Test message with opaque user data."""

    __test__ = False  # not a pytest test class

    msg_count: int
    user_data: bytes
