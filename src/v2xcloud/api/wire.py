"""JSON shapes the API and the WebSocket stream send (tagged unions, new fields with defaults)."""

from __future__ import annotations

from typing import Any

import msgspec

from v2xcloud.api.live import PlatformStats, TickDelta
from v2xcloud.model import Advisory, IntersectionState, ParticipantState, RoadEvent

__all__ = ["DropsFrame", "TickFrame", "WireParticipant", "encode", "to_wire"]


class WireParticipant(msgspec.Struct, frozen=True, kw_only=True):
    """A participant as the dashboard draws it (the full state is on the REST endpoint)."""

    id: str
    kind: str
    source: str
    timestamp_ms: int
    lat_deg: float
    lon_deg: float
    speed_mps: float | None = None
    heading_deg: float | None = None
    length_m: float | None = None
    width_m: float | None = None


class TickFrame(msgspec.Struct, frozen=True, kw_only=True, tag="tick", tag_field="type"):
    """One tick of the live scene on the WebSocket stream."""

    now_ms: int
    participants: tuple[WireParticipant, ...] = ()
    removed_ids: tuple[str, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    signals: tuple[IntersectionState, ...] = ()
    events: tuple[RoadEvent, ...] = ()
    stats: PlatformStats | None = None


class DropsFrame(msgspec.Struct, frozen=True, kw_only=True, tag="drops", tag_field="type"):
    """Sent to a client after frames were dropped for it (it read too slowly)."""

    dropped_frames: int


def to_wire(state: ParticipantState) -> WireParticipant:
    """The drawing subset of a participant state."""
    return WireParticipant(
        id=state.id,
        kind=state.kind.value,
        source=state.source.value,
        timestamp_ms=state.timestamp_ms,
        lat_deg=state.lat_deg,
        lon_deg=state.lon_deg,
        speed_mps=state.speed_mps,
        heading_deg=state.heading_deg,
        length_m=state.length_m,
        width_m=state.width_m,
    )


def tick_frame(delta: TickDelta) -> TickFrame:
    """The stream frame of one tick."""
    return TickFrame(
        now_ms=delta.now_ms,
        participants=tuple(to_wire(p) for p in delta.participants),
        removed_ids=delta.removed_ids,
        advisories=delta.advisories,
        signals=delta.signals,
        events=delta.events,
        stats=delta.stats,
    )


_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    """JSON bytes of any wire or model value (enums by value, frozensets as lists)."""
    return _encoder.encode(value)
