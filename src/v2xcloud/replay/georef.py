"""Geo-reference of a recording: where its local metric x/y (east, north) has its origin.

The TAF-BW and INTERACTION recordings give positions in metres east (x) and north (y) of an
origin, projected with ``geo.ScaledSphericalMercator`` (the projection lives in ``geo`` like
every other). The origin comes from the recording's ``meta_data.csv`` (``originLat``,
``originLon``) when it has one; otherwise the caller must give it (``--origin LAT,LON``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from v2xcloud.errors import ReplayError

__all__ = ["origin_from_meta"]


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
