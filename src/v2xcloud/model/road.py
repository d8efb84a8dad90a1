"""Road events and signs (RSI), whether received from an RSU or detected by the platform."""

from __future__ import annotations

import msgspec

__all__ = ["ReferencePath", "RoadEvent", "RoadSign", "Rsi"]

LatLon = tuple[float, float]


class ReferencePath(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch of road an event or sign applies to: points upstream first, half-width m."""

    points: tuple[LatLon, ...]
    radius_m: float


class RoadEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A traffic event (GB/T 29100 ``event_type`` code) at a place and time.

    ``source`` is the CSAE EventSource name ("police", "detection", ...); the platform's own
    detections use ``"detection"`` plus ``kind`` (e.g. ``"congestion"``, ``"wrong_way"``).
    """

    event_id: int
    event_type: int
    source: str
    lat_deg: float | None = None
    lon_deg: float | None = None
    radius_m: float | None = None
    description: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    priority: int | None = None
    confidence: float | None = None  # 0..1
    reference_paths: tuple[ReferencePath, ...] = ()
    kind: str | None = None


class RoadSign(msgspec.Struct, frozen=True, kw_only=True):
    """A traffic sign (GB 5768.2 ``sign_type`` code) at a place and time."""

    sign_id: int
    sign_type: int
    lat_deg: float | None = None
    lon_deg: float | None = None
    description: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    priority: int | None = None
    reference_paths: tuple[ReferencePath, ...] = ()
    speed_limit_mps: float | None = None  # for speed-limit signs, when known


class Rsi(msgspec.Struct, frozen=True, kw_only=True):
    """An RSI message in SI units (both the 2017 single-alert and the 2020 list layouts)."""

    msg_count: int
    rsu_id: str
    ref_lat_deg: float
    ref_lon_deg: float
    ref_elevation_m: float | None = None
    timestamp_ms: int | None = None
    events: tuple[RoadEvent, ...] = ()
    signs: tuple[RoadSign, ...] = ()
