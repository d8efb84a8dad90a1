"""Geo-reference of a recording's local metric x/y (east, north) to WGS-84 latitude/longitude.

The TAF-BW and INTERACTION recordings give positions in metres east (x) and north (y) of an
origin, projected with a spherical Mercator scaled by ``cos(origin latitude)`` (Lanelet2's
projector). The origin comes from the recording's ``meta_data.csv`` (``originLat``,
``originLon``) when it has one; otherwise the caller must give it (``--origin LAT,LON``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from v2xcloud.errors import ReplayError

__all__ = ["EARTH_RADIUS_M", "LocalFrame", "origin_from_meta"]

EARTH_RADIUS_M = 6_378_137.0

FloatArray = npt.NDArray[np.float64]


class LocalFrame:
    """Scaled spherical Mercator about an origin: ``x`` east, ``y`` north, metres."""

    def __init__(self, *, origin_lat_deg: float, origin_lon_deg: float) -> None:
        if not (-85.0 < origin_lat_deg < 85.0 and -180.0 <= origin_lon_deg <= 180.0):
            raise ReplayError(
                f"origin {origin_lat_deg},{origin_lon_deg} is not a latitude,longitude pair; "
                "give --origin LAT,LON in degrees"
            )
        self.origin_lat_deg = origin_lat_deg
        self.origin_lon_deg = origin_lon_deg
        self._scale_m = math.cos(math.radians(origin_lat_deg)) * EARTH_RADIUS_M
        self._x0_m = self._scale_m * math.radians(origin_lon_deg)
        self._y0_m = self._scale_m * math.log(
            math.tan(math.pi / 4 + math.radians(origin_lat_deg) / 2)
        )

    def to_latlon(
        self, x_m: FloatArray | float, y_m: FloatArray | float
    ) -> tuple[FloatArray, FloatArray]:
        """Latitude and longitude (degrees) of local ``x_m``/``y_m`` (arrays or scalars)."""
        x = np.asarray(x_m, dtype=np.float64) + self._x0_m
        y = np.asarray(y_m, dtype=np.float64) + self._y0_m
        lon = np.degrees(x / self._scale_m)
        lat = np.degrees(2.0 * np.arctan(np.exp(y / self._scale_m)) - math.pi / 2)
        return lat, lon

    def to_xy(
        self, lat_deg: FloatArray | float, lon_deg: FloatArray | float
    ) -> tuple[FloatArray, FloatArray]:
        """Local ``x``/``y`` metres of latitude/longitude degrees (arrays or scalars)."""
        lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
        lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
        x = self._scale_m * lon - self._x0_m
        y = self._scale_m * np.log(np.tan(math.pi / 4 + lat / 2)) - self._y0_m
        return x, y


def origin_from_meta(meta_path: Path, *, recording_id: str | None = None) -> tuple[float, float]:
    """``(lat, lon)`` of the origin in a ``meta_data.csv`` (row ``recording_id`` or the first).

    Raises ``ReplayError`` naming the file when it lacks ``originLat``/``originLon``.
    """
    with meta_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if recording_id is not None and row.get("id") != recording_id:
            continue
        try:
            return float(row["originLat"]), float(row["originLon"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReplayError(f"{meta_path}: no usable originLat/originLon ({exc})") from exc
    raise ReplayError(f"{meta_path}: no row for recording {recording_id!r}")
