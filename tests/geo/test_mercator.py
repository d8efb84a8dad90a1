"""The datasets' scaled spherical Mercator and the equirectangular offset, both owned by geo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from v2xcloud.errors import ConfigError
from v2xcloud.geo import LocalFrame, ScaledSphericalMercator, equirectangular_offset_m

PROJ = ScaledSphericalMercator(origin_lat_deg=49.0, origin_lon_deg=8.4)


def test_values_of_the_recorded_projection() -> None:
    # pinned: the figures replay's own projector gave before it moved into geo
    lat, lon = PROJ.to_wgs84(123.4, -567.8)
    assert (float(lat), float(lon)) == pytest.approx((48.99489910463897, 8.401689666648304))
    x, y = PROJ.to_local(49.01, 8.39)
    assert (float(x), float(y)) == pytest.approx((-730.3215703754686, 1113.3066806034185))


def test_round_trip_on_arrays() -> None:
    xs, ys = np.array([0.0, 250.0, -900.0]), np.array([0.0, -40.0, 1200.0])
    lat, lon = PROJ.to_wgs84(xs, ys)
    x, y = PROJ.to_local(lat, lon)
    assert np.allclose(x, xs, atol=1e-6) and np.allclose(y, ys, atol=1e-6)


def test_is_a_different_projection_from_the_local_frame() -> None:
    # same origin, same metres: the two land apart (scale cos(lat) on a sphere vs ellipsoidal
    # transverse Mercator), which is why a recording must be read with its own projection
    frame = LocalFrame(origin_lat_deg=49.0, origin_lon_deg=8.4)
    a = PROJ.to_wgs84(0.0, 1000.0)
    b = frame.to_wgs84(0.0, 1000.0)
    north_m = (float(a[0]) - float(b[0])) * 111_000.0
    assert abs(north_m) > 1.0


def test_bad_origin_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="latitude"):
        ScaledSphericalMercator(origin_lat_deg=95.0, origin_lon_deg=8.4)


@pytest.mark.parametrize(("d_north_m", "d_east_m"), [(0.0, 300.0), (200.0, 0.0), (-150.0, 120.0)])
def test_equirectangular_offset_agrees_with_the_geodesic(d_north_m: float, d_east_m: float) -> None:
    geod = Geod(ellps="WGS84")
    lat0, lon0 = 31.2304, 121.4737
    az = math.degrees(math.atan2(d_east_m, d_north_m))
    lon1, lat1, _ = geod.fwd(lon0, lat0, az, math.hypot(d_east_m, d_north_m))
    east, north = equirectangular_offset_m(lat0, lon0, lat1, lon1)
    assert math.hypot(east, north) == pytest.approx(math.hypot(d_east_m, d_north_m), rel=5e-3)
    assert east == pytest.approx(d_east_m, abs=2.0) and north == pytest.approx(d_north_m, abs=2.0)
