"""BSM ⇄ ``model.Bsm``: the one conversion function each way, plus msgspec-style decode/encode.

secMark is resolved to UTC ms against ``reference_ms`` (the capture time or the receive time).
Path-history crumbs are offsets from the current position; their ``timeOffset`` is 10 ms units.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from v2xcloud.codec import _participant as p
from v2xcloud.codec import _units as u
from v2xcloud.codec._single import decoder_class
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.errors import EncodeError
from v2xcloud.model import (
    Bsm,
    EmergencyState,
    ParticipantSource,
    ParticipantState,
    PathPoint,
    utc_ms_from_sec_mark,
)

__all__ = ["Decoder", "decode", "encode", "from_wire", "to_wire"]

_MSG = "BSM"


def sec_mark_ms(value: int) -> int | None:
    """DSecond → ms within the minute, ``None`` if unavailable (60000..65535)."""
    return None if value >= u.SEC_MARK_UNAVAILABLE_FROM else value


# the wire → SI converter of each scaled field, looked up once
_ELEVATION, _ACCURACY = u.SI["elevation"], u.SI["accuracy"]
_SPEED, _HEADING, _ANGLE = u.SI["speed"], u.SI["heading"], u.SI["angle"]
_ACCEL, _VERT, _YAW = u.SI["accel"], u.SI["vert"], u.SI["yaw"]
_LENGTH, _WIDTH, _HEIGHT = u.SI["length"], u.SI["width"], u.SI["height"]
_EVENTS = p.flags("VehicleEventFlags")
_LIGHTS = p.flags("ExteriorLights")
_BSM = ParticipantSource.BSM  # an Enum member read off its class costs a property call
_NO_SAFETY: dict[str, Any] = {}  # absent extension or acceleration set: all fields None
_NO_ACCEL: dict[str, Any] = {}


def _path_history(history: dict[str, Any] | None, pos: dict[str, Any]) -> tuple[PathPoint, ...]:
    if not history:
        return ()
    absolute = u.absolute
    points = []
    for crumb in history["crumbData"]:
        lat, lon, elevation = absolute(crumb["llvOffset"], pos)
        offset = crumb["timeOffset"]
        points.append(
            PathPoint(
                lat_deg=lat,
                lon_deg=lon,
                elevation_m=elevation,
                time_offset_ms=None if offset == 65535 else offset * 10,
            )
        )
    return tuple(points)


def _emergency(value: dict[str, Any] | None) -> EmergencyState | None:
    if value is None:
        return None
    return EmergencyState(
        response_type=value.get("responseType"),
        siren=value.get("sirenUse"),
        lights=value.get("lightsUse"),
    )


def from_wire(value: dict[str, Any], *, reference_ms: int) -> Bsm:
    """The BSM native value → ``Bsm`` in SI units."""
    get = value.get
    mark = value["secMark"]
    if mark >= u.SEC_MARK_UNAVAILABLE_FROM:
        mark, timestamp_ms = None, reference_ms
    else:
        timestamp_ms = utc_ms_from_sec_mark(mark, reference_ms)
    pos = value["pos"]
    lat, lon = u.position_deg(pos["lat"], pos["long"], "$.pos", _MSG)
    safety = get("safetyExt") or _NO_SAFETY
    accuracy = get("posAccuracy")
    accel = get("accelSet") or _NO_ACCEL
    size = value["size"]
    classification = value["vehicleClass"]["classification"]
    # two calls of at most 15 keywords: past 15, CPython packs the keywords into a dict first,
    # which costs more than the second call (msgspec's replace, a copy in C)
    moving = ParticipantState(
        id=value["id"].hex(),
        kind=p.kind_of_class(classification),
        source=_BSM,
        timestamp_ms=timestamp_ms,
        lat_deg=lat,
        lon_deg=lon,
        elevation_m=_ELEVATION(pos.get("elevation")),
        speed_mps=_SPEED(get("speed")),
        heading_deg=_HEADING(get("heading")),
        steering_wheel_angle_deg=_ANGLE(get("angle")),
        accel_long_mps2=_ACCEL(accel.get("long")),
        accel_lat_mps2=_ACCEL(accel.get("lat")),
        accel_vert_mps2=_VERT(accel.get("vert")),
        yaw_rate_dps=_YAW(accel.get("yaw")),
        position_accuracy_m=_ACCURACY(accuracy["semiMajor"]) if accuracy else None,
    )
    participant = replace(
        moving,
        length_m=_LENGTH(size["length"]),
        width_m=_WIDTH(size["width"]),
        height_m=_HEIGHT(size.get("height")),
        vehicle_class=classification,
        transmission=value["transmission"],
        brakes=p.brakes(value["brakes"]),
        vehicle_events=_EVENTS.names(safety.get("events")),
        exterior_lights=_LIGHTS.names(safety.get("lights")),
        emergency=_emergency(get("emergencyExt")),
        path_history=_path_history(safety.get("pathHistory"), pos),
    )
    return Bsm(msg_count=value["msgCnt"], sec_mark_ms=mark, participant=participant)


def _crumb_to_wire(point: PathPoint, pos: dict[str, Any]) -> dict[str, Any]:
    offset_ms = point.time_offset_ms
    if offset_ms is None:
        time_offset = 65535  # unavailable
    else:
        time_offset = round(offset_ms / 10)  # 10 ms units, 1..65534
        time_offset = 1 if time_offset < 1 else 65534 if time_offset > 65534 else time_offset
    return {
        "llvOffset": u.offset(point.lat_deg, point.lon_deg, point.elevation_m, pos),
        "timeOffset": time_offset,
    }


def _safety_to_wire(state: ParticipantState, pos: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.vehicle_events:
        out["events"] = _EVENTS.to_wire(state.vehicle_events, 13)
    if state.path_history:
        crumbs = [_crumb_to_wire(point, pos) for point in state.path_history[:23]]
        out["pathHistory"] = {"crumbData": crumbs}
    if state.exterior_lights:
        out["lights"] = _LIGHTS.to_wire(state.exterior_lights, 9)
    return out


def _id_bytes(text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise EncodeError(_MSG, f"participant id must be 16 hex digits, got {text!r}", where=where)
    return raw


_SPEED_W, _HEADING_W, _ANGLE_W = u.WIRE["speed"], u.WIRE["heading"], u.WIRE["angle"]
_ACCURACY_W = u.WIRE["accuracy"]


def to_wire(msg: Bsm) -> dict[str, Any]:
    """``Bsm`` → BSM native value, rounded to the wire resolution; raises EncodeError."""
    s = msg.participant
    pos = u.position3d(s.lat_deg, s.lon_deg, s.elevation_m, "$.pos", _MSG)
    value: dict[str, Any] = {
        "msgCnt": msg.msg_count,
        "id": _id_bytes(s.id, "$.id"),
        "secMark": msg.sec_mark_ms if msg.sec_mark_ms is not None else s.timestamp_ms % 60000,
        "pos": pos,
        "transmission": s.transmission or "unavailable",
        "speed": _SPEED_W(s.speed_mps, "$.speed", _MSG),
        "heading": _HEADING_W(s.heading_deg, "$.heading", _MSG),
        "accelSet": p.accel_to_wire(s, "$.accelSet", _MSG),
        "brakes": p.brakes_to_wire(s.brakes),
        "size": p.size_to_wire(s, "$.size", _MSG),
        "vehicleClass": {"classification": s.vehicle_class or 0},
    }
    if s.steering_wheel_angle_deg is not None:
        value["angle"] = _ANGLE_W(s.steering_wheel_angle_deg, "$.angle", _MSG)
    if s.position_accuracy_m is not None:
        semi = _ACCURACY_W(s.position_accuracy_m, "$.posAccuracy.semiMajor", _MSG)
        value["posAccuracy"] = {"semiMajor": semi, "semiMinor": semi, "orientation": 65535}
    if safety := _safety_to_wire(s, pos):
        value["safetyExt"] = safety
    if s.emergency is not None:
        e = s.emergency
        ext = {"responseType": e.response_type, "sirenUse": e.siren, "lightsUse": e.lights}
        value["emergencyExt"] = {k: v for k, v in ext.items() if v is not None}
    return value


Decoder = decoder_class(_MSG, from_wire)


def decode(
    data: bytes, *, message_set: MessageSet = MessageSet.CSAE2020, received_at_ms: int = 0
) -> Bsm:
    """UPER MessageFrame holding a BSM → ``Bsm``; raises ``DecodeError`` otherwise."""
    return Decoder(message_set=message_set).decode(data, received_at_ms=received_at_ms)


def encode(msg: Bsm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Bsm`` → UPER MessageFrame bytes; raises ``EncodeError`` with the field path."""
    return encode_native(("bsmFrame", to_wire(msg)), message_set=message_set)
