"""RSM ⇄ ``model.Rsm``: roadside perception, participants absolute in SI units.

Object positions are offsets from the RSM's ``refPos`` (or absolute ``position-LatLon``);
each object's secMark is resolved against ``reference_ms``.
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
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    Rsm,
    utc_ms_from_sec_mark,
)

__all__ = ["Decoder", "decode", "encode", "from_wire", "to_wire"]

_MSG = "RSM"
_KINDS = {
    "unknown": ParticipantKind.UNKNOWN,
    "motor": ParticipantKind.VEHICLE,
    "non-motor": ParticipantKind.CYCLIST,
    "pedestrian": ParticipantKind.PEDESTRIAN,
    "rsu": ParticipantKind.RSU,
}
_PTC_TYPES = {kind: name for name, kind in _KINDS.items()}
# looked up once: reading an Enum member off its class costs a Python-level property call
_UNKNOWN, _RSM = ParticipantKind.UNKNOWN, ParticipantSource.RSM


# the wire → SI converter of each scaled field, looked up once
_ELEVATION = u.SI["elevation"]
_SPEED, _HEADING, _ANGLE = u.SI["speed"], u.SI["heading"], u.SI["angle"]
_ACCEL, _VERT, _YAW = u.SI["accel"], u.SI["vert"], u.SI["yaw"]
_LENGTH, _WIDTH, _HEIGHT = u.SI["length"], u.SI["width"], u.SI["height"]
_NONE: dict[str, Any] = {}  # an absent optional sequence: all its fields None


def _participant(
    obj: dict[str, Any], ref: dict[str, Any], rsu_hex: str, reference_ms: int
) -> ParticipantState:
    get = obj.get
    lat, lon, elevation = u.absolute(obj["pos"], ref)
    mark = obj["secMark"]
    size = obj["size"] or _NONE
    # 15 keywords at most per call: past that CPython packs the keywords into a dict first,
    # which costs more than building the state in two steps when the optional parts are there
    state = ParticipantState(
        id=f"{rsu_hex}/{obj['ptcId']}",
        kind=_KINDS.get(obj["ptcType"], _UNKNOWN),
        source=_RSM,
        timestamp_ms=reference_ms
        if mark >= u.SEC_MARK_UNAVAILABLE_FROM
        else utc_ms_from_sec_mark(mark, reference_ms),
        lat_deg=lat,
        lon_deg=lon,
        elevation_m=elevation,
        speed_mps=_SPEED(get("speed")),
        heading_deg=_HEADING(get("heading")),
        steering_wheel_angle_deg=_ANGLE(get("angle")),
        length_m=_LENGTH(size.get("length")),
        width_m=_WIDTH(size.get("width")),
        height_m=_HEIGHT(size.get("height")),
        sender_id=rsu_hex,
        detection_source=obj["source"],
    )
    accel, vehicle_class, reported = get("accelSet"), get("vehicleClass"), get("id")
    transmission = get("transmission")
    if accel is None and vehicle_class is None and reported is None and transmission is None:
        return state
    accel = accel or _NONE
    return replace(
        state,
        accel_long_mps2=_ACCEL(accel.get("long")),
        accel_lat_mps2=_ACCEL(accel.get("lat")),
        accel_vert_mps2=_VERT(accel.get("vert")),
        yaw_rate_dps=_YAW(accel.get("yaw")),
        vehicle_class=(vehicle_class or _NONE).get("classification"),
        transmission=transmission,
        reported_id=reported.hex() if reported is not None else None,
    )


def from_wire(value: dict[str, Any], *, reference_ms: int) -> Rsm:
    """The RSM native value → ``Rsm`` in SI units."""
    ref = value["refPos"]
    ref_lat, ref_lon = u.position_deg(ref["lat"], ref["long"], "$.refPos", _MSG)
    rsu_hex = value["id"].hex()
    participants = [_participant(o, ref, rsu_hex, reference_ms) for o in value["participants"]]
    return Rsm(
        msg_count=value["msgCnt"],
        rsu_id=rsu_hex,
        ref_lat_deg=ref_lat,
        ref_lon_deg=ref_lon,
        participants=tuple(participants),
        ref_elevation_m=_ELEVATION(ref.get("elevation")),
    )


def _ptc_id(state: ParticipantState, index: int, where: str) -> int:
    tail = state.id.rpartition("/")[2]
    number = int(tail) if tail.isdigit() else index + 1
    if not 0 <= number <= 65535:
        raise EncodeError(_MSG, f"ptcId {number} is outside 0..65535", where=where + ".ptcId")
    return number


_SPEED_W, _HEADING_W = u.WIRE["speed"], u.WIRE["heading"]
_OBJECT_PATHS = tuple(f"$.participants[{i}]" for i in range(16))  # an RSM carries 1..16


def _object_to_wire(s: ParticipantState, index: int, ref: dict[str, Any]) -> dict[str, Any]:
    where = _OBJECT_PATHS[index]
    obj: dict[str, Any] = {
        "ptcType": _PTC_TYPES.get(s.kind, "unknown"),
        "ptcId": _ptc_id(s, index, where),
        "source": s.detection_source or "unknown",
        "secMark": s.timestamp_ms % 60000,
        "pos": u.offset(s.lat_deg, s.lon_deg, s.elevation_m, ref),
        "posConfidence": {"pos": "unavailable"},
        "speed": _SPEED_W(s.speed_mps, where, _MSG, ".speed"),
        "heading": _HEADING_W(s.heading_deg, where, _MSG, ".heading"),
        "size": p.size_to_wire(s, where + ".size", _MSG),
    }
    if s.reported_id:
        obj["id"] = bytes.fromhex(s.reported_id)
    if s.transmission:
        obj["transmission"] = s.transmission
    if s.accel_long_mps2 is not None or s.accel_lat_mps2 is not None:
        obj["accelSet"] = p.accel_to_wire(s, where + ".accelSet", _MSG)
    if s.vehicle_class is not None:
        obj["vehicleClass"] = {"classification": s.vehicle_class}
    return obj


def to_wire(msg: Rsm) -> dict[str, Any]:
    """``Rsm`` → RSM native value, rounded to the wire resolution; raises EncodeError."""
    ref = u.position3d(msg.ref_lat_deg, msg.ref_lon_deg, msg.ref_elevation_m, "$.refPos", _MSG)
    try:
        rsu_id = bytes.fromhex(msg.rsu_id)
    except ValueError:
        rsu_id = b""
    if len(rsu_id) != 8:
        raise EncodeError(_MSG, f"rsu_id must be 16 hex digits, got {msg.rsu_id!r}", where="$.id")
    if not 1 <= len(msg.participants) <= 16:
        raise EncodeError(
            _MSG,
            f"an RSM carries 1..16 participants, got {len(msg.participants)}",
            where="$.participants",
        )
    objects = [_object_to_wire(s, i, ref) for i, s in enumerate(msg.participants)]
    return {"msgCnt": msg.msg_count, "id": rsu_id, "refPos": ref, "participants": objects}


Decoder = decoder_class(_MSG, from_wire)


def decode(
    data: bytes, *, message_set: MessageSet = MessageSet.CSAE2020, received_at_ms: int = 0
) -> Rsm:
    """UPER MessageFrame holding an RSM → ``Rsm``; raises ``DecodeError`` otherwise."""
    return Decoder(message_set=message_set).decode(data, received_at_ms=received_at_ms)


def encode(msg: Rsm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Rsm`` → UPER MessageFrame bytes; raises ``EncodeError`` with the field path."""
    return encode_native(("rsmFrame", to_wire(msg)), message_set=message_set)
