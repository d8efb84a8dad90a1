"""Coarsened exports on both backends: >= 100 m cells, >= 1 s buckets, groups under k
suppressed, no id of any kind in the files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pyproj import Geod

from v2xcloud.errors import ConfigError
from v2xcloud.model import ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.store import HistoryStore
from v2xcloud.store.export import (
    CELLS_FILE,
    MANIFEST_FILE,
    ExportSettings,
    cell_bounds,
    cell_of,
    export_history,
)

T0 = 1_764_000_000_000
LAT, LON = 28.1900, 112.9700


def _state(pid: str, t_ms: int, lat: float, lon: float, kind: str = "vehicle") -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind(kind),
        source=ParticipantSource.BSM,
        timestamp_ms=t_ms,
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=8.0,
    )


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / CELLS_FILE).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_groups_under_k_suppressed_and_no_ids(store: HistoryStore, tmp_path: Path) -> None:
    row, col = cell_of(LAT, LON)
    states = []
    for t in range(0, 3000, 500):  # three 1 s buckets
        states += [_state(f"busy-{i}", T0 + t, LAT + i * 1e-6, LON) for i in range(6)]
        states += [_state(f"quiet-{i}", T0 + t, LAT + 0.01, LON) for i in range(4)]
        states.append(_state("lonely-walker", T0 + t, LAT, LON, kind="pedestrian"))
    store.write_participants(states)
    summary = export_history(store, tmp_path, start_ms=T0, end_ms=T0 + 3000, created_ms=T0)
    rows = _rows(tmp_path)
    assert summary.rows == len(rows) == 3
    assert {(r["cell_row"], r["cell_col"], r["kind"]) for r in rows} == {
        (str(row), str(col), "vehicle")
    }
    assert [int(r["participants"]) for r in rows] == [6, 6, 6]
    assert [int(r["bucket_start_ms"]) for r in rows] == [T0, T0 + 1000, T0 + 2000]
    # the 4-vehicle cell and the lone pedestrian: suppressed, counted in the manifest only
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["suppressed_groups"] == summary.suppressed_groups == 6
    assert manifest["k"] == 5 and manifest["grid_m"] == 100.0 and manifest["rows"] == 3
    text = (tmp_path / CELLS_FILE).read_text() + json.dumps(manifest)
    stored_ids = {s.id for s in store.latest_participants(at_ms=T0 + 3000)}
    for pid in {s.id for s in states} | stored_ids:
        assert pid not in text


@pytest.mark.parametrize("lat", [0.0, 28.19, 45.0, 53.5, -33.9, 70.0])
def test_cells_at_least_100_m_on_each_side(lat: float) -> None:
    geod = Geod(ellps="WGS84")
    for lon in (-120.0, 0.0, 112.97):
        row, col = cell_of(lat, lon)
        south, west, north, east = cell_bounds(row, col)
        assert south <= lat < north and west <= lon < east
        sides = [
            geod.inv(west, south, east, south)[2],  # southern edge
            geod.inv(west, north, east, north)[2],  # northern edge
            geod.inv(west, south, west, north)[2],  # western edge
        ]
        assert min(sides) >= 100.0, sides
        assert max(sides) < 100.0 * 1.01  # and not much more at these latitudes


@pytest.mark.parametrize(
    "settings",
    [
        ExportSettings(grid_m=50.0),
        ExportSettings(bucket_s=0),
        ExportSettings(k=4),
    ],
)
def test_settings_finer_than_allowed_refused(store: HistoryStore, settings: ExportSettings) -> None:
    with pytest.raises(ConfigError):
        export_history(store, "unused", start_ms=T0, end_ms=T0 + 1, settings=settings, created_ms=0)


def test_coarser_settings_merge_groups(store: HistoryStore, tmp_path: Path) -> None:
    # two vehicles a second for 5 seconds, each second different vehicles: 10 distinct per 5 s
    store.write_participants(
        [_state(f"v{t}-{i}", T0 + t * 1000, LAT, LON) for t in range(5) for i in range(2)]
    )
    fine = export_history(store, tmp_path / "fine", start_ms=T0, end_ms=T0 + 5000, created_ms=0)
    coarse = export_history(
        store,
        tmp_path / "coarse",
        start_ms=T0,
        end_ms=T0 + 5000,
        settings=ExportSettings(bucket_s=5, grid_m=500.0),
        created_ms=0,
    )
    assert fine.rows == 0 and fine.suppressed_groups == 5
    assert coarse.rows == 1 and _rows(tmp_path / "coarse")[0]["participants"] == "10"
