"""Day-2 (T/CSAE 157-2020) messages → their SI models in ``model.day2``.

One conversion function per message. PSM → ``Psm`` (its person as a ParticipantState of kind
pedestrian/cyclist), SSM → ``Ssm`` (detected participants as ParticipantStates, positions
absolute from the sensor position); VIR and RSC in full (``codec.coordination``, both
directions); PAM, CLPMM, VPM, RTCM, TestMsg → key fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from v2xcloud.codec import _participant as p
from v2xcloud.codec import _time
from v2xcloud.codec import _units as u
from v2xcloud.codec.bsm import sec_mark_ms
from v2xcloud.codec.coordination import rsc_from_wire, vir_from_wire
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import DAY2_TYPE_NAMES, MessageSet
from v2xcloud.codec.payment import vpm_from_wire
from v2xcloud.codec.rsm import _participant as rsm_participant
from v2xcloud.errors import EncodeError
from v2xcloud.model import (
    ParticipantKind,
    ParticipantSource,
    ParticipantState,
    utc_ms_from_sec_mark,
)
from v2xcloud.model.day2 import Clpmm, Pam, Psm, Rtcm, Ssm, TestMessage

__all__ = ["CONVERTERS", "encode_psm", "psm_from_wire", "psm_to_wire", "ssm_from_wire"]

_USER_KINDS = {"aPEDALCYCLIST": ParticipantKind.CYCLIST, "anANIMAL": ParticipantKind.UNKNOWN}


def _time_of(value: dict[str, Any], reference_ms: int) -> int:
    mark = sec_mark_ms(value["secMark"])
    return reference_ms if mark is None else utc_ms_from_sec_mark(mark, reference_ms)


def _lat_lon(pos: dict[str, Any]) -> tuple[float, float]:
    return u.position_deg(pos["lat"], pos["long"], "$.msgFrameExt.value", "Day-2")


def psm_from_wire(value: dict[str, Any], *, reference_ms: int) -> Psm:
    """PersonalSafetyMessage → ``Psm``."""
    lat, lon = _lat_lon(value["pos"])
    user_type = value["non-motorData"]["basicType"]
    person = ParticipantState(
        id=value["id"].hex(),
        kind=_USER_KINDS.get(user_type, ParticipantKind.PEDESTRIAN),
        source=ParticipantSource.PSM,
        timestamp_ms=_time_of(value, reference_ms),
        lat_deg=lat,
        lon_deg=lon,
        elevation_m=u.si("elevation", value["pos"].get("elevation")),
        **p.motion(value),
        position_accuracy_m=u.si("accuracy", value["posAccuracy"]["semiMajor"]),
    )
    return Psm(
        msg_count=value["msgCnt"],
        participant=person,
        user_type=user_type,
        overall_radius_m=value["overallRadius"] / 10,
        cluster_size=value["non-motorData"].get("clusterSize"),
    )


_PSM = "PSM"
_SPEED_W, _HEADING_W = u.WIRE["speed"], u.WIRE["heading"]
_ACCURACY_W = u.WIRE["accuracy"]


def psm_to_wire(msg: Psm) -> dict[str, Any]:
    """``Psm`` → PersonalSafetyMessage native value, rounded to the wire resolution; raises
    ``EncodeError`` naming the field (an id that is not 8 bytes of hex, a radius past 20 m)."""
    s = msg.participant
    try:
        pid = bytes.fromhex(s.id)
    except ValueError:
        pid = b""
    if len(pid) != 8:
        raise EncodeError(_PSM, f"id must be 16 hex digits, got {s.id!r}", where="$.id")
    radius = round(msg.overall_radius_m * 10)
    if not 0 <= radius <= 200:
        raise EncodeError(
            _PSM,
            f"overall radius {msg.overall_radius_m} m outside 0..20 m",
            where="$.overallRadius",
        )
    semi = _ACCURACY_W(s.position_accuracy_m, "$.posAccuracy.semiMajor", _PSM)
    person: dict[str, Any] = {"basicType": msg.user_type}
    if msg.cluster_size is not None:
        person["clusterSize"] = msg.cluster_size
    return {
        "msgCnt": msg.msg_count,
        "id": pid,
        "secMark": s.timestamp_ms % 60000,
        "pos": u.position3d(s.lat_deg, s.lon_deg, s.elevation_m, "$.pos", _PSM),
        "posAccuracy": {"semiMajor": semi, "semiMinor": semi, "orientation": 65535},
        "speed": _SPEED_W(s.speed_mps, "$.speed", _PSM),
        "heading": _HEADING_W(s.heading_deg, "$.heading", _PSM),
        "overallRadius": radius,
        "non-motorData": person,
    }


def encode_psm(msg: Psm, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Psm`` → UPER MessageFrame (msgFrameExt, messageId 15); raises ``EncodeError``."""
    value = {"messageId": DAY2_TYPE_NAMES[_PSM], "value": psm_to_wire(msg)}
    return encode_native(("msgFrameExt", value), message_set=message_set)


