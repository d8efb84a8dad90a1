"""Road events and signs (RSI), whether received from an RSU or detected by the platform.

The ranges of a road event's fields are declared once, here, as ``msgspec.Meta`` constraints:
they are those of the RSI that carries the event (T/CSAE 53 ``RTEData``, both message sets:
``rteId`` 0..255, ``eventType`` 0..65535, ``eventRadius`` 0..6553.5 m, a description of at
most 512 characters, priority 0..7, confidence 0..1, at most 8 reference paths of 2..32
points), WGS-84 degrees for positions and UTC milliseconds from 1970 to 9999 for times.
They are checked whenever an event is decoded or converted from outside data
(``msgspec.convert``, ``msgspec.json.decode``: the API, the history store), not on direct
construction by code, so the codec and the detectors pay nothing for them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    "UTC_MS_MAX",
    "LatDeg",
    "LonDeg",
    "ReferencePath",
    "RoadEvent",
    "RoadSign",
    "Rsi",
    "UtcMs",
]

LatDeg = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="WGS-84 latitude, °")]
"""A WGS-84 latitude in degrees (finite, -90..90)."""
LonDeg = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="WGS-84 longitude, °")]
"""A WGS-84 longitude in degrees (finite, -180..180)."""
UTC_MS_MAX = 253_402_300_799_999
"""The last millisecond of year 9999 (UTC): the latest time the model holds."""
UtcMs = Annotated[int, msgspec.Meta(ge=0, le=UTC_MS_MAX, description="UTC ms")]
"""A time in UTC milliseconds since 1970 (up to the end of year 9999)."""
LatLon = tuple[LatDeg, LonDeg]
_RadiusM = Annotated[float, msgspec.Meta(ge=0.0, le=6553.5, description="radius, m")]


class ReferencePath(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch of road an event or sign applies to: points upstream first, half-width m."""

    points: Annotated[tuple[LatLon, ...], msgspec.Meta(min_length=2, max_length=32)]
    radius_m: _RadiusM


class RoadEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A traffic event (GB/T 29100 ``event_type`` code) at a place and time.

    ``source`` is the CSAE EventSource name ("police", "detection", ...); the platform's own
    detections use ``"detection"`` plus ``kind`` (e.g. ``"congestion"``, ``"wrong_way"``).
    """

    event_id: Annotated[int, msgspec.Meta(ge=0, le=255)]
    event_type: Annotated[int, msgspec.Meta(ge=0, le=65_535)]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    lat_deg: LatDeg | None = None
    lon_deg: LonDeg | None = None
    radius_m: _RadiusM | None = None
    description: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    start_ms: UtcMs | None = None
    end_ms: UtcMs | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=7)] | None = None
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    reference_paths: Annotated[tuple[ReferencePath, ...], msgspec.Meta(max_length=8)] = ()
    kind: Annotated[str, msgspec.Meta(max_length=64)] | None = None


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
