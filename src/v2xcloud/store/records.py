"""What the history store keeps besides the model's own types: EV report records, queries.

Participant states, advisories, road events and dead letters are stored as the model's own
types (``ParticipantState``, ``Advisory``, ``RoadEvent``, ``DeadLetter``). EV reports have no
model type shared by all producers, so the store defines the small record it accepts for them.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["AdvisoryCell", "BBox", "EvReportRecord", "TrackPoint"]


class BBox(msgspec.Struct, frozen=True, kw_only=True):
    """A WGS-84 bounding box in degrees; ``min_*`` ≤ ``max_*`` (no antimeridian wrap)."""

    min_lon_deg: float
    min_lat_deg: float
    max_lon_deg: float
    max_lat_deg: float

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        """Whether the point lies inside or on the edge of the box."""
        return (
            self.min_lat_deg <= lat_deg <= self.max_lat_deg
            and self.min_lon_deg <= lon_deg <= self.max_lon_deg
        )


class EvReportRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One EV (GB/T 32960) report: the VIN, when it was received, and its decoded content as JSON."""

    received_ms: int
    vin: str
    payload: dict[str, Any] = msgspec.field(default_factory=dict)


class TrackPoint(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One stored position of a participant: UTC ms, degrees, m/s and degrees from north."""

    timestamp_ms: int
    lat_deg: float
    lon_deg: float
    speed_mps: float | None = None
    heading_deg: float | None = None


class AdvisoryCell(msgspec.Struct, frozen=True, kw_only=True):
    """Advisories issued in one cell of a latitude/longitude grid over a time range: the cell's
    centre (degrees), the rows (every issue, repeats included), the distinct (app, ego) pairs
    warned (what an operator counts as "warnings") and the highest level among them."""

    lat_deg: float
    lon_deg: float
    advisories: int
    warned: int
    max_level: int
