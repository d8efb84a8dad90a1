"""A recording to replay: tracks, optional signals and map, geo-reference and start time.

The origin of the local x/y is ``origin`` when given, else ``originLat``/``originLon`` of a
``meta_data.csv`` beside the tracks (the row whose ``id`` is the tracks file's numeric suffix,
e.g. ``000`` for ``vehicle_tracks_000.csv``). The same metadata gives the recording's start
(``date``, ``startTime``, ``timeZone`` such as ``GMT+2``) and its speed limit
(``speedLimit_kmh``); without it the replay starts at UTC 0 and the map has no limits.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from pathlib import Path

import msgspec

from v2xcloud.errors import ConfigError, ReplayError
from v2xcloud.geo import ScaledSphericalMercator
from v2xcloud.model import MapData, NodeId
from v2xcloud.replay._csv import RowIssue
from v2xcloud.replay.kml import read_kml_map
from v2xcloud.replay.signals import SignalRecording, read_signals
from v2xcloud.replay.tracks import VELOCITY_SPAN_MS, VELOCITY_TOLERANCE, Tracks, read_tracks

__all__ = ["Recording", "load_recording"]

logger = logging.getLogger(__name__)


class Recording(msgspec.Struct, kw_only=True):
    """Everything the replay needs, read and checked."""

    tracks: Tracks
    georef: ScaledSphericalMercator
    base_ms: int = 0
    signals: SignalRecording | None = None
    map: MapData | None = None
    node: NodeId = NodeId(region=None, id=0)
    issues: list[RowIssue] = msgspec.field(default_factory=list)
    #: what the loader changed in the recording as read, and why (one line each)
    corrections: list[str] = msgspec.field(default_factory=list)


def _meta_row(tracks_path: Path) -> dict[str, str] | None:
    meta = tracks_path.with_name("meta_data.csv")
    if not meta.is_file():
        return None
    with meta.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    suffix = re.search(r"(\d+)$", tracks_path.stem)
    for row in rows:
        if suffix is None or row.get("id", "").strip() == suffix.group(1):
            return row
    return rows[0] if len(rows) == 1 else None


def _start_ms(row: dict[str, str]) -> int:
    zone = re.fullmatch(r"(?:GMT|UTC)([+-]\d+)?", row.get("timeZone", "").strip())
    offset_h = int(zone.group(1) or 0) if zone else 0
    try:
        local = dt.datetime.fromisoformat(f"{row['date'].strip()}T{row['startTime'].strip()}")
    except (KeyError, ValueError):
        return 0
    aware = local.replace(tzinfo=dt.timezone(dt.timedelta(hours=offset_h)))
    return int(aware.timestamp() * 1000)


def _georef(lat_deg: float, lon_deg: float) -> ScaledSphericalMercator:
    """The recording's projection about its origin; a bad origin is a ``ReplayError``."""
    try:
        return ScaledSphericalMercator(origin_lat_deg=lat_deg, origin_lon_deg=lon_deg)
    except ConfigError as exc:
        raise ReplayError(f"{exc}; give --origin LAT,LON in degrees") from exc


def _origin(row: dict[str, str] | None, origin: tuple[float, float] | None) -> tuple[float, float]:
    if origin is not None:
        return origin
    try:
        return float(row["originLat"]), float(row["originLon"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError) as exc:
        raise ReplayError(
            "the recording carries no origin (no meta_data.csv with originLat/originLon "
            "beside the tracks); give --origin LAT,LON of its local x/y origin"
        ) from exc


def load_recording(
    *,
    tracks: Path,
    signals: Path | None = None,
    map_path: Path | None = None,
    origin: tuple[float, float] | None = None,
) -> Recording:
    """Read and check a recording; malformed rows end up in ``issues``, not in errors.

    Raises ``ReplayError`` for a missing/unusable file or an unknown origin.
    """
    row = _meta_row(tracks)
    lat, lon = _origin(row, origin)
    track_data, issues = read_tracks(tracks)
    rec = Recording(
        tracks=track_data,
        georef=_georef(lat, lon),
        base_ms=_start_ms(row) if row else 0,
        issues=issues,
    )
    _check_velocities(rec, tracks.name)
    if signals is not None:
        rec.signals, signal_issues = read_signals(signals)
        rec.issues.extend(signal_issues)
    if map_path is not None:
        limit = None
        if row and row.get("speedLimit_kmh", "").strip():
            limit = float(row["speedLimit_kmh"]) / 3.6
        rec.map = read_kml_map(map_path, speed_limit_mps=limit)
        rec.node = rec.map.nodes[0].id
    return rec


def _check_velocities(rec: Recording, name: str) -> None:
    """Rescale velocities that move the road users otherwise than their positions do
    (``Tracks.velocity_scale``): the replay stands for a roadside sensor, whose speeds are
    derived from the positions it reports, so the two must agree."""
    found = rec.tracks.velocity_scale()
    if found is None or abs(found[0] - 1.0) <= VELOCITY_TOLERANCE:
        return
    ratio, spans = found
    rec.tracks.rescale_velocity(ratio)
    note = (
        f"{name}: the positions move {ratio:.2f}x as far as the recorded velocities say "
        f"(median of {spans} moving {VELOCITY_SPAN_MS / 1000:g} s spans); velocities "
        f"rescaled by {ratio:.2f}"
    )
    rec.corrections.append(note)
    logger.warning("recording corrected: %s", note)
