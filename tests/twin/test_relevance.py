"""Who an RSI event or sign concerns: along its reference paths, or heading for its position."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from v2xcloud.geo import LocalFrame
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin.relevance import concerned
from v2xcloud.twin.testing import TEST_FRAME


class _Positions:
    """A tick's positions as ``concerned`` reads them (what ``SceneView`` provides)."""

    def __init__(self, rows: Sequence[tuple[str, float, float, float]]) -> None:
        self.ids = [r[0] for r in rows]
        self.frame: LocalFrame = TEST_FRAME
        self.x_m = np.array([r[1] for r in rows], dtype=np.float64)
        self.y_m = np.array([r[2] for r in rows], dtype=np.float64)
        self.heading_deg = np.array([r[3] for r in rows], dtype=np.float64)

    def row_of(self, participant_id: str) -> int | None:
        return self.ids.index(participant_id) if participant_id in self.ids else None


def _latlon(x_m: float, y_m: float) -> tuple[float, float]:
    lat, lon = TEST_FRAME.to_wgs84(x_m, y_m)
    return float(lat), float(lon)


def _path(*xy: tuple[float, float], radius_m: float) -> ReferencePath:
    return ReferencePath(points=tuple(_latlon(x, y) for x, y in xy), radius_m=radius_m)


def test_without_paths_the_item_ahead_within_a_30_degree_cone_and_range() -> None:
    lat, lon = _latlon(0.0, 100.0)
    view = _Positions(
        [
            ("straight-at", 0.0, 0.0, 0.0),  # heading right at it, 100 m
            ("29-deg-off", 0.0, 0.0, 29.0),
            ("31-deg-off", 0.0, 0.0, 31.0),
            ("45-deg-off", 0.0, 0.0, 45.0),
            ("80-deg-off", 0.0, 0.0, 80.0),
            ("away", 0.0, 0.0, 180.0),
            ("too-far", 0.0, -150.0, 0.0),  # 250 m
            ("no-heading", 0.0, 0.0, math.nan),
        ]
    )
    mask, dist = concerned(view, lat_deg=lat, lon_deg=lon, radius_m=None, paths=(), range_m=200.0)
    assert mask.tolist() == [True, True, False, False, False, False, False, False]
    assert dist[:2] == pytest.approx([100.0, 100.0], abs=0.01)
    assert np.isnan(dist[2:]).all()


def test_without_paths_anyone_inside_the_radius_whatever_the_heading() -> None:
    lat, lon = _latlon(0.0, 0.0)
    view = _Positions([("in", 3.0, 4.0, 0.0), ("edge", 0.0, -5.0, 0.0), ("out", 0.0, -6.0, 0.0)])
    mask, dist = concerned(view, lat_deg=lat, lon_deg=lon, radius_m=5.0, paths=(), range_m=1.0)
    assert mask.tolist() == [True, True, False]
    assert dist[:2] == pytest.approx([5.0, 5.0], abs=0.01) and np.isnan(dist[2])


def test_along_a_reference_path_distance_to_the_item_or_to_the_paths_end() -> None:
    path = _path((0.0, 0.0), (0.0, 200.0), radius_m=5.0)
    view = _Positions(
        [
            ("on", 1.0, 50.0, 0.0),
            ("wrong-way", 1.0, 60.0, 180.0),
            ("beside", 20.0, 50.0, 0.0),
            ("later", -2.0, 150.0, 10.0),
        ]
    )
    mask, dist = concerned(
        view, lat_deg=None, lon_deg=None, radius_m=None, paths=(path,), range_m=500.0
    )
    assert mask.tolist() == [True, False, False, True]
    assert dist[[0, 3]] == pytest.approx([150.0, 50.0], abs=0.05)  # still to go on the path
    assert np.isnan(dist[[1, 2]]).all()
    lat, lon = _latlon(0.0, 180.0)  # with a position: distance to it
    mask, dist = concerned(
        view, lat_deg=lat, lon_deg=lon, radius_m=None, paths=(path,), range_m=500.0
    )
    assert mask.tolist() == [True, False, False, True]
    assert dist[[0, 3]] == pytest.approx([math.hypot(1, 130), math.hypot(2, 30)], abs=0.05)


def test_several_paths_the_first_that_holds_a_participant_gives_its_distance() -> None:
    first = _path((0.0, 0.0), (0.0, 100.0), radius_m=5.0)
    second = _path((0.0, 20.0), (0.0, 300.0), radius_m=5.0)
    side = _path((50.0, 0.0), (50.0, 100.0), radius_m=5.0)
    view = _Positions(
        [("both", 0.0, 40.0, 0.0), ("second", 0.0, 200.0, 0.0), ("side", 50.0, 10.0, 0.0)]
    )
    mask, dist = concerned(
        view, lat_deg=None, lon_deg=None, radius_m=None, paths=(first, second, side), range_m=1.0
    )
    assert mask.tolist() == [True, True, True]
    assert dist.tolist() == pytest.approx([60.0, 100.0, 90.0], abs=0.05)


def test_no_position_and_no_path_concerns_nobody() -> None:
    view = _Positions([("a", 0.0, 0.0, 0.0)])
    mask, dist = concerned(view, lat_deg=None, lon_deg=1.0, radius_m=50.0, paths=(), range_m=1e6)
    assert mask.tolist() == [False] and np.isnan(dist).all()
    mask, _ = concerned(view, lat_deg=1.0, lon_deg=None, radius_m=50.0, paths=(), range_m=1e6)
    assert mask.tolist() == [False]
    empty = _Positions([])
    mask, dist = concerned(empty, lat_deg=28.19, lon_deg=112.97, radius_m=5.0, paths=(), range_m=9)
    assert mask.shape == dist.shape == (0,) and mask.dtype == np.bool_


def test_without_a_radius_only_those_heading_for_it_and_distances_to_it() -> None:
    lat, lon = _latlon(10.0, 10.0)
    view = _Positions([("close-behind", 10.0, 10.5, 0.0), ("coming", 10.0, -20.0, 0.0)])
    mask, dist = concerned(view, lat_deg=lat, lon_deg=lon, radius_m=None, paths=(), range_m=100.0)
    assert mask.tolist() == [False, True]
    assert dist[1] == pytest.approx(30.0, abs=0.01) and np.isnan(dist[0])
