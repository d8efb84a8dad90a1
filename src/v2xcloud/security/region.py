"""Where a certificate lets its holder sign: a position inside a region, a region inside another.

The four region forms of both profiles (``types.Region``): circular, rectangular (a union of
boxes), polygonal and identified (country / region codes). Geometry is on the WGS-84 sphere
(mean radius) — certificate regions are kilometres wide, so the sphere's few-metre error does
not matter. An **identified** region names administrative areas by code; without their
boundaries a position cannot be placed in one, so ``contains`` answers ``None`` ("cannot
tell") for it and the caller counts that case instead of guessing. Two identified regions
compare by their codes.

>>> from v2xcloud.security.types import CircularRegion, GeoPoint
>>> city = CircularRegion(center=GeoPoint(31.23, 121.47), radius_m=20_000)
>>> contains(city, 31.25, 121.50), contains(city, 31.60, 121.47)
(True, False)
>>> within(CircularRegion(center=GeoPoint(31.24, 121.48), radius_m=1000), city)
True
"""

from __future__ import annotations

import math

from v2xcloud.security.types import (
    CircularRegion,
    GeoPoint,
    IdentifiedRegion,
    PolygonalRegion,
    RectangularRegion,
    Region,
)

__all__ = ["contains", "distance_m", "within"]

_EARTH_RADIUS_M = 6_371_008.8
_CIRCLE_SAMPLES = 32  # boundary points tested when a circle must lie inside another region


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in metres (haversine on the mean-radius sphere)."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def contains(region: Region, lat_deg: float, lon_deg: float) -> bool | None:
    """Whether the position lies in ``region``; ``None`` for an identified region (see the
    module docstring)."""
    if isinstance(region, CircularRegion):
        c = region.center
        return distance_m(c.lat_deg, c.lon_deg, lat_deg, lon_deg) <= region.radius_m
    if isinstance(region, RectangularRegion):
        return any(_in_box(r.north_west, r.south_east, lat_deg, lon_deg) for r in region.rectangles)
    if isinstance(region, PolygonalRegion):
        return _in_polygon(region.vertices, lat_deg, lon_deg)
    return None


def _in_box(nw: GeoPoint, se: GeoPoint, lat: float, lon: float) -> bool:
    if not se.lat_deg <= lat <= nw.lat_deg:
        return False
    if nw.lon_deg <= se.lon_deg:
        return nw.lon_deg <= lon <= se.lon_deg
    return lon >= nw.lon_deg or lon <= se.lon_deg  # the box crosses the antimeridian


def _in_polygon(vertices: tuple[GeoPoint, ...], lat: float, lon: float) -> bool:
    """Even-odd ray casting in (lon, lat); a point on an edge counts as inside."""
    inside = False
    n = len(vertices)
    for i in range(n):
        a, b = vertices[i], vertices[(i + 1) % n]
        if _on_segment(a, b, lat, lon):
            return True
        if (a.lat_deg > lat) != (b.lat_deg > lat):
            t = (lat - a.lat_deg) / (b.lat_deg - a.lat_deg)
            if lon < a.lon_deg + t * (b.lon_deg - a.lon_deg):
                inside = not inside
    return inside


def _on_segment(a: GeoPoint, b: GeoPoint, lat: float, lon: float) -> bool:
    cross = (b.lon_deg - a.lon_deg) * (lat - a.lat_deg) - (b.lat_deg - a.lat_deg) * (
        lon - a.lon_deg
    )
    if abs(cross) > 1e-12:
        return False
    return min(a.lat_deg, b.lat_deg) <= lat <= max(a.lat_deg, b.lat_deg) and min(
        a.lon_deg, b.lon_deg
    ) <= lon <= max(a.lon_deg, b.lon_deg)


def _boundary(region: Region) -> list[GeoPoint] | None:
    """Points whose containment in a convex-enough parent implies the region's."""
    if isinstance(region, CircularRegion):
        return [
            _offset(region.center, region.radius_m, k * 360 / _CIRCLE_SAMPLES)
            for k in range(_CIRCLE_SAMPLES)
        ]
    if isinstance(region, RectangularRegion):
        out: list[GeoPoint] = []
        for r in region.rectangles:
            nw, se = r.north_west, r.south_east
            out += [nw, se, GeoPoint(nw.lat_deg, se.lon_deg), GeoPoint(se.lat_deg, nw.lon_deg)]
        return out
    if isinstance(region, PolygonalRegion):
        return list(region.vertices)
    return None


def _offset(center: GeoPoint, distance: float, bearing_deg: float) -> GeoPoint:
    """The point ``distance`` metres from ``center`` along ``bearing_deg`` (great circle)."""
    d = distance / _EARTH_RADIUS_M
    b = math.radians(bearing_deg)
    p1, l1 = math.radians(center.lat_deg), math.radians(center.lon_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return GeoPoint(math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180)


def within(child: Region, parent: Region) -> bool | None:
    """Whether ``child`` lies inside ``parent`` (a certificate's region inside its issuer's).

    Circle in circle is exact (centre distance + radius); otherwise every boundary point of
    the child (a circle sampled every 360/32 degrees, box corners, polygon vertices) must lie
    in the parent, which is exact for a box or convex polygon parent. Identified in identified
    compares codes; an identified region against a geometric one is ``None`` (cannot tell).
    """
    if isinstance(child, CircularRegion) and isinstance(parent, CircularRegion):
        c, p = child.center, parent.center
        gap = distance_m(c.lat_deg, c.lon_deg, p.lat_deg, p.lon_deg)
        return gap + child.radius_m <= parent.radius_m * (1 + 1e-9)
    if isinstance(child, IdentifiedRegion) and isinstance(parent, IdentifiedRegion):
        return _codes_within(child, parent)
    points = _boundary(child)
    if points is None or isinstance(parent, IdentifiedRegion):
        return None
    return all(contains(parent, g.lat_deg, g.lon_deg) for g in points)


def _codes_within(child: IdentifiedRegion, parent: IdentifiedRegion) -> bool:
    """Every area of ``child`` inside one of ``parent``'s: the same country, and (when the
    parent names regions) only regions it names — a whole region only where the parent allows
    the whole region, a region's subregions only those the parent lists for it."""
    allowed = {a.country: a for a in parent.areas}
    for area in child.areas:
        up = allowed.get(area.country)
        if up is None:
            return False
        if not up.regions and not up.subregions:
            continue  # the parent allows the whole country
        whole = set(up.regions)
        parts = dict(up.subregions)
        if not area.regions and not area.subregions:
            return False  # the whole country, the parent only some of it
        if any(r not in whole for r in area.regions):
            return False
        for region, subs in area.subregions:
            if region not in whole and not set(subs) <= set(parts.get(region, ())):
                return False
    return True
