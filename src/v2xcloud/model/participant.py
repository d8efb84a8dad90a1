"""Road participants: what a BSM, RSM object or PSM says about one road user, in SI units."""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "BrakeState",
    "EmergencyState",
    "ParticipantKind",
    "ParticipantSource",
    "ParticipantState",
    "PathPoint",
]


class ParticipantKind(StrEnum):
    """What kind of road user (CSAE ``ParticipantType`` plus the BSM's vehicle class)."""

    UNKNOWN = "unknown"
    VEHICLE = "vehicle"  # motor vehicle, CSAE "motor"
    CYCLIST = "cyclist"  # CSAE "non-motor"
    PEDESTRIAN = "pedestrian"
    RSU = "rsu"


class ParticipantSource(StrEnum):
    """Which message reported the participant."""

    BSM = "bsm"  # self-report of a connected vehicle
    RSM = "rsm"  # roadside perception
    PSM = "psm"  # Day-2 personal safety message (pedestrian's own device)
    SIM = "sim"  # ground truth from the simulator (test bench only)
    SSM = "ssm"  # Day-2 sensor sharing message (RSU, vehicle or VRU device perception)


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class BrakeState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Brake system status; each field is the standard's enum name or ``None`` if absent.

    ``pedal``: "unavailable" | "off" | "on"; ``abs``/``traction``/``stability``:
    "unavailable" | "off" | "on" | "engaged"; ``brake_boost``/``aux_brakes`` likewise.
    """

    pedal: str | None = None
    abs: str | None = None
    traction: str | None = None
    stability: str | None = None
    brake_boost: str | None = None
    aux_brakes: str | None = None
    wheel_brakes: frozenset[str] = frozenset()


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class EmergencyState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A BSM's emergency extension (CSAE ``VehicleEmergencyExtensions``), enum names as text."""

    response_type: str | None = None  # e.g. "emergency", "nonEmergency", "pursuit"
    siren: str | None = None  # "unavailable" | "notInUse" | "inUse" | "reserved"
    lights: str | None = None  # "unavailable" | "notInUse" | "inUse" | "reserved"


# gc=False: values only (no reference cycles); one per report or tick, untracked they add
# nothing to the cyclic GC's collections
class PathPoint(msgspec.Struct, frozen=True, kw_only=True, array_like=True, gc=False):
    """A past position (path history crumb), absolute."""

    lat_deg: float
    lon_deg: float
    elevation_m: float | None = None
    time_offset_ms: int | None = None  # how long before the message's own time


# gc=False: only scalars, strings and containers of them, so no reference cycles; thousands live
# at once in the scene and the runtime, and untracked they do not slow the cyclic GC down
class ParticipantState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One road user at one instant.

    ``id`` is stable per participant: a BSM sender's 8-byte id in lower-case hex; an RSM object
    without a BSM id is ``"<rsu id hex>/<ptcId>"``. ``reported_id`` is the BSM id an RSM object
    carries, which the scene uses to fuse roadside perception with self-reports.
    Angles are degrees clockwise from north, speeds m/s, accelerations m/s², lengths m.
    Any quantity the sender marked unavailable is ``None``.
    """

    id: str
    kind: ParticipantKind
    source: ParticipantSource
    timestamp_ms: int
    lat_deg: float
    lon_deg: float
    elevation_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    steering_wheel_angle_deg: float | None = None
    accel_long_mps2: float | None = None
    accel_lat_mps2: float | None = None
    accel_vert_mps2: float | None = None
    yaw_rate_dps: float | None = None
    length_m: float | None = None
    width_m: float | None = None
    height_m: float | None = None
    vehicle_class: int | None = None  # CSAE BasicVehicleClass code
    transmission: str | None = None  # "neutral" | "park" | "forwardGears" | ...
    position_accuracy_m: float | None = None  # semi-major axis of the position error ellipse
    brakes: BrakeState | None = None
    vehicle_events: frozenset[str] = frozenset()  # VehicleEventFlags bit names
    exterior_lights: frozenset[str] = frozenset()  # ExteriorLights bit names
    emergency: EmergencyState | None = None
    path_history: tuple[PathPoint, ...] = ()
    reported_id: str | None = None  # BSM id carried by an RSM object
    sender_id: str | None = None  # RSU id (hex) for RSM objects
    detection_source: str | None = None  # RSM SourceType name: "video", "lidar", ...
