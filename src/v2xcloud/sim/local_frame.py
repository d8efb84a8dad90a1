"""A fixed geo-reference for simulated networks: local metres (x east, y north) ⇄ WGS-84.

SUMO networks are built in a plain metric plane. Each scenario pins that plane's origin to a
latitude/longitude, and the plane is the platform's own local frame (``geo.LocalFrame``, a
transverse Mercator centred on the origin), so the bench and the platform agree exactly on
where everything is.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from v2xcloud.geo import LocalFrame as GeoFrame

__all__ = ["LocalFrame"]

FloatArray = npt.NDArray[np.float64]


class LocalFrame:
    """Converts between a network's metric plane and WGS-84 around the origin.

    >>> frame = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)
    >>> lat, lon = frame.to_latlon(0.0, 0.0)
    >>> round(lat, 6), round(lon, 6)
    (28.2, 112.9)
    """

    def __init__(self, *, origin_lat_deg: float, origin_lon_deg: float) -> None:
        self.origin_lat_deg = origin_lat_deg
        self.origin_lon_deg = origin_lon_deg
        self._geo = GeoFrame(origin_lat_deg=origin_lat_deg, origin_lon_deg=origin_lon_deg)

    def to_latlon(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Latitude and longitude (degrees) of the plane point ``(x_m, y_m)``."""
        lat, lon = self._geo.to_wgs84(x_m, y_m)
        return float(lat), float(lon)

    def to_latlon_arrays(self, x_m: FloatArray, y_m: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Vectorised :meth:`to_latlon` for arrays of plane coordinates (one projection call)."""
        return self._geo.to_wgs84(x_m, y_m)

    def to_xy(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        """Plane coordinates (metres east, north of the origin) of a WGS-84 position."""
        x, y = self._geo.to_local(lat_deg, lon_deg)
        return float(x), float(y)
