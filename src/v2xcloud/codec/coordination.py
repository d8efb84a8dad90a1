"""VIR and RSC (T/CSAE 157-2020) ⇄ ``model.day2.Vir`` / ``Rsc``: intentions, requests and the
roadside's coordination, both directions.

Positions absolute in the model (offsets from ``refPos`` on the wire); speeds 0.02 m/s,
headings 0.0125°, ``TimeOffset`` (lifeTime, estimatedTime) 0.01 s with 1..65535 on the wire,
``DDateTime`` (tBegin/tEnd) as UTC ms; ``reqPriority`` keeps 0..7 in its top three bits
(as RSI's priority); bit strings (DriveBehavior, CoordinationInfo) as sets of bit names;
nodes as ``model.NodeId``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from v2xcloud.codec import _participant as p
from v2xcloud.codec import _units as u
from v2xcloud.codec.bsm import sec_mark_ms
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import DAY2_TYPE_NAMES, MessageSet
from v2xcloud.codec.rsi import _description, _description_to_wire
from v2xcloud.codec.spat import node_id, node_id_to_wire
from v2xcloud.errors import EncodeError
from v2xcloud.model import utc_ms_from_sec_mark
from v2xcloud.model.day2 import (
    ClearTheWayRequest,
    DriveRequest,
    LaneChangeRequest,
    LaneCoordination,
    LinkRef,
    PathPoint,
    Rsc,
    SignalPriorityRequest,
    VehicleCoordination,
    Vir,
)
from v2xcloud.model.road import ReferencePath

__all__ = [
    "encode_rsc",
    "encode_vir",
    "rsc_from_wire",
    "rsc_to_wire",
    "vir_from_wire",
    "vir_to_wire",
]

_VIR, _RSC = "VIR", "RSC"
_BEHAVIOR_BITS = 14  # DriveBehavior (SIZE(14, ...))
_INFO_BITS = 8  # CoordinationInfo (SIZE(8, ...))
_LANE_BITS = 16  # ReferenceLanes (SIZE(16))
_TIME_OFFSET_MAX = 65535  # TimeOffset 1..65535, 0.01 s
_STATUSES = ("unknown", "request", "comfirmed", "cancel", "complete")
_TURNS = ("maneuverStraight", "maneuverLeftTurn", "maneuverRightTurn", "maneuverUTurn")


# ---- wire → model ---------------------------------------------------------------------------


def _time_of(value: dict[str, Any], reference_ms: int) -> int:
    mark = sec_mark_ms(value["secMark"])
    return reference_ms if mark is None else utc_ms_from_sec_mark(mark, reference_ms)


def _offset_s(value: int | None) -> float | None:
    return None if value is None else value / 100


def _lanes(value: tuple[bytes, int] | None) -> frozenset[int]:
    names = u.bits_of(value, p.named_bits("ReferenceLanes"))
    return frozenset(int(n[4:]) for n in names if n.startswith("lane"))


def _link(value: dict[str, Any] | None) -> LinkRef | None:
    if value is None:
        return None
    return LinkRef(
        upstream_node=node_id(value["upstreamNodeId"]),
        downstream_node=node_id(value["downstreamNodeId"]),
        lanes=_lanes(value.get("referenceLanes")),
    )


def _path(value: dict[str, Any] | None, ref: dict[str, Any]) -> ReferencePath | None:
    if value is None:
        return None
    return ReferencePath(
        points=tuple(u.absolute(pt, ref)[:2] for pt in value["activePath"]),
        radius_m=value["pathRadius"] / 10,
    )


def _point(value: dict[str, Any], ref: dict[str, Any]) -> PathPoint:
    lat, lon, _ = u.absolute(value["pos"], ref)
    return PathPoint(
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=u.si("speed", value.get("speed")),
        heading_deg=u.si("heading", value.get("heading")),
        time_s=_offset_s(value.get("estimatedTime")),
        link=_link(value.get("posInMap")),
    )


_EARLIEST_UTC_MS = int(dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _utc_ms(value: dict[str, Any] | None, reference_ms: int) -> int | None:
    """A DDateTime → UTC ms; missing year/month/day/hour/minute from ``reference_ms``."""
    if value is None:
        return None
    ref = dt.datetime.fromtimestamp(reference_ms / 1000, tz=dt.UTC)
    offset_min = value.get("offset", 0)
    try:
        t = dt.datetime(
            value.get("year", ref.year),
            value.get("month", ref.month),
            value.get("day", ref.day),
            value.get("hour", ref.hour),
            value.get("minute", ref.minute),
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None  # an impossible date (month 0, day 31 of a 30-day month): no time
    second_ms = value.get("second", 0)
    if second_ms >= 60000:
        second_ms = 0  # DSecond 60000..65535: unavailable
    utc_ms = int(t.timestamp() * 1000) + second_ms - offset_min * 60_000
    if utc_ms < _EARLIEST_UTC_MS:
        return None  # year 1 at a positive offset: an instant before 0001-01-01 UTC, no time
    return utc_ms


def _request(value: dict[str, Any], ref: dict[str, Any], reference_ms: int) -> DriveRequest:
    kind, info = value.get("info", (None, None))
    fields: dict[str, Any] = {}
    if kind == "laneChange":
        fields["lane_change"] = LaneChangeRequest(
            upstream_node=node_id(info["upstreamNode"]),
            downstream_node=node_id(info["downstreamNode"]),
            target_lane=info["targetLane"],
        )
    elif kind == "clearTheWay":
        fields["clear_the_way"] = ClearTheWayRequest(
            upstream_node=node_id(info["upstreamNode"]),
            downstream_node=node_id(info["downstreamNode"]),
            target_lane=info["targetLane"],
            path=_path(info.get("relatedPath"), ref),
            begin_ms=_utc_ms(info.get("tBegin"), reference_ms),
            end_ms=_utc_ms(info.get("tEnd"), reference_ms),
        )
    elif kind == "signalPriority":
        mov = info["requiredMov"]
        distance = info.get("distance2Intersection")
        fields["signal_priority"] = SignalPriorityRequest(
            intersection_id=node_id(info["intersectionId"]),
            remote_node=node_id(mov["remoteIntersection"]),
            phase_id=mov.get("phaseId"),
            turn=mov.get("turn-direction"),
            arrival_s=_offset_s(info.get("estimatedArrivalTime")),
            distance_m=None if distance is None else distance / 10,
        )
    elif kind is not None:
        fields["other_kind"] = kind
    priority = value.get("reqPriority")
    target_veh = value.get("targetVeh")
    target_rsu = value.get("targetRSU")
    return DriveRequest(
        request_id=value["reqID"],
        status=value["status"],
        priority=priority[0] >> 5 if priority else None,
        target_vehicle_id=None if target_veh is None else target_veh.hex(),
        target_rsu_id=None if target_rsu is None else target_rsu.hex(),
        life_time_s=_offset_s(value.get("lifeTime")),
        **fields,
    )


def vir_from_wire(value: dict[str, Any], *, reference_ms: int) -> Vir:
    """VehIntentionAndRequest → ``Vir``."""
    ref = value["refPos"]
    lat, lon = u.position_deg(ref["lat"], ref["long"], "$.msgFrameExt.value.refPos", _VIR)
    iar = value["intAndReq"]
    current = iar.get("currentPos")
    return Vir(
        msg_count=value["msgCnt"],
        sender_id=value["id"].hex(),
        timestamp_ms=_time_of(value, reference_ms),
        ref_lat_deg=lat,
        ref_lon_deg=lon,
        behavior=u.bits_of(iar.get("currentBehavior"), p.named_bits("DriveBehavior")),
        current=None if current is None else _point(current, ref),
        path=tuple(_point(pt, ref) for pt in iar.get("path-Planning", ())),
        requests=tuple(_request(r, ref, reference_ms) for r in iar.get("reqs", ())),
    )


def _coordination(value: dict[str, Any], ref: dict[str, Any]) -> VehicleCoordination:
    suggestion = value.get("driveSuggestion") or {}
    return VehicleCoordination(
        vehicle_id=value["vehId"].hex(),
        suggestion=u.bits_of(suggestion.get("suggestion"), p.named_bits("DriveBehavior")),
        life_time_s=_offset_s(suggestion.get("lifeTime")),
        related_link=_link(suggestion.get("relatedLink")),
        related_path=_path(suggestion.get("relatedPath"), ref),
        path_guidance=tuple(_point(pt, ref) for pt in value.get("pathGuidance", ())),
        info=u.bits_of(value.get("info"), p.named_bits("CoordinationInfo")),
    )


def _lane_coordination(
    value: dict[str, Any], ref: dict[str, Any], reference_ms: int
) -> LaneCoordination:
    target = _link(value["targetLane"])
    assert target is not None
    return LaneCoordination(
        target_lane=target,
        related_path=_path(value.get("relatedPath"), ref),
        begin_ms=_utc_ms(value.get("tBegin"), reference_ms),
        end_ms=_utc_ms(value.get("tEnd"), reference_ms),
        recommended_speed_mps=u.si("speed", value.get("recommendedSpeed")),
        recommended_behavior=u.bits_of(
            value.get("recommendedBehavior"), p.named_bits("DriveBehavior")
        ),
        info=u.bits_of(value.get("info"), p.named_bits("CoordinationInfo")),
        description=_description(value.get("description")),
    )


def rsc_from_wire(value: dict[str, Any], *, reference_ms: int) -> Rsc:
    """RoadsideCoordination → ``Rsc``."""
    ref = value["refPos"]
    lat, lon = u.position_deg(ref["lat"], ref["long"], "$.msgFrameExt.value.refPos", _RSC)
    return Rsc(
        msg_count=value["msgCnt"],
        rsu_id=value["id"].hex(),
        timestamp_ms=_time_of(value, reference_ms),
        ref_lat_deg=lat,
        ref_lon_deg=lon,
        coordinations=tuple(_coordination(c, ref) for c in value.get("coordinates", ())),
        lanes=tuple(
            _lane_coordination(c, ref, reference_ms) for c in value.get("laneCoordinates", ())
        ),
    )


# ---- model → wire ---------------------------------------------------------------------------


def _id8(text: str, where: str, message: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise EncodeError(message, f"id must be 16 hex digits, got {text!r}", where=where)
    return raw


def _offset_to_wire(seconds: float | None, where: str, message: str) -> int:
    assert seconds is not None
    ticks = round(seconds * 100)
    if not 1 <= ticks <= _TIME_OFFSET_MAX:
        raise EncodeError(
            message, f"time offset {seconds} s is outside 0.01..655.35 s", where=where
        )
    return ticks


def _lanes_to_wire(lanes: frozenset[int], where: str, message: str) -> tuple[bytes, int]:
    bad = [n for n in lanes if not 1 <= n <= 15]
    if bad:
        raise EncodeError(message, f"reference lanes {bad} are outside 1..15", where=where)
    return u.bits_from(
        frozenset(f"lane{n}" for n in lanes), p.named_bits("ReferenceLanes"), _LANE_BITS
    )


def _link_to_wire(link: LinkRef, where: str, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "upstreamNodeId": node_id_to_wire(link.upstream_node),
        "downstreamNodeId": node_id_to_wire(link.downstream_node),
    }
    if link.lanes:
        out["referenceLanes"] = _lanes_to_wire(link.lanes, f"{where}.referenceLanes", message)
    return out


def _path_to_wire(
    path: ReferencePath, ref: dict[str, Any], where: str, message: str
) -> dict[str, Any]:
    return {
        "activePath": [u.offset(lat, lon, None, ref) for lat, lon in path.points],
        "pathRadius": u.wire("radius", path.radius_m, f"{where}.pathRadius", message),
    }


def _point_to_wire(pt: PathPoint, ref: dict[str, Any], where: str, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pt.link is not None:
        out["posInMap"] = _link_to_wire(pt.link, f"{where}.posInMap", message)
    out["pos"] = u.offset(pt.lat_deg, pt.lon_deg, None, ref)
    if pt.speed_mps is not None:
        out["speed"] = u.wire("speed", pt.speed_mps, f"{where}.speed", message)
    if pt.heading_deg is not None:
        out["heading"] = u.wire("heading", pt.heading_deg, f"{where}.heading", message)
    if pt.time_s is not None:
        out["estimatedTime"] = _offset_to_wire(pt.time_s, f"{where}.estimatedTime", message)
    return out


def _ddatetime(utc_ms: int) -> dict[str, Any]:
    t = dt.datetime.fromtimestamp(utc_ms // 1000, tz=dt.UTC)
    return {
        "year": t.year,
        "month": t.month,
        "day": t.day,
        "hour": t.hour,
        "minute": t.minute,
        "second": t.second * 1000 + utc_ms % 1000,
        "offset": 0,
    }


def _behavior(names: frozenset[str], where: str, message: str) -> tuple[bytes, int]:
    return _bits(names, "DriveBehavior", _BEHAVIOR_BITS, where, message)


def _bits(
    names: frozenset[str], type_name: str, length: int, where: str, message: str
) -> tuple[bytes, int]:
    named = p.named_bits(type_name)
    unknown = sorted(names - {n for n, _ in named})
    if unknown:
        raise EncodeError(message, f"{type_name} has no bit named {unknown}", where=where)
    return u.bits_from(names, named, length)


def _sec_mark(timestamp_ms: int) -> int:
    return timestamp_ms % 60_000


def _request_to_wire(r: DriveRequest, ref: dict[str, Any], where: str) -> dict[str, Any]:
    if r.status not in _STATUSES:
        raise EncodeError(_VIR, f"status {r.status!r} is not one of {_STATUSES}", where=where)
    out: dict[str, Any] = {"reqID": r.request_id, "status": r.status}
    if not 0 <= r.request_id <= 255:
        raise EncodeError(_VIR, f"request id {r.request_id} is outside 0..255", where=where)
    if r.priority is not None:
        if not 0 <= r.priority <= 7:
            raise EncodeError(_VIR, f"priority {r.priority} is outside 0..7", where=where)
        out["reqPriority"] = bytes([r.priority << 5])
    if r.target_vehicle_id is not None:
        out["targetVeh"] = _id8(r.target_vehicle_id, f"{where}.targetVeh", _VIR)
    if r.target_rsu_id is not None:
        out["targetRSU"] = _id8(r.target_rsu_id, f"{where}.targetRSU", _VIR)
    kinds = [k for k in (r.lane_change, r.clear_the_way, r.signal_priority) if k is not None]
    if len(kinds) > 1:
        raise EncodeError(_VIR, "a request carries at most one kind of info", where=where)
    if r.lane_change is not None:
        lc = r.lane_change
        out["info"] = (
            "laneChange",
            {
                "upstreamNode": node_id_to_wire(lc.upstream_node),
                "downstreamNode": node_id_to_wire(lc.downstream_node),
                "targetLane": lc.target_lane,
            },
        )
    elif r.clear_the_way is not None:
        cw = r.clear_the_way
        info: dict[str, Any] = {
            "upstreamNode": node_id_to_wire(cw.upstream_node),
            "downstreamNode": node_id_to_wire(cw.downstream_node),
            "targetLane": cw.target_lane,
        }
        if cw.path is not None:
            info["relatedPath"] = _path_to_wire(cw.path, ref, f"{where}.info.relatedPath", _VIR)
        if cw.begin_ms is not None:
            info["tBegin"] = _ddatetime(cw.begin_ms)
        if cw.end_ms is not None:
            info["tEnd"] = _ddatetime(cw.end_ms)
        out["info"] = ("clearTheWay", info)
    elif r.signal_priority is not None:
        sp = r.signal_priority
        mov: dict[str, Any] = {"remoteIntersection": node_id_to_wire(sp.remote_node)}
        if sp.phase_id is not None:
            mov["phaseId"] = sp.phase_id
        if sp.turn is not None:
            if sp.turn not in _TURNS:
                raise EncodeError(_VIR, f"turn {sp.turn!r} is not one of {_TURNS}", where=where)
            mov["turn-direction"] = sp.turn
        info = {"intersectionId": node_id_to_wire(sp.intersection_id), "requiredMov": mov}
        if sp.arrival_s is not None:
            info["estimatedArrivalTime"] = _offset_to_wire(
                sp.arrival_s, f"{where}.info.estimatedArrivalTime", _VIR
            )
        if sp.distance_m is not None:
            info["distance2Intersection"] = min(10000, max(0, round(sp.distance_m * 10)))
        out["info"] = ("signalPriority", info)
    elif r.other_kind is not None:
        raise EncodeError(
            _VIR,
            f"a {r.other_kind!r} request's content is not modelled; cannot send it",
            where=where,
        )
    if r.life_time_s is not None:
        out["lifeTime"] = _offset_to_wire(r.life_time_s, f"{where}.lifeTime", _VIR)
    return out


def vir_to_wire(msg: Vir) -> dict[str, Any]:
    """``Vir`` → VehIntentionAndRequest native value; raises ``EncodeError`` with the path."""
    ref = u.position3d(msg.ref_lat_deg, msg.ref_lon_deg, None, "$.refPos", _VIR)
    iar: dict[str, Any] = {}
    if msg.current is not None:
        iar["currentPos"] = _point_to_wire(msg.current, ref, "$.intAndReq.currentPos", _VIR)
    if msg.path:
        if len(msg.path) > 100:
            raise EncodeError(_VIR, "a planned path has at most 100 points", where="$.intAndReq")
        iar["path-Planning"] = [
            _point_to_wire(pt, ref, f"$.intAndReq.path-Planning[{i}]", _VIR)
            for i, pt in enumerate(msg.path)
        ]
    if msg.behavior:
        iar["currentBehavior"] = _behavior(msg.behavior, "$.intAndReq.currentBehavior", _VIR)
    if msg.requests:
        if len(msg.requests) > 8:
            raise EncodeError(_VIR, "a VIR carries at most 8 requests", where="$.intAndReq.reqs")
        iar["reqs"] = [
            _request_to_wire(r, ref, f"$.intAndReq.reqs[{i}]") for i, r in enumerate(msg.requests)
        ]
    return {
        "msgCnt": msg.msg_count % 128,
        "id": _id8(msg.sender_id, "$.id", _VIR),
        "secMark": _sec_mark(msg.timestamp_ms),
        "refPos": ref,
        "intAndReq": iar,
    }


def _coordination_to_wire(
    c: VehicleCoordination, ref: dict[str, Any], where: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"vehId": _id8(c.vehicle_id, f"{where}.vehId", _RSC)}
    if c.suggestion or c.life_time_s is not None or c.related_link or c.related_path:
        s: dict[str, Any] = {
            "suggestion": _behavior(c.suggestion, f"{where}.driveSuggestion.suggestion", _RSC)
        }
        if c.life_time_s is not None:
            s["lifeTime"] = _offset_to_wire(
                c.life_time_s, f"{where}.driveSuggestion.lifeTime", _RSC
            )
        if c.related_link is not None:
            s["relatedLink"] = _link_to_wire(
                c.related_link, f"{where}.driveSuggestion.relatedLink", _RSC
            )
        if c.related_path is not None:
            s["relatedPath"] = _path_to_wire(
                c.related_path, ref, f"{where}.driveSuggestion.relatedPath", _RSC
            )
        out["driveSuggestion"] = s
    if c.path_guidance:
        if len(c.path_guidance) > 100:
            raise EncodeError(_RSC, "a path guidance has at most 100 points", where=where)
        out["pathGuidance"] = [
            _point_to_wire(pt, ref, f"{where}.pathGuidance[{i}]", _RSC)
            for i, pt in enumerate(c.path_guidance)
        ]
    if c.info:
        out["info"] = _bits(c.info, "CoordinationInfo", _INFO_BITS, f"{where}.info", _RSC)
    return out


def _lane_coordination_to_wire(
    c: LaneCoordination, ref: dict[str, Any], where: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"targetLane": _link_to_wire(c.target_lane, f"{where}.targetLane", _RSC)}
    if c.related_path is not None:
        out["relatedPath"] = _path_to_wire(c.related_path, ref, f"{where}.relatedPath", _RSC)
    if c.begin_ms is not None:
        out["tBegin"] = _ddatetime(c.begin_ms)
    if c.end_ms is not None:
        out["tEnd"] = _ddatetime(c.end_ms)
    if c.recommended_speed_mps is not None:
        out["recommendedSpeed"] = u.wire(
            "speed", c.recommended_speed_mps, f"{where}.recommendedSpeed", _RSC
        )
    if c.recommended_behavior:
        out["recommendedBehavior"] = _behavior(
            c.recommended_behavior, f"{where}.recommendedBehavior", _RSC
        )
    if c.info:
        out["info"] = _bits(c.info, "CoordinationInfo", _INFO_BITS, f"{where}.info", _RSC)
    if c.description:
        out["description"] = _description_to_wire(c.description)
    return out


def rsc_to_wire(msg: Rsc) -> dict[str, Any]:
    """``Rsc`` → RoadsideCoordination native value; raises ``EncodeError`` with the path."""
    ref = u.position3d(msg.ref_lat_deg, msg.ref_lon_deg, None, "$.refPos", _RSC)
    out: dict[str, Any] = {
        "msgCnt": msg.msg_count % 128,
        "id": _id8(msg.rsu_id, "$.id", _RSC),
        "secMark": _sec_mark(msg.timestamp_ms),
        "refPos": ref,
    }
    if msg.coordinations:
        if len(msg.coordinations) > 16:
            raise EncodeError(_RSC, "an RSC coordinates at most 16 vehicles", where="$.coordinates")
        out["coordinates"] = [
            _coordination_to_wire(c, ref, f"$.coordinates[{i}]")
            for i, c in enumerate(msg.coordinations)
        ]
    if msg.lanes:
        if len(msg.lanes) > 8:
            raise EncodeError(_RSC, "an RSC carries at most 8 lane coordinations", where="$")
        out["laneCoordinates"] = [
            _lane_coordination_to_wire(c, ref, f"$.laneCoordinates[{i}]")
            for i, c in enumerate(msg.lanes)
        ]
    return out


def _frame(message: str, value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return ("msgFrameExt", {"messageId": DAY2_TYPE_NAMES[message], "value": value})


def encode_vir(msg: Vir, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Vir`` → UPER MessageFrame (msgFrameExt, messageId 13); raises ``EncodeError``."""
    return encode_native(_frame(_VIR, vir_to_wire(msg)), message_set=message_set)


def encode_rsc(msg: Rsc, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Rsc`` → UPER MessageFrame (msgFrameExt, messageId 11); raises ``EncodeError``."""
    return encode_native(_frame(_RSC, rsc_to_wire(msg)), message_set=message_set)
