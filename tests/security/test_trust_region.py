"""Region geometry of certificates: a position in a region, a region within its issuer's."""

from __future__ import annotations

import pytest

from v2xcloud.security.region import contains, distance_m, within
from v2xcloud.security.types import (
    CircularRegion,
    CountryRegions,
    GeoPoint,
    IdentifiedRegion,
    PolygonalRegion,
    Rectangle,
    RectangularRegion,
)

CITY = CircularRegion(center=GeoPoint(28.19, 112.97), radius_m=10_000)
BOX = RectangularRegion(
    rectangles=(Rectangle(north_west=GeoPoint(28.3, 112.8), south_east=GeoPoint(28.1, 113.1)),)
)
TRIANGLE = PolygonalRegion(
    vertices=(GeoPoint(27.0, 111.0), GeoPoint(27.0, 115.0), GeoPoint(30.0, 113.0))
)
CHINA = IdentifiedRegion(areas=(CountryRegions(country=156),))
HUNAN = IdentifiedRegion(areas=(CountryRegions(country=156, regions=(43,)),))


def test_distance_of_one_degree_of_latitude() -> None:
    assert distance_m(28.0, 112.0, 29.0, 112.0) == pytest.approx(111_195, rel=1e-3)


@pytest.mark.parametrize(
    ("region", "inside", "outside"),
    [
        (CITY, (28.25, 112.97), (28.30, 112.97)),  # 6.7 km north in, 12 km north out
        (BOX, (28.2, 113.0), (28.2, 113.2)),
        (TRIANGLE, (28.3, 112.5), (28.9, 112.1)),
    ],
)
def test_contains(region, inside, outside) -> None:  # type: ignore[no-untyped-def]
    assert contains(region, *inside) is True
    assert contains(region, *outside) is False


def test_identified_region_cannot_place_a_position() -> None:
    assert contains(CHINA, 28.2, 112.9) is None


def test_within() -> None:
    small = CircularRegion(center=GeoPoint(28.2, 112.97), radius_m=1000)
    assert within(small, CITY) is True
    assert within(CITY, small) is False
    assert within(small, BOX) is True
    assert within(CircularRegion(center=GeoPoint(28.29, 112.97), radius_m=5000), BOX) is False
    assert within(BOX, TRIANGLE) is True
    assert within(HUNAN, CHINA) is True
    assert within(CHINA, HUNAN) is False
    assert within(CITY, CHINA) is None  # boundaries of identified areas are not known here
    changsha = IdentifiedRegion(areas=(CountryRegions(country=156, subregions=((43, (1,)),)),))
    only_changsha = IdentifiedRegion(
        areas=(CountryRegions(country=156, subregions=((43, (1, 2)),)),)
    )
    assert within(changsha, HUNAN) is True
    assert within(changsha, only_changsha) is True
    assert within(HUNAN, only_changsha) is False  # all of Hunan, the parent two of its parts
    assert within(IdentifiedRegion(areas=(CountryRegions(country=840),)), CHINA) is False
