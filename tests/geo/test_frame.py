"""LocalFrame: WGS-84 ⇄ local metres, against geodesic distances from pyproj."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from v2xcloud.errors import ConfigError
from v2xcloud.geo import LocalFrame, heading_to_unit, unit_to_heading_deg

FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)


def test_origin_maps_to_zero() -> None:
    x, y = FRAME.to_local(28.19, 112.97)
    assert abs(float(x)) < 1e-6 and abs(float(y)) < 1e-6


def test_round_trip_is_sub_millimetre_over_ten_km() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(-10_000, 10_000, 500)
    y = rng.uniform(-10_000, 10_000, 500)
    lat, lon = FRAME.to_wgs84(x, y)
    x2, y2 = FRAME.to_local(lat, lon)
    assert np.max(np.hypot(x2 - x, y2 - y)) < 1e-3


def test_distances_and_azimuths_match_the_ellipsoid() -> None:
    geod = Geod(ellps="WGS84")
    lon2, lat2, _ = geod.fwd(112.97, 28.19, 60.0, 2_000.0)  # 2 km at azimuth 60°
    x, y = FRAME.to_local(lat2, lon2)
    assert float(np.hypot(x, y)) == pytest.approx(2_000.0, abs=0.1)
    assert float(unit_to_heading_deg(x, y)) == pytest.approx(60.0, abs=0.05)


def test_heading_unit_vectors() -> None:
    east, north = heading_to_unit([0.0, 90.0, 180.0])
    assert np.allclose(east, [0, 1, 0], atol=1e-12)
    assert np.allclose(north, [1, 0, -1], atol=1e-12)


def test_bad_origin_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="latitude"):
        LocalFrame(origin_lat_deg=112.97, origin_lon_deg=28.19 + 200)
