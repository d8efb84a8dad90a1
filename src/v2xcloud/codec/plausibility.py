"""Is a decoded MAP or RSI plausible? Catches frames decoded under the wrong message set.

A T/CSAE 53-2017 MAP decodes under the 53-2020 schema without any error, into garbage: on the
real 2017 capture the node's reference point lands at (-30.95°, -33.51°), in the South
Atlantic, instead of Changsha. Two rules, both cheap:

- with a configured ``DeploymentArea`` (strict): every MAP node reference point and every RSI
  reference point must lie inside it, and every lane/link point within
  ``max_point_distance_m`` of their node;
- with no area configured (the default, since random or foreign test data may lie anywhere):
  a frame is rejected only when its reference point is outside China *and* the other message
  set decodes the same bytes into a reference point inside China — the signature of a device
  on the other version.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import msgspec

from v2xcloud.codec._units import absolute

__all__ = ["CHINA", "DeploymentArea", "missing_position", "reference_points", "strict_problem"]

_DEG_DIV = 10_000_000
_UNAVAILABLE_LAT = 900000001
_UNAVAILABLE_LON = 1800000001
_EARTH_M_PER_DEG = 111_320.0


class DeploymentArea(msgspec.Struct, frozen=True, kw_only=True):
    """A lat/lon box (degrees) the deployment's RSUs lie in, plus a geometry tolerance."""

    min_lat_deg: float
    max_lat_deg: float
    min_lon_deg: float
    max_lon_deg: float
    max_point_distance_m: float = 10_000.0

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        """True if the point lies inside the box (edges included)."""
        return (
            self.min_lat_deg <= lat_deg <= self.max_lat_deg
            and self.min_lon_deg <= lon_deg <= self.max_lon_deg
        )

    @classmethod
    def parse(cls, text: str) -> DeploymentArea:
        """``"china"`` or ``"min_lat,min_lon,max_lat,max_lon"`` (degrees)."""
        from v2xcloud.errors import ConfigError

        if text.strip().lower() == "china":
            return CHINA
        try:
            a, b, c, d = (float(x) for x in text.split(","))
        except ValueError:
            raise ConfigError(
                f"bad deployment area {text!r}; use 'china' or 'min_lat,min_lon,max_lat,max_lon'"
            ) from None
        return cls(min_lat_deg=a, min_lon_deg=b, max_lat_deg=c, max_lon_deg=d)


CHINA = DeploymentArea(min_lat_deg=3.8, max_lat_deg=53.6, min_lon_deg=73.5, max_lon_deg=135.1)


def _latlon(pos: dict[str, Any]) -> tuple[float, float] | None:
    lat, lon = pos["lat"], pos["long"]
    if lat == _UNAVAILABLE_LAT or lon == _UNAVAILABLE_LON:
        return None
    return lat / _DEG_DIV, lon / _DEG_DIV


def reference_points(alternative: str, value: dict[str, Any]) -> Iterator[tuple[str, float, float]]:
    """(where, lat, lon) of each reference point of a MAP or RSI native value."""
    if alternative == "mapFrame":
        for i, node in enumerate(value["nodes"]):
            if (ll := _latlon(node["refPos"])) is not None:
                yield f"$.mapFrame.nodes[{i}].refPos", *ll
    elif alternative == "rsiFrame" and (ll := _latlon(value["refPos"])) is not None:
        yield "$.rsiFrame.refPos", *ll


_POSITION_FIELD = {"bsmFrame": "pos", "rsmFrame": "refPos", "rsiFrame": "refPos"}
_DAY2_POSITION_FIELD = {15: "pos", 12: "sensorPos", 13: "refPos", 11: "refPos"}  # PSM SSM VIR RSC


def missing_position(alternative: str, value: dict[str, Any]) -> str | None:
    """Where the sender's or reference position is marked unavailable, or None.

    Such a frame is valid on the wire but has no place in the SI model (positions are
    required there), so ``decode`` rejects it as ``no_position`` rather than invent one.
    """
    if alternative == "mapFrame":
        for i, node in enumerate(value["nodes"]):
            if _latlon(node["refPos"]) is None:
                return f"$.mapFrame.nodes[{i}].refPos"
        return None
    if alternative == "msgFrameExt":
        field = _DAY2_POSITION_FIELD.get(value["messageId"])
        if field and _latlon(value["value"][field]) is None:
            return f"$.msgFrameExt.value.{field}"
        return None
    field = _POSITION_FIELD.get(alternative)
    return f"$.{alternative}.{field}" if field and _latlon(value[field]) is None else None


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (a[0] - b[0]) * _EARTH_M_PER_DEG
    dlon = (a[1] - b[1]) * _EARTH_M_PER_DEG * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlon)


def _absolute_points(node: dict[str, Any]) -> Iterator[tuple[str, tuple[float, float]]]:
    ref = node["refPos"]

    def point(p: dict[str, Any]) -> tuple[float, float]:
        lat, lon, _ = absolute(p["posOffset"], ref)
        return lat, lon

    for i, link in enumerate(node.get("inLinks", [])):
        for j, p in enumerate(link.get("points", [])):
            yield f"inLinks[{i}].points[{j}]", point(p)
        for k, lane in enumerate(link.get("lanes", [])):
            for j, p in enumerate(lane.get("points", [])):
                yield f"inLinks[{i}].lanes[{k}].points[{j}]", point(p)


def strict_problem(
    alternative: str, value: dict[str, Any], area: DeploymentArea
) -> tuple[str, str] | None:
    """(where, what is wrong) under a configured area, or None if the frame is plausible."""
    for where, lat, lon in reference_points(alternative, value):
        if not area.contains(lat, lon):
            return where, f"reference point ({lat:.5f}, {lon:.5f}) is outside the deployment area"
    if alternative != "mapFrame":
        return None
    for n, node in enumerate(value["nodes"]):
        ref = _latlon(node["refPos"])
        if ref is None:
            continue
        for where, point in _absolute_points(node):
            distance = _distance_m(ref, point)
            if distance > area.max_point_distance_m:
                return (
                    f"$.mapFrame.nodes[{n}].{where}",
                    f"lane point {distance / 1000:.1f} km from its node",
                )
    return None
