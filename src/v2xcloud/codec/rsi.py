"""RSI ⇄ ``model.Rsi``: road events (rtes) and traffic signs (rtss), positions absolute.

Units: radii 0.1 m, priority = the top three bits of ``RSIPriority`` (0 lowest .. 7 highest),
confidence 0.5 % steps → 0..1, times are minutes of the year in the reference's year.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import _time
from v2xcloud.codec import _units as u
from v2xcloud.codec._single import decoder_class
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.errors import EncodeError
from v2xcloud.model import RoadEvent, RoadSign, Rsi
from v2xcloud.model.road import ReferencePath

__all__ = ["Decoder", "decode", "encode", "from_wire", "to_wire"]

_MSG = "RSI"


def _description(value: tuple[str, Any] | None) -> str | None:
    if value is None:
        return None
    kind, text = value
    return text if kind == "textString" else bytes(text).decode("gb2312", errors="replace")


def _paths(value: list[dict[str, Any]] | None, ref: dict[str, Any]) -> tuple[ReferencePath, ...]:
    return tuple(
        ReferencePath(
            points=tuple(u.absolute(pt, ref)[:2] for pt in path["activePath"]),
            radius_m=path["pathRadius"] / 10,
        )
        for path in value or ()
    )


def _common(
    item: dict[str, Any], pos_key: str, ref: dict[str, Any], reference_ms: int
) -> dict[str, Any]:
    lat = lon = None
    if pos_key in item:
        lat, lon, _ = u.absolute(item[pos_key], ref)
    times = item.get("timeDetails") or {}
    priority = item.get("priority")
    return {
        "lat_deg": lat,
        "lon_deg": lon,
        "description": _description(item.get("description")),
        "start_ms": _time.utc_ms(times.get("startTime"), None, reference_ms),
        "end_ms": _time.utc_ms(times.get("endTime"), None, reference_ms),
        "priority": priority[0] >> 5 if priority else None,
        "reference_paths": _paths(item.get("referencePaths"), ref),
    }


def from_wire(value: dict[str, Any], *, reference_ms: int) -> Rsi:
    """The RSI native value → ``Rsi`` in SI units."""
    ref = value["refPos"]
    ref_lat, ref_lon = u.position_deg(ref["lat"], ref["long"], "$.refPos", _MSG)
    events = tuple(
        RoadEvent(
            event_id=e["rteId"],
            event_type=e["eventType"],
            source=e["eventSource"],
            radius_m=e["eventRadius"] / 10 if "eventRadius" in e else None,
            confidence=e["eventConfidence"] / 200 if "eventConfidence" in e else None,
            **_common(e, "eventPos", ref, reference_ms),
        )
        for e in value.get("rtes", ())
    )
    signs = tuple(
        RoadSign(
            sign_id=s["rtsId"], sign_type=s["signType"], **_common(s, "signPos", ref, reference_ms)
        )
        for s in value.get("rtss", ())
    )
    return Rsi(
        msg_count=value["msgCnt"],
        rsu_id=value["id"].hex(),
        ref_lat_deg=ref_lat,
        ref_lon_deg=ref_lon,
        ref_elevation_m=u.si("elevation", ref.get("elevation")),
        timestamp_ms=_time.utc_ms(value.get("moy"), None, reference_ms),
        events=events,
        signs=signs,
    )


def _description_to_wire(text: str) -> tuple[str, Any]:
    if text.isascii():
        return "textString", text
    return "textGB2312", text.encode("gb2312", errors="replace")


def _common_to_wire(
    item: RoadEvent | RoadSign, pos_key: str, ref: dict[str, Any], where: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.lat_deg is not None and item.lon_deg is not None:
        out[pos_key] = u.offset(item.lat_deg, item.lon_deg, None, ref)
    if item.description:
        out["description"] = _description_to_wire(item.description)
    times = {}
    if item.start_ms is not None:
        times["startTime"] = _time.moy_and_mark(item.start_ms)[0]
    if item.end_ms is not None:
        times["endTime"] = _time.moy_and_mark(item.end_ms)[0]
    if times:
        out["timeDetails"] = times
    if item.priority is not None:
        if not 0 <= item.priority <= 7:
            raise EncodeError(
                _MSG, f"priority {item.priority} is outside 0..7", where=f"{where}.priority"
            )
        out["priority"] = bytes([item.priority << 5])
    if item.reference_paths:
        out["referencePaths"] = [
            {
                "activePath": [u.offset(lat, lon, None, ref) for lat, lon in path.points],
                "pathRadius": u.wire(
                    "radius", path.radius_m, f"{where}.referencePaths[{i}].pathRadius", _MSG
                ),
            }
            for i, path in enumerate(item.reference_paths)
        ]
    return out


def _event_to_wire(e: RoadEvent, ref: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"rteId": e.event_id, "eventType": e.event_type, "eventSource": e.source}
    if e.radius_m is not None:
        out["eventRadius"] = u.wire("radius", e.radius_m, f"{where}.eventRadius", _MSG)
    if e.confidence is not None:
        out["eventConfidence"] = round(e.confidence * 200)
    out.update(_common_to_wire(e, "eventPos", ref, where))
    return out


def to_wire(msg: Rsi) -> dict[str, Any]:
    """``Rsi`` → RSI native value, rounded to the wire resolution; raises EncodeError."""
    ref = u.position3d(msg.ref_lat_deg, msg.ref_lon_deg, msg.ref_elevation_m, "$.refPos", _MSG)
    try:
        rsu_id = bytes.fromhex(msg.rsu_id)
    except ValueError:
        rsu_id = b""
    if len(rsu_id) != 8:
        raise EncodeError(_MSG, f"rsu_id must be 16 hex digits, got {msg.rsu_id!r}", where="$.id")
    out: dict[str, Any] = {"msgCnt": msg.msg_count, "id": rsu_id, "refPos": ref}
    if msg.timestamp_ms is not None:
        out["moy"] = _time.moy_and_mark(msg.timestamp_ms)[0]
    if msg.events:
        out["rtes"] = [_event_to_wire(e, ref, f"$.rtes[{i}]") for i, e in enumerate(msg.events)]
    if msg.signs:
        out["rtss"] = [
            {
                "rtsId": s.sign_id,
                "signType": s.sign_type,
                **_common_to_wire(s, "signPos", ref, f"$.rtss[{i}]"),
            }
            for i, s in enumerate(msg.signs)
        ]
    return out


Decoder = decoder_class(_MSG, from_wire)


def decode(
    data: bytes, *, message_set: MessageSet = MessageSet.CSAE2020, received_at_ms: int = 0
) -> Rsi:
    """UPER MessageFrame holding an RSI → ``Rsi``; raises ``DecodeError`` otherwise."""
    return Decoder(message_set=message_set).decode(data, received_at_ms=received_at_ms)


def encode(msg: Rsi, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Rsi`` → UPER MessageFrame bytes; raises ``EncodeError`` with the field path."""
    return encode_native(("rsiFrame", to_wire(msg)), message_set=message_set)
