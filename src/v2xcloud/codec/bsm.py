"""BSM ⇄ ``model.Bsm``: the one conversion function each way, plus msgspec-style decode/encode.

secMark is resolved to UTC ms against ``reference_ms`` (the capture time or the receive time).
Path-history crumbs are offsets from the current position; their ``timeOffset`` is 10 ms units.
"""

from __future__ import annotations

from typing import Any

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


def _path_history(value: dict[str, Any], pos: dict[str, Any]) -> tuple[PathPoint, ...]:
    history = (value.get("safetyExt") or {}).get("pathHistory")
    if not history:
        return ()
    points = []
    for crumb in history["crumbData"]:
        lat, lon, elevation = u.absolute(crumb["llvOffset"], pos)
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
    mark = sec_mark_ms(value["secMark"])
    pos = value["pos"]
    safety = value.get("safetyExt") or {}
    accuracy = value.get("posAccuracy")
    classification = value["vehicleClass"]["classification"]
    lat, lon = u.position_deg(pos["lat"], pos["long"], "$.pos", _MSG)
    participant = ParticipantState(
        id=value["id"].hex(),
        kind=p.kind_of_class(classification),
        source=ParticipantSource.BSM,
        timestamp_ms=reference_ms if mark is None else utc_ms_from_sec_mark(mark, reference_ms),
        lat_deg=lat,
        lon_deg=lon,
        elevation_m=u.si("elevation", pos.get("elevation")),
        **p.motion(value),
        **p.size(value["size"]),
        vehicle_class=classification,
        transmission=value["transmission"],
        position_accuracy_m=u.si("accuracy", accuracy["semiMajor"]) if accuracy else None,
        brakes=p.brakes(value["brakes"]),
        vehicle_events=u.bits_of(safety.get("events"), p.named_bits("VehicleEventFlags")),
        exterior_lights=u.bits_of(safety.get("lights"), p.named_bits("ExteriorLights")),
        emergency=_emergency(value.get("emergencyExt")),
        path_history=_path_history(value, pos),
    )
    return Bsm(msg_count=value["msgCnt"], sec_mark_ms=mark, participant=participant)


def _safety_to_wire(state: ParticipantState, pos: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.vehicle_events:
        out["events"] = u.bits_from(state.vehicle_events, p.named_bits("VehicleEventFlags"), 13)
    if state.path_history:
        crumbs = []
        for point in state.path_history[:23]:
            offset_ms = point.time_offset_ms
            crumbs.append(
                {
                    "llvOffset": u.offset(point.lat_deg, point.lon_deg, point.elevation_m, pos),
                    "timeOffset": 65535
                    if offset_ms is None
                    else max(1, min(65534, round(offset_ms / 10))),
                }
            )
        out["pathHistory"] = {"crumbData": crumbs}
    if state.exterior_lights:
        out["lights"] = u.bits_from(state.exterior_lights, p.named_bits("ExteriorLights"), 9)
    return out


def _id_bytes(text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise EncodeError(_MSG, f"participant id must be 16 hex digits, got {text!r}", where=where)
    return raw


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
        "speed": u.wire("speed", s.speed_mps, "$.speed", _MSG),
        "heading": u.wire("heading", s.heading_deg, "$.heading", _MSG),
        "accelSet": p.accel_to_wire(s, "$.accelSet", _MSG),
        "brakes": p.brakes_to_wire(s.brakes),
        "size": p.size_to_wire(s, "$.size", _MSG),
        "vehicleClass": {"classification": s.vehicle_class or 0},
    }
    if s.steering_wheel_angle_deg is not None:
        value["angle"] = u.wire("angle", s.steering_wheel_angle_deg, "$.angle", _MSG)
    if s.position_accuracy_m is not None:
        semi = u.wire("accuracy", s.position_accuracy_m, "$.posAccuracy.semiMajor", _MSG)
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
