"""A fixed geo-reference for simulated networks: local metres (x east, y north) ⇄ WGS-84.

SUMO networks are built in a plain metric plane. Each scenario pins that plane's origin to a
latitude/longitude; this module converts with a local tangent plane (equirectangular on the
WGS-84 ellipsoid's radii of curvature at the origin), accurate to centimetres within a few
kilometres, which covers every scenario network.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["LocalFrame"]

_A_M = 6_378_137.0  # WGS-84 semi-major axis
_E2 = 6.694_379_990_14e-3  # WGS-84 first eccentricity squared

FloatArray = npt.NDArray[np.float64]


class LocalFrame:
    """Converts between a network's metric plane and WGS-84 around ``origin_lat_deg/lon_deg``.

    >>> frame = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)
    >>> lat, lon = frame.to_latlon(0.0, 0.0)
    >>> round(lat, 6), round(lon, 6)
    (28.2, 112.9)
    """

    def __init__(self, *, origin_lat_deg: float, origin_lon_deg: float) -> None:
        self.origin_lat_deg = origin_lat_deg
        self.origin_lon_deg = origin_lon_deg
        phi = math.radians(origin_lat_deg)
        denom = 1.0 - _E2 * math.sin(phi) ** 2
        meridian_m = _A_M * (1.0 - _E2) / denom**1.5
        normal_m = _A_M / math.sqrt(denom)
        self._m_per_deg_lat = math.radians(1.0) * meridian_m
        self._m_per_deg_lon = math.radians(1.0) * normal_m * math.cos(phi)

    def to_latlon(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Latitude and longitude (degrees) of the plane point ``(x_m, y_m)``."""
        return (
            self.origin_lat_deg + y_m / self._m_per_deg_lat,
            self.origin_lon_deg + x_m / self._m_per_deg_lon,
        )

    def to_latlon_arrays(self, x_m: FloatArray, y_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Vectorised :meth:`to_latlon` for arrays of plane coordinates."""
        return (
            self.origin_lat_deg + y_m / self._m_per_deg_lat,
            self.origin_lon_deg + x_m / self._m_per_deg_lon,
        )

    def to_xy(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """Plane coordinates (metres east, north of the origin) of a WGS-84 position."""
        return (
            (lon_deg - self.origin_lon_deg) * self._m_per_deg_lon,
            (lat_deg - self.origin_lat_deg) * self._m_per_deg_lat,
        )
