"""Spherical projections: the scaled spherical Mercator of recorded datasets (Lanelet2's
projector) and the equirectangular offset between two nearby positions.

Some trajectory datasets (TAF-BW, INTERACTION) give positions in metres east (x) and north (y)
of an origin, projected with a spherical Mercator (earth radius 6,378,137 m) whose scale is
``cos(origin latitude)``. That is a different projection from the platform's ``LocalFrame``
(a transverse Mercator on the WGS-84 ellipsoid): a recording's x/y must be read with the
projection it was written in, then handed to the platform as latitude/longitude.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import ConfigError

__all__ = ["EARTH_RADIUS_M", "ScaledSphericalMercator", "equirectangular_offset_m"]

#: the sphere's radius (the WGS-84 semi-major axis), as the datasets' projector uses it
EARTH_RADIUS_M = 6_378_137.0

FloatArray = npt.NDArray[np.float64]


class ScaledSphericalMercator:
    """Spherical Mercator scaled by ``cos(origin latitude)``, shifted so the origin is (0, 0).

    Same method names and argument order as ``LocalFrame``: ``to_local(lat, lon)`` → (x, y)
    and ``to_wgs84(x, y)`` → (lat, lon), arrays or scalars in, float64 arrays out.

    >>> proj = ScaledSphericalMercator(origin_lat_deg=49.0, origin_lon_deg=8.4)
    >>> x, y = proj.to_local(49.0, 8.4)
    >>> round(float(x), 6), round(float(y), 6)
    (0.0, 0.0)

    Raises ``ConfigError`` when the origin is not a latitude/longitude pair (|lat| < 85°).
    """

    def __init__(self, *, origin_lat_deg: float, origin_lon_deg: float) -> None:
        if not (-85.0 < origin_lat_deg < 85.0 and -180.0 <= origin_lon_deg <= 180.0):
            raise ConfigError(
                f"origin ({origin_lat_deg}, {origin_lon_deg}) is not a latitude,longitude "
                "pair; give latitude in (-85, 85) and longitude in [-180, 180] degrees"
            )
        self.origin_lat_deg = origin_lat_deg
        self.origin_lon_deg = origin_lon_deg
        self._scale_m = math.cos(math.radians(origin_lat_deg)) * EARTH_RADIUS_M
        self._x0_m = self._scale_m * math.radians(origin_lon_deg)
        self._y0_m = self._scale_m * math.log(
            math.tan(math.pi / 4 + math.radians(origin_lat_deg) / 2)
        )

    def to_local(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """(x east m, y north m) of WGS-84 positions."""
        lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
        lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
        x = self._scale_m * lon - self._x0_m
        y = self._scale_m * np.log(np.tan(math.pi / 4 + lat / 2)) - self._y0_m
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_wgs84(self, x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat deg, lon deg) of positions in metres east/north of the origin."""
        x = np.asarray(x_m, dtype=np.float64) + self._x0_m
        y = np.asarray(y_m, dtype=np.float64) + self._y0_m
        lon = np.degrees(x / self._scale_m)
        lat = np.degrees(2.0 * np.arctan(np.exp(y / self._scale_m)) - math.pi / 2)
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"ScaledSphericalMercator(origin_lat_deg={self.origin_lat_deg}, "
            f"origin_lon_deg={self.origin_lon_deg})"
        )


def equirectangular_offset_m(
    from_lat_deg: float, from_lon_deg: float, to_lat_deg: float, to_lon_deg: float
) -> tuple[float, float]:
    """(east m, north m) from one WGS-84 position to another on the equirectangular plane
    tangent at the first (sphere of ``EARTH_RADIUS_M``, longitude scaled by ``cos`` of the
    first latitude).

    For points a few hundred metres apart, as within one junction's map, this is good to a
    fraction of a percent and needs no projection object; use ``LocalFrame`` for anything a
    deployment measures.

    >>> east, north = equirectangular_offset_m(0.0, 0.0, 0.0, 0.001)
    >>> round(east, 3), north
    (111.319, 0.0)
    """
    per_rad = EARTH_RADIUS_M
    east = math.radians(to_lon_deg - from_lon_deg) * per_rad * math.cos(math.radians(from_lat_deg))
    north = math.radians(to_lat_deg - from_lat_deg) * per_rad
    return east, north