def ssm_from_wire(value: dict[str, Any], *, reference_ms: int) -> Ssm:
    """SensorSharingMsg → ``Ssm``; each detected participant becomes a ParticipantState."""
    sender = value["id"].hex()
    ref = value["sensorPos"]
    participants = tuple(
        _as_ssm(rsm_participant(d["ptc"], ref, sender, reference_ms))
        for d in value.get("participants", ())
    )
    lat, lon = _lat_lon(ref)
    return Ssm(
        msg_count=value["msgCnt"],
        sender_id=sender,
        equipment_type=value["equipmentType"],
        timestamp_ms=_time_of(value, reference_ms),
        sensor_lat_deg=lat,
        sensor_lon_deg=lon,
        participants=participants,
        obstacle_count=len(value.get("obstacles", ())),
        event_count=len(value.get("rtes", ())),
    )


def _as_ssm(state: ParticipantState) -> ParticipantState:
    return msgspec.structs.replace(state, source=ParticipantSource.SSM)


def pam_from_wire(value: dict[str, Any], *, reference_ms: int) -> Pam:
    """PAMData → ``Pam``."""
    lot = value["parkingLotInfo"]
    return Pam(
        msg_count=value["msgCnt"],
        timestamp_ms=_time.utc_ms(value.get("timeStamp"), None, reference_ms),
        lot_id=lot.get("id"),
        lot_name=lot.get("name"),
        node_count=len(value["pamNodes"]),
        guide_count=len(value.get("parkingAreaGuidance", ())),
    )


def clpmm_from_wire(value: dict[str, Any], *, reference_ms: int) -> Clpmm:
    """CLPMM → ``Clpmm``."""
    members = (value.get("leadingExt") or {}).get("memberList", ())
    return Clpmm(
        msg_count=value["msgCnt"],
        sender_id=value["id"].hex(),
        timestamp_ms=_time_of(value, reference_ms),
        platoon_id=value["pid"].hex(),
        role=value["role"],
        status=value["status"],
        member_ids=tuple(m["vid"].hex() for m in members),
    )


def rtcm_from_wire(value: dict[str, Any], *, reference_ms: int) -> Rtcm:
    """RTCMcorrections → ``Rtcm``."""
    return Rtcm(
        msg_count=value["msgCnt"], payloads=tuple(bytes(c["payload"]) for c in value["corrections"])
    )


def testmsg_from_wire(value: dict[str, Any], *, reference_ms: int) -> TestMessage:
    """TestMsg → ``TestMessage``."""
    return TestMessage(msg_count=value["msgCnt"], user_data=bytes(value["userData"]))


CONVERTERS: dict[str, Callable[..., Any]] = {
    "PSM": psm_from_wire,
    "SSM": ssm_from_wire,
    "VIR": vir_from_wire,
    "RSC": rsc_from_wire,
    "PAM": pam_from_wire,
    "CLPMM": clpmm_from_wire,
    "VPM": vpm_from_wire,
    "RTCM": rtcm_from_wire,
    "TestMsg": testmsg_from_wire,
}
