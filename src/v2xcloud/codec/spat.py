"""SPAT ⇄ ``model.Spat``: signal phases with timing in seconds relative to the SPAT's time.

Counting-down timing (TimeMark, 0.1 s) is already relative. UTC timing (TimeMark = 0.1 s
within the hour) is made relative to the intersection's (or the message's) own time.
"""

from __future__ import annotations

from typing import Any

from v2xcloud.codec import _participant as p
from v2xcloud.codec import _time
from v2xcloud.codec import _units as u
from v2xcloud.codec._single import decoder_class
from v2xcloud.codec.frame import encode_native
from v2xcloud.codec.message_set import MessageSet
from v2xcloud.model import (
    IntersectionState,
    LightState,
    NodeId,
    PhaseState,
    SignalPhase,
    Spat,
)

__all__ = ["Decoder", "decode", "encode", "from_wire", "node_id", "node_id_to_wire", "to_wire"]

_MSG = "SPAT"
_HOUR_MS = 3_600_000
_COUNTING = (
    "startTime",
    "minEndTime",
    "maxEndTime",
    "likelyEndTime",
    "nextStartTime",
    "nextDuration",
)
_UTC = (
    "startUTCTime",
    "minEndUTCTime",
    "maxEndUTCTime",
    "likelyEndUTCTime",
    "nextStartUTCTime",
    "nextEndUTCTime",
)
_FIELDS = ("start_s", "min_end_s", "max_end_s", "likely_end_s", "next_start_s", "next_duration_s")


def node_id(value: dict[str, Any]) -> NodeId:
    """NodeReferenceID → NodeId."""
    return NodeId(region=value.get("region"), id=value["id"])


def node_id_to_wire(node: NodeId) -> dict[str, Any]:
    """NodeId → NodeReferenceID."""
    out = {"id": node.id}
    if node.region is not None:
        out["region"] = node.region
    return out


def _utc_relative(mark: int | None, now_ms: int) -> float | None:
    if mark is None or mark >= 36000:
        return None
    return ((mark * 100 - now_ms % _HOUR_MS) % _HOUR_MS) / 1000


_TIMEMARK = u.SI["timemark"]
_LIGHTS = {light.value: light for light in LightState}
_UNAVAILABLE = LightState.UNAVAILABLE  # an Enum member read off its class costs a property call
_LIGHT_NAMES = {light: light.value for light in LightState}  # faster than the .value property


def _counting(light: LightState, t: dict[str, Any]) -> PhaseState:
    get = t.get
    return PhaseState(
        light=light,
        start_s=_TIMEMARK(get("startTime")),
        min_end_s=_TIMEMARK(get("minEndTime")),
        max_end_s=_TIMEMARK(get("maxEndTime")),
        likely_end_s=_TIMEMARK(get("likelyEndTime")),
        time_confidence=get("timeConfidence"),
        next_start_s=_TIMEMARK(get("nextStartTime")),
        next_duration_s=_TIMEMARK(get("nextDuration")),
    )


def _utc(light: LightState, t: dict[str, Any], now_ms: int) -> PhaseState:
    get = t.get
    next_start_s = _utc_relative(get("nextStartUTCTime"), now_ms)
    next_end_s = _utc_relative(get("nextEndUTCTime"), now_ms)
    return PhaseState(
        light=light,
        start_s=_utc_relative(get("startUTCTime"), now_ms),
        min_end_s=_utc_relative(get("minEndUTCTime"), now_ms),
        max_end_s=_utc_relative(get("maxEndUTCTime"), now_ms),
        likely_end_s=_utc_relative(get("likelyEndUTCTime"), now_ms),
        time_confidence=get("timeConfidence"),
        next_start_s=next_start_s,
        next_duration_s=next_end_s - next_start_s
        if next_start_s is not None and next_end_s is not None
        else next_end_s,
    )


def _phase_state(state: dict[str, Any], now_ms: int) -> PhaseState:
    name = state["light"]
    light = _UNAVAILABLE if name is None else _LIGHTS.get(name) or LightState(name)
    timing = state.get("timing")
    if timing is None:
        return PhaseState(light=light)
    kind, t = timing
    if kind == "counting":
        return _counting(light, t)
    return _utc(light, t, now_ms)


_STATUS = p.flags("IntersectionStatusObject")


