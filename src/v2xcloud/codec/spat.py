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
from v2xcloud.model import IntersectionState, LightState, NodeId, PhaseState, SignalPhase, Spat

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


def _phase_state(state: dict[str, Any], now_ms: int) -> PhaseState:
    values: dict[str, Any] = {}
    timing = state.get("timing")
    if timing is not None:
        kind, t = timing
        if kind == "counting":
            values = {
                f: u.si("timemark", t.get(w)) for f, w in zip(_FIELDS, _COUNTING, strict=True)
            }
        else:
            values = {
                f: _utc_relative(t.get(w), now_ms) for f, w in zip(_FIELDS, _UTC, strict=True)
            }
            if values["next_start_s"] is not None and values["next_duration_s"] is not None:
                values["next_duration_s"] -= values["next_start_s"]
        values["time_confidence"] = t.get("timeConfidence")
    light = LightState(state["light"]) if state["light"] is not None else LightState.UNAVAILABLE
    return PhaseState(light=light, **values)


def _intersection(value: dict[str, Any], default_ms: int, reference_ms: int) -> IntersectionState:
    own_ms = _time.utc_ms(value.get("moy"), value.get("timeStamp"), reference_ms)
    now_ms = own_ms if own_ms is not None else default_ms
    phases = tuple(
        SignalPhase(
            phase_id=ph["id"], states=tuple(_phase_state(s, now_ms) for s in ph["phaseStates"])
        )
        for ph in value["phases"]
    )
    status = u.bits_of(value["status"], p.named_bits("IntersectionStatusObject"))
    return IntersectionState(
        node=node_id(value["intersectionId"]), status=status, timestamp_ms=own_ms, phases=phases
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


def _timing_to_wire(state: PhaseState, where: str) -> dict[str, Any] | None:
    if state.start_s is None and state.likely_end_s is None:
        return None
    out: dict[str, Any] = {}
    for field, wire_name in zip(_FIELDS, _COUNTING, strict=True):
        seconds = getattr(state, field)
        if seconds is not None or wire_name in ("startTime", "likelyEndTime"):
            out[wire_name] = u.wire("timemark", seconds, f"{where}.{wire_name}", _MSG)
    if state.time_confidence is not None:
        out["timeConfidence"] = state.time_confidence
    return out


def _intersection_to_wire(i: IntersectionState, n: int) -> dict[str, Any]:
    phases = []
    for k, ph in enumerate(i.phases):
        states = []
        for m, s in enumerate(ph.states):
            wire_state: dict[str, Any] = {"light": s.light.value}
            timing = _timing_to_wire(s, f"$.intersections[{n}].phases[{k}].phaseStates[{m}].timing")
            if timing is not None:
                wire_state["timing"] = ("counting", timing)
            states.append(wire_state)
        phases.append({"id": ph.phase_id, "phaseStates": states})
    out: dict[str, Any] = {
        "intersectionId": node_id_to_wire(i.node),
        "status": u.bits_from(i.status, p.named_bits("IntersectionStatusObject"), 16),
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
