"""SSM (T/CSAE 157-2020 sensor sharing) ``model.day2.Ssm`` → wire: what the platform shares of
the road's perception with a vehicle.

Each shared road user is a ``DetectedPTCData`` whose ``ptc`` is the Day-1 ``ParticipantData``
(as in an RSM: position as an offset from ``sensorPos``, speed, heading, size; ``ptcId`` from
the id's ``/<n>`` tail). The decoding direction is ``codec.day2.ssm_from_wire``.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import _units as u
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import DAY2_TYPE_NAMES, MessageSet
from v2xcloud.codec.rsm import _object_to_wire
from v2xcloud.errors import EncodeError
from v2xcloud.model import ParticipantKind
from v2xcloud.model.day2 import Ssm

__all__ = ["encode_ssm", "ssm_to_wire"]

_MSG = "SSM"
_MAX_OBJECTS = 16  # what we send per SSM (the schema allows 512; one vehicle needs few)
_EQUIPMENT = ("unknown", "rsu", "obu", "vru")
_DETECTED_TYPE = {
    ParticipantKind.VEHICLE: "car",
    ParticipantKind.PEDESTRIAN: "pedestrian",
    ParticipantKind.CYCLIST: "cyclist",
}


def ssm_to_wire(msg: Ssm) -> dict[str, Any]:
    """``Ssm`` → SensorSharingMsg native value, rounded to the wire resolution.

    Raises ``EncodeError`` with the field path: a sender id that is not 16 hex digits, an
    unknown equipment type, more than 16 participants, a value out of the wire's range.
    """
    try:
        sender = bytes.fromhex(msg.sender_id)
    except ValueError:
        sender = b""
    if len(sender) != 8:
        raise EncodeError(
            _MSG, f"sender_id must be 16 hex digits, got {msg.sender_id!r}", where="$.id"
        )
    if msg.equipment_type not in _EQUIPMENT:
        raise EncodeError(
            _MSG, f"equipment_type must be one of {_EQUIPMENT}, got {msg.equipment_type!r}",
            where="$.equipmentType",
        )  # fmt: skip
    if len(msg.participants) > _MAX_OBJECTS:
        raise EncodeError(
            _MSG, f"at most {_MAX_OBJECTS} participants, got {len(msg.participants)}",
            where="$.participants",
        )  # fmt: skip
    ref = u.position3d(msg.sensor_lat_deg, msg.sensor_lon_deg, None, "$.sensorPos", _MSG)
    out: dict[str, Any] = {
        "msgCnt": msg.msg_count % 128,
        "id": sender,
        "equipmentType": msg.equipment_type,
        "secMark": msg.timestamp_ms % 60000,
        "sensorPos": ref,
    }
    if msg.participants:
        out["participants"] = [_detected(s, k, ref) for k, s in enumerate(msg.participants)]
    return out


def _detected(state: Any, index: int, ref: dict[str, Any]) -> dict[str, Any]:
    ptc = _object_to_wire(state, index, ref)
    out: dict[str, Any] = {"ptc": ptc}
    kind = _DETECTED_TYPE.get(state.kind)
    if kind is not None:
        out["detectedPTCType"] = kind
    return out


def encode_ssm(msg: Ssm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Ssm`` → UPER MessageFrame (msgFrameExt, messageId 12); raises ``EncodeError``."""
    value = ("msgFrameExt", {"messageId": DAY2_TYPE_NAMES[_MSG], "value": ssm_to_wire(msg)})
    return encode_native(value, message_set=message_set)
