"""Advisories counted per grid cell on both backends: every issue, distinct (app, ego) pairs,
the highest level, busiest cell first; no place: not counted; a cell size <= 0 is refused."""

from __future__ import annotations

import pytest

from v2xcloud.errors import StoreError
from v2xcloud.model import Advisory, AdvisoryLevel
from v2xcloud.store import HistoryStore


def _adv(ego: str, t: int, lat: float | None, lon: float | None, level: int = 2) -> Advisory:
    return Advisory(
        app="FCW", level=AdvisoryLevel(level), ego_id=ego, issued_ms=t, expires_ms=t + 500,
        lat_deg=lat, lon_deg=lon,
    )  # fmt: skip


def test_cells(store: HistoryStore) -> None:
    store.write_advisories(
        [
            _adv("a", 1000, 28.10001, 112.90001),  # cell (2810, 11290) at 0.01 degrees
            _adv("a", 1100, 28.10002, 112.90002),  # the same warning re-issued
            _adv("b", 1200, 28.10003, 112.90003, level=3),
            _adv("c", 1300, 28.20001, 112.90001),  # another cell
            _adv("d", 1400, None, None),  # no place: not in any cell
            _adv("e", 9000, 28.10001, 112.90001),  # outside the range
        ]
    )
    busy, quiet = store.advisory_cells(
        start_ms=0, end_ms=5000, cell_lat_deg=0.01, cell_lon_deg=0.01
    )
    assert (busy.advisories, busy.warned, busy.max_level) == (3, 2, 3)
    assert busy.lat_deg == pytest.approx(28.105) and busy.lon_deg == pytest.approx(112.905)
    assert (quiet.advisories, quiet.warned, quiet.max_level) == (1, 1, 2)
    with pytest.raises(StoreError, match="positive"):
        store.advisory_cells(start_ms=0, end_ms=1, cell_lat_deg=0.0, cell_lon_deg=0.01)