def _intersection(value: dict[str, Any], default_ms: int, reference_ms: int) -> IntersectionState:
    own_ms = _time.utc_ms(value.get("moy"), value.get("timeStamp"), reference_ms)
    now_ms = own_ms if own_ms is not None else default_ms
    phases = tuple(
        SignalPhase(
            phase_id=ph["id"], states=tuple(_phase_state(s, now_ms) for s in ph["phaseStates"])
        )
        for ph in value["phases"]
    )
    return IntersectionState(
        node=node_id(value["intersectionId"]),
        status=_STATUS.names(value["status"]),
        timestamp_ms=own_ms,
        phases=phases,
    )


def from_wire(value: dict[str, Any], *, reference_ms: int) -> Spat:
    """The SPAT native value → ``Spat`` in SI units."""
    ts = _time.utc_ms(value.get("moy"), value.get("timeStamp"), reference_ms)
    default_ms = ts if ts is not None else reference_ms
    return Spat(
        msg_count=value["msgCnt"],
        intersections=tuple(
            _intersection(i, default_ms, reference_ms) for i in value["intersections"]
        ),
        timestamp_ms=ts,
        name=value.get("name"),
    )


_TIMEMARK_W = u.WIRE["timemark"]


def _timing_to_wire(state: PhaseState, where: str) -> dict[str, Any] | None:
    if state.start_s is None and state.likely_end_s is None:
        return None
    # startTime and likelyEndTime are required: None becomes the 'unavailable' TimeMark
    out: dict[str, Any] = {"startTime": _TIMEMARK_W(state.start_s, where, _MSG, ".startTime")}
    if state.min_end_s is not None:
        out["minEndTime"] = _TIMEMARK_W(state.min_end_s, where, _MSG, ".minEndTime")
    if state.max_end_s is not None:
        out["maxEndTime"] = _TIMEMARK_W(state.max_end_s, where, _MSG, ".maxEndTime")
    out["likelyEndTime"] = _TIMEMARK_W(state.likely_end_s, where, _MSG, ".likelyEndTime")
    if state.next_start_s is not None:
        out["nextStartTime"] = _TIMEMARK_W(state.next_start_s, where, _MSG, ".nextStartTime")
    if state.next_duration_s is not None:
        out["nextDuration"] = _TIMEMARK_W(state.next_duration_s, where, _MSG, ".nextDuration")
    if state.time_confidence is not None:
        out["timeConfidence"] = state.time_confidence
    return out


def _phase_to_wire(phase: SignalPhase, where: str) -> dict[str, Any]:
    states = []
    for m, s in enumerate(phase.states):
        wire_state: dict[str, Any] = {"light": _LIGHT_NAMES[s.light]}
        if s.start_s is not None or s.likely_end_s is not None:
            timing = _timing_to_wire(s, f"{where}.phaseStates[{m}].timing")
            wire_state["timing"] = ("counting", timing)
        states.append(wire_state)
    return {"id": phase.phase_id, "phaseStates": states}


def _intersection_to_wire(i: IntersectionState, n: int) -> dict[str, Any]:
    where = f"$.intersections[{n}]"
    phases = [_phase_to_wire(ph, f"{where}.phases[{k}]") for k, ph in enumerate(i.phases)]
    out: dict[str, Any] = {
        "intersectionId": node_id_to_wire(i.node),
        "status": _STATUS.to_wire(i.status, 16),
        "phases": phases,
    }
    if i.timestamp_ms is not None:
        out["moy"], out["timeStamp"] = _time.moy_and_mark(i.timestamp_ms)
    return out


def to_wire(msg: Spat) -> dict[str, Any]:
    """``Spat`` → SPAT native value (counting-down timing); raises EncodeError."""
    out: dict[str, Any] = {
        "msgCnt": msg.msg_count,
        "intersections": [_intersection_to_wire(i, n) for n, i in enumerate(msg.intersections)],
    }
    if msg.timestamp_ms is not None:
        out["moy"], out["timeStamp"] = _time.moy_and_mark(msg.timestamp_ms)
    if msg.name:
        out["name"] = msg.name
    return out


Decoder = decoder_class(_MSG, from_wire)


def decode(
    data: bytes, *, message_set: MessageSet = MessageSet.CSAE2020, received_at_ms: int = 0
) -> Spat:
    """UPER MessageFrame holding a SPAT → ``Spat``; raises ``DecodeError`` otherwise."""
    return Decoder(message_set=message_set).decode(data, received_at_ms=received_at_ms)


def encode(msg: Spat, *, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    """``Spat`` → UPER MessageFrame bytes; raises ``EncodeError`` with the field path."""
    return encode_native(("spatFrame", to_wire(msg)), message_set=message_set)
