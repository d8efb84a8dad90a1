"""Coarsened exports of the history for other platforms (data sharing without trajectories).

An export never contains an id, raw or pseudonymous, and never a single vehicle's position or
time: participant states in ``[start_ms, end_ms]`` are counted per **cell** of a grid at
least ``grid_m`` (≥ 100 m) on a side, per **time bucket** of ``bucket_s`` (≥ 1 s) and per
participant kind; a group seen by fewer than ``k`` (≥ 5) distinct participants is suppressed
(k-anonymity per cell and bucket) and only counted in the manifest. Each exported row is
therefore a statement about at least ``k`` participants, and rows carry nothing that could be
joined across buckets or days to follow one of them.

The grid is global and fixed (the same cell has the same numbers in every export): rows of
``grid_m / 110,574`` degrees of latitude (the shortest metre-per-degree on WGS-84, so a row is
at least ``grid_m`` tall), each row cut into columns of ``grid_m / (111,319 · cos φ)``
degrees of longitude, φ the row's edge nearest the pole (so every cell is at least ``grid_m``
wide).

Files written to the output directory (UTF-8):

- ``traffic_cells.csv`` — one row per kept group, sorted by time then cell:
  ``bucket_start_ms`` (UTC ms), ``bucket_s``, ``cell_row``, ``cell_col``, ``cell_lat_deg``,
  ``cell_lon_deg`` (the cell's centre, WGS-84), ``kind`` (participant kind), ``participants``
  (distinct participants in the group, ≥ k), ``observations`` (states recorded),
  ``mean_speed_mps`` (empty when no state had a speed);
- ``manifest.json`` — ``format`` (``"v2xcloud-traffic-cells/1"``), a random ``export_id``,
  ``created_ms``, ``from_ms``, ``to_ms``, ``grid_m``, ``bucket_s``, ``k``, ``rows``,
  ``suppressed_groups``, ``suppressed_observations`` and the column descriptions.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import uuid
from pathlib import Path
from typing import Any

import msgspec

from v2xcloud.errors import ConfigError, StoreError
from v2xcloud.store._sql_store import SqlHistoryStore
from v2xcloud.store.base import HistoryStore

__all__ = [
    "CELLS_FILE",
    "FORMAT",
    "MANIFEST_FILE",
    "ExportSettings",
    "ExportSummary",
    "cell_bounds",
    "cell_of",
    "export_history",
]

logger = logging.getLogger(__name__)

FORMAT = "v2xcloud-traffic-cells/1"
CELLS_FILE = "traffic_cells.csv"
MANIFEST_FILE = "manifest.json"
_M_PER_DEG_LAT_MIN = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_319.0
_WINDOW_MS = 3_600_000  # aggregate an hour at a time: memory bounded by one hour's groups

COLUMNS = {
    "bucket_start_ms": "start of the time bucket, UTC milliseconds",
    "bucket_s": "length of the time bucket, seconds",
    "cell_row": "grid row: floor(lat_deg / (grid_m / 110574))",
    "cell_col": "grid column within the row: floor(lon_deg / row's column width)",
    "cell_lat_deg": "latitude of the cell centre, WGS-84 degrees",
    "cell_lon_deg": "longitude of the cell centre, WGS-84 degrees",
    "kind": "participant kind (vehicle, pedestrian, cyclist, ...)",
    "participants": "distinct participants seen in the cell during the bucket (at least k)",
    "observations": "participant states recorded in the cell during the bucket",
    "mean_speed_mps": "mean speed over those states, m/s (empty if none had a speed)",
}


class ExportSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Coarsening of an export; ``check`` refuses anything finer than the platform allows."""

    grid_m: float = 100.0
    bucket_s: int = 1
    k: int = 5

    def check(self) -> None:
        """Raise ``ConfigError`` for a grid under 100 m, a bucket under 1 s or k under 5."""
        if not self.grid_m >= 100.0:
            raise ConfigError(f"export grid {self.grid_m} m is finer than 100 m; use >= 100")
        if self.bucket_s < 1:
            raise ConfigError(f"export time bucket {self.bucket_s} s is under 1 s; use >= 1")
        if self.k < 5:
            raise ConfigError(f"export k={self.k} is under 5; groups need >= 5 participants")


class ExportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What an export wrote (as in its manifest)."""

    export_id: str
    out_dir: str
    from_ms: int
    to_ms: int
    rows: int
    suppressed_groups: int
    suppressed_observations: int
    settings: ExportSettings


def _row_height_deg(grid_m: float) -> float:
    return grid_m / _M_PER_DEG_LAT_MIN


def _col_width_deg(row: int, grid_m: float) -> float:
    dlat = _row_height_deg(grid_m)
    poleward = min(89.9, max(abs(row * dlat), abs((row + 1) * dlat)))
    return grid_m / (_M_PER_DEG_LON_EQUATOR * math.cos(math.radians(poleward)))


def cell_of(lat_deg: float, lon_deg: float, *, grid_m: float = 100.0) -> tuple[int, int]:
    """The (row, column) of the export grid holding a WGS-84 position."""
    row = math.floor(lat_deg / _row_height_deg(grid_m))
    return row, math.floor(lon_deg / _col_width_deg(row, grid_m))


def cell_bounds(row: int, col: int, *, grid_m: float = 100.0) -> tuple[float, float, float, float]:
    """(south, west, north, east) WGS-84 degrees of a cell of the export grid."""
    dlat, dlon = _row_height_deg(grid_m), _col_width_deg(row, grid_m)
    return row * dlat, col * dlon, (row + 1) * dlat, (col + 1) * dlon


def _cell_centre(row: int, col: int, grid_m: float) -> tuple[float, float]:
    south, west, north, east = cell_bounds(row, col, grid_m=grid_m)
    return (south + north) / 2, (west + east) / 2


# cell and bucket computed in SQL (the same on DuckDB and PostgreSQL): only groups leave the DB
_GROUPS = """
WITH s AS (
    SELECT floor(timestamp_ms / %s) AS b, floor(lat_deg / %s) AS r, lon_deg, kind, id, speed_mps
    FROM participant_states WHERE timestamp_ms >= %s AND timestamp_ms < %s
), c AS (
    SELECT b, r, floor(lon_deg / (%s / (%s * cos(radians(least(89.9, greatest(abs(r * %s),
        abs((r + 1) * %s)))))))) AS col, kind, id, speed_mps FROM s
)
SELECT b, r, col, kind, count(DISTINCT id), count(*), avg(speed_mps)
FROM c GROUP BY b, r, col, kind ORDER BY b, r, col, kind
"""


def _groups(
    store: SqlHistoryStore, start_ms: int, end_ms: int, s: ExportSettings
) -> list[tuple[Any, ...]]:
    dlat = _row_height_deg(s.grid_m)
    params = [
        float(s.bucket_s * 1000),
        dlat,
        start_ms,
        end_ms,
        float(s.grid_m),
        _M_PER_DEG_LON_EQUATOR,
        dlat,
        dlat,
    ]
    return store._select(_GROUPS, params)


def export_history(
    store: HistoryStore,
    out_dir: Path | str,
    *,
    start_ms: int,
    end_ms: int,
    settings: ExportSettings | None = None,
    created_ms: int,
) -> ExportSummary:
    """Write the coarsened export of ``[start_ms, end_ms)`` to ``out_dir`` (created).

    Raises ``ConfigError`` for settings finer than allowed or an empty range, ``StoreError``
    if the store fails or the files cannot be written.
    """
    s = settings or ExportSettings()
    s.check()
    if end_ms <= start_ms:
        raise ConfigError(
            f"export range [{start_ms}, {end_ms}) is empty; --to must be after --from"
        )
    if not isinstance(store, SqlHistoryStore):
        raise StoreError(f"export needs a SQL history store, not {type(store)}")
    out = Path(out_dir)
    bucket_ms = s.bucket_s * 1000
    start = start_ms - start_ms % bucket_ms  # whole buckets only
    rows = suppressed = suppressed_obs = 0
    try:
        out.mkdir(parents=True, exist_ok=True)
        with (out / CELLS_FILE).open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            window = max(bucket_ms, _WINDOW_MS - _WINDOW_MS % bucket_ms)
            for lo in range(start, end_ms, window):
                for b, r, col, kind, n, obs, speed in _groups(
                    store, lo, min(lo + window, end_ms), s
                ):
                    if n < s.k:
                        suppressed += 1
                        suppressed_obs += int(obs)
                        continue
                    lat, lon = _cell_centre(int(r), int(col), s.grid_m)
                    writer.writerow(
                        [
                            int(b) * bucket_ms,
                            s.bucket_s,
                            int(r),
                            int(col),
                            f"{lat:.6f}",
                            f"{lon:.6f}",
                            kind,
                            int(n),
                            int(obs),
                            "" if speed is None else f"{float(speed):.2f}",
                        ]
                    )
                    rows += 1
        summary = ExportSummary(
            export_id=uuid.uuid4().hex,
            out_dir=str(out),
            from_ms=start,
            to_ms=end_ms,
            rows=rows,
            suppressed_groups=suppressed,
            suppressed_observations=suppressed_obs,
            settings=s,
        )
        _write_manifest(out, summary, created_ms)
    except OSError as exc:
        raise StoreError(f"cannot write the export to {out}: {exc}") from exc
    logger.info("export %s: %d rows, %d groups under k=%d suppressed", out, rows, suppressed, s.k)
    return summary


def _write_manifest(out: Path, summary: ExportSummary, created_ms: int) -> None:
    s = summary.settings
    doc = {
        "format": FORMAT,
        "export_id": summary.export_id,
        "created_ms": created_ms,
        "from_ms": summary.from_ms,
        "to_ms": summary.to_ms,
        "grid_m": s.grid_m,
        "bucket_s": s.bucket_s,
        "k": s.k,
        "rows": summary.rows,
        "suppressed_groups": summary.suppressed_groups,
        "suppressed_observations": summary.suppressed_observations,
        "files": {CELLS_FILE: COLUMNS},
    }
    (out / MANIFEST_FILE).write_text(json.dumps(doc, indent=2), encoding="utf-8")
