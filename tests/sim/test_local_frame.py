"""The scenario geo-reference is the platform's own local frame."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.geo import LocalFrame as GeoFrame
from v2xcloud.sim.local_frame import LocalFrame


@pytest.mark.parametrize(("lat", "lon"), [(28.2, 112.9), (39.9, 116.4), (-33.9, 151.2)])
def test_agrees_with_the_platform_projection(lat: float, lon: float) -> None:
    ours = LocalFrame(origin_lat_deg=lat, origin_lon_deg=lon)
    ref = GeoFrame(origin_lat_deg=lat, origin_lon_deg=lon)
    for x, y in [(0.0, 0.0), (500.0, -300.0), (-1200.0, 900.0)]:
        la, lo = ours.to_latlon(x, y)
        rx, ry = ref.to_local(la, lo)
        assert float(rx) == pytest.approx(x, abs=1e-6) and float(ry) == pytest.approx(y, abs=1e-6)


def test_round_trip_and_arrays() -> None:
    frame = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)
    lat, lon = frame.to_latlon(123.4, -56.7)
    assert 28.19 < lat < 28.2 < 112.9 < lon < 112.91
    assert frame.to_xy(lat, lon) == pytest.approx((123.4, -56.7), abs=1e-6)
    lats, lons = frame.to_latlon_arrays(np.array([123.4, 0.0]), np.array([-56.7, 0.0]))
    assert (lats[0], lons[0]) == pytest.approx((lat, lon))
    assert (lats[1], lons[1]) == pytest.approx((28.2, 112.9))
