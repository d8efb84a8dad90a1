"""Pieces shared by the BSM, RSM and PSM conversions: motion, size, brakes, bit-flag names."""

from __future__ import annotations

from functools import cache
from typing import Any

from v2xcloud.codec import _units as u
from v2xcloud.codec._schema import compiled
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.model import BrakeState, ParticipantKind

_PEDESTRIAN_CLASSES = {82, 83, 84, 86}  # otherTraveler: pedestrian, disabled, roadworker
_CYCLIST_CLASSES = {85}


@cache
def named_bits(type_name: str) -> list[tuple[str, int]]:
    """Bit names of a BIT STRING type (the same in every message set that has it)."""
    spec = compiled(MessageSet.CSAE2020)
    return list(spec.types[type_name].type.named_bits)


def kind_of_class(classification: int | None) -> ParticipantKind:
    """ParticipantKind from a CSAE BasicVehicleClass code."""
    if classification in _PEDESTRIAN_CLASSES:
        return ParticipantKind.PEDESTRIAN
    if classification in _CYCLIST_CLASSES:
        return ParticipantKind.CYCLIST
    return ParticipantKind.VEHICLE


def motion(value: dict[str, Any]) -> dict[str, Any]:
    """Speed, heading, steering angle and the 4-way acceleration of a BSM/RSM object, SI."""
    out: dict[str, Any] = {
        "speed_mps": u.si("speed", value.get("speed")),
        "heading_deg": u.si("heading", value.get("heading")),
        "steering_wheel_angle_deg": u.si("angle", value.get("angle")),
    }
    accel = value.get("accelSet")
    if accel is not None:
        out["accel_long_mps2"] = u.si("accel", accel["long"])
        out["accel_lat_mps2"] = u.si("accel", accel["lat"])
        out["accel_vert_mps2"] = u.si("vert", accel["vert"])
        out["yaw_rate_dps"] = u.si("yaw", accel["yaw"])
    return out


def size(value: dict[str, Any] | None) -> dict[str, Any]:
    """VehicleSize → width/length/height in m (0 means unknown)."""
    if value is None:
        return {}
    return {
        "width_m": u.si("width", value["width"]),
        "length_m": u.si("length", value["length"]),
        "height_m": u.si("height", value.get("height")),
    }


def size_to_wire(state: Any, where: str, message: str) -> dict[str, Any]:
    """width/length/height m → VehicleSize (``None`` → 0, the 'unknown' value)."""
    out = {
        "width": u.wire("width", state.width_m, f"{where}.width", message),
        "length": u.wire("length", state.length_m, f"{where}.length", message),
    }
    if state.height_m is not None:
        out["height"] = u.wire("height", state.height_m, f"{where}.height", message)
    return out


def accel_to_wire(state: Any, where: str, message: str) -> dict[str, Any]:
    """SI accelerations and yaw rate → AccelerationSet4Way (yaw rate unknown → 0)."""
    return {
        "long": u.wire("accel", state.accel_long_mps2, f"{where}.long", message),
        "lat": u.wire("accel", state.accel_lat_mps2, f"{where}.lat", message),
        "vert": u.wire("vert", state.accel_vert_mps2, f"{where}.vert", message),
        "yaw": u.wire("yaw", state.yaw_rate_dps or 0.0, f"{where}.yaw", message),
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
    fields = {ours: value.get(wire) for wire, ours in _BRAKE_FIELDS.items()}
    wheels = u.bits_of(value.get("wheelBrakes"), named_bits("BrakeAppliedStatus"))
    return BrakeState(**fields, wheel_brakes=wheels)


def brakes_to_wire(state: BrakeState | None) -> dict[str, Any]:
    """BrakeState → BrakeSystemStatus (absent fields stay absent)."""
    if state is None:
        return {}
    out = {
        wire: getattr(state, ours)
        for wire, ours in _BRAKE_FIELDS.items()
        if getattr(state, ours) is not None
    }
    if state.wheel_brakes:
        out["wheelBrakes"] = u.bits_from(state.wheel_brakes, named_bits("BrakeAppliedStatus"), 5)
    return out
