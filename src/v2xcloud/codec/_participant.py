"""Pieces shared by the BSM, RSM and PSM conversions: motion, size, brakes, bit-flag names."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from v2xcloud.codec import _units as u
from v2xcloud.codec._schema import compiled
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.model import BrakeState, ParticipantKind

_PEDESTRIAN_CLASSES = {82, 83, 84, 86}  # otherTraveler: pedestrian, disabled, roadworker
_CYCLIST_CLASSES = {85}
# looked up once: reading an Enum member off its class costs a Python-level property call
_VEHICLE = ParticipantKind.VEHICLE
_KIND_OF_CLASS = {code: ParticipantKind.PEDESTRIAN for code in _PEDESTRIAN_CLASSES}
_KIND_OF_CLASS.update({code: ParticipantKind.CYCLIST for code in _CYCLIST_CLASSES})


@cache
def named_bits(type_name: str) -> list[tuple[str, int]]:
    """Bit names of a BIT STRING type (the same in every message set that has it)."""
    spec = compiled(MessageSet.CSAE2020)
    return list(spec.types[type_name].type.named_bits)


@cache
def flags(type_name: str) -> u.BitNames:
    """The bit names of a BIT STRING type both ways, cached by bit pattern."""
    return u.BitNames(partial(named_bits, type_name))  # read from the schema on first use


def kind_of_class(classification: int | None) -> ParticipantKind:
    """ParticipantKind from a CSAE BasicVehicleClass code."""
    return _KIND_OF_CLASS.get(classification, _VEHICLE)  # type: ignore[arg-type]


_SPEED = u.SI["speed"]
_HEADING = u.SI["heading"]
_ANGLE = u.SI["angle"]
_ACCEL = u.SI["accel"]
_VERT = u.SI["vert"]
_YAW = u.SI["yaw"]
_WIDTH = u.SI["width"]
_LENGTH = u.SI["length"]
_HEIGHT = u.SI["height"]


def motion(value: dict[str, Any]) -> dict[str, Any]:
    """Speed, heading, steering angle and the 4-way acceleration of a BSM/RSM object, SI."""
    get = value.get
    accel = get("accelSet")
    if accel is None:
        return {
            "speed_mps": _SPEED(get("speed")),
            "heading_deg": _HEADING(get("heading")),
            "steering_wheel_angle_deg": _ANGLE(get("angle")),
        }
    return {
        "speed_mps": _SPEED(get("speed")),
        "heading_deg": _HEADING(get("heading")),
        "steering_wheel_angle_deg": _ANGLE(get("angle")),
        "accel_long_mps2": _ACCEL(accel["long"]),
        "accel_lat_mps2": _ACCEL(accel["lat"]),
        "accel_vert_mps2": _VERT(accel["vert"]),
        "yaw_rate_dps": _YAW(accel["yaw"]),
    }


def size(value: dict[str, Any] | None) -> dict[str, Any]:
    """VehicleSize → width/length/height in m (0 means unknown)."""
    if value is None:
        return {}
    return {
        "width_m": _WIDTH(value["width"]),
        "length_m": _LENGTH(value["length"]),
        "height_m": _HEIGHT(value.get("height")),
    }


_WIDTH_W, _LENGTH_W, _HEIGHT_W = u.WIRE["width"], u.WIRE["length"], u.WIRE["height"]
_ACCEL_W, _VERT_W, _YAW_W = u.WIRE["accel"], u.WIRE["vert"], u.WIRE["yaw"]


def size_to_wire(state: Any, where: str, message: str) -> dict[str, Any]:
    """width/length/height m → VehicleSize (``None`` → 0, the 'unknown' value)."""
    out = {
        "width": _WIDTH_W(state.width_m, where, message, ".width"),
        "length": _LENGTH_W(state.length_m, where, message, ".length"),
    }
    if state.height_m is not None:
        out["height"] = _HEIGHT_W(state.height_m, where, message, ".height")
    return out


def accel_to_wire(state: Any, where: str, message: str) -> dict[str, Any]:
    """SI accelerations and yaw rate → AccelerationSet4Way (yaw rate unknown → 0)."""
    return {
        "long": _ACCEL_W(state.accel_long_mps2, where, message, ".long"),
        "lat": _ACCEL_W(state.accel_lat_mps2, where, message, ".lat"),
        "vert": _VERT_W(state.accel_vert_mps2, where, message, ".vert"),
        "yaw": _YAW_W(state.yaw_rate_dps or 0.0, where, message, ".yaw"),
    }


_BRAKE_FIELDS = {
    "brakePadel": "pedal",
    "traction": "traction",
    "abs": "abs",
    "scs": "stability",
    "brakeBoost": "brake_boost",
    "auxBrakes": "aux_brakes",
}


def brakes(value: dict[str, Any] | None) -> BrakeState | None:
    """BrakeSystemStatus → BrakeState (enum names kept as text)."""
    if value is None:
        return None
    get = value.get
    return BrakeState(
        pedal=get("brakePadel"),
        traction=get("traction"),
        abs=get("abs"),
        stability=get("scs"),
        brake_boost=get("brakeBoost"),
        aux_brakes=get("auxBrakes"),
        wheel_brakes=flags("BrakeAppliedStatus").names(get("wheelBrakes")),
    )


def brakes_to_wire(state: BrakeState | None) -> dict[str, Any]:
    """BrakeState → BrakeSystemStatus (absent fields stay absent)."""
    if state is None:
        return {}
    out = {}
    for wire, ours in _BRAKE_FIELDS.items():
        value = getattr(state, ours)
        if value is not None:
            out[wire] = value
    if state.wheel_brakes:
        out["wheelBrakes"] = flags("BrakeAppliedStatus").to_wire(state.wheel_brakes, 5)
    return out
