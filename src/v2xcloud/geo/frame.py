"""WGS-84 ⇄ a local metric frame (east/north metres) around a deployment's origin."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from v2xcloud.errors import ConfigError

__all__ = ["LocalFrame", "heading_to_unit", "unit_to_heading_deg"]

FloatArray = npt.NDArray[np.float64]


class LocalFrame:
    """A transverse Mercator projection centred on one deployment's origin.

    ``x`` is metres east of the origin, ``y`` metres north. Within a few kilometres of the
    origin the grid is conformal and its north is true north to well under 0.1 degree, so a
    heading clockwise from north is also a heading in this frame. Conversions take and return
    numpy arrays (scalars work too).

    >>> frame = LocalFrame(origin_lat_deg=28.2, origin_lon_deg=112.9)
    >>> x, y = frame.to_local(28.2, 112.9)
    >>> round(float(x), 6), round(float(y), 6)
    (0.0, 0.0)

    Raises ``ConfigError`` when the origin is not a valid WGS-84 position.
    """

    def __init__(self, *, origin_lat_deg: float, origin_lon_deg: float) -> None:
        if not (-85.0 <= origin_lat_deg <= 85.0 and -180.0 <= origin_lon_deg <= 180.0):
            raise ConfigError(
                f"local frame origin ({origin_lat_deg}, {origin_lon_deg}) is not a WGS-84 "
                "position; give latitude in [-85, 85] and longitude in [-180, 180] degrees"
            )
        self.origin_lat_deg = origin_lat_deg
        self.origin_lon_deg = origin_lon_deg
        proj = (
            f"+proj=tmerc +lat_0={origin_lat_deg!r} +lon_0={origin_lon_deg!r} "
            "+k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
        )
        self._forward = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
        self._inverse = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)

    def to_local(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """(x east m, y north m) of WGS-84 positions."""
        x, y = self._forward.transform(
            np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_wgs84(self, x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat deg, lon deg) of local positions."""
        lon, lat = self._inverse.transform(
            np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
        )
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def __repr__(self) -> str:
        return f"LocalFrame(origin_lat_deg={self.origin_lat_deg}, origin_lon_deg={self.origin_lon_deg})"


def heading_to_unit(heading_deg: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Unit vector (east, north) of a heading in degrees clockwise from north."""
    rad = np.radians(np.asarray(heading_deg, dtype=np.float64))
    return np.sin(rad), np.cos(rad)


def unit_to_heading_deg(east: npt.ArrayLike, north: npt.ArrayLike) -> FloatArray:
    """Heading in [0, 360) degrees clockwise from north of a direction vector."""
    deg = np.degrees(np.arctan2(np.asarray(east, dtype=np.float64), north))
    return np.mod(deg, 360.0)
