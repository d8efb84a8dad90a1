"""On-path and ahead tests used for relevance."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.geo.relevance import ahead_within, on_path

PATH = np.array([[0.0, 0.0], [0.0, 100.0], [100.0, 100.0]])


def test_on_path_needs_closeness_and_direction_and_gives_distance_to_go() -> None:
    inside, remaining = on_path(
        np.array([1.0, 0.0, 50.0, 0.0, 40.0]),
        np.array([50.0, 50.0, 101.0, 50.0, 50.0]),
        np.array([0.0, 180.0, 90.0, np.nan, 0.0]),
        PATH,
        5.0,
    )
    assert inside.tolist() == [True, False, True, False, False]
    assert np.allclose(remaining[[0, 2]], [150.0, 50.0])


def test_one_point_path_is_a_round_area_for_any_heading() -> None:
    inside, d = on_path(
        np.array([3.0, 30.0]),
        np.array([4.0, 0.0]),
        np.array([180.0, 0.0]),
        np.array([[0.0, 0.0]]),
        10.0,
    )
    assert inside.tolist() == [True, False] and d[0] == 5.0


def test_ahead_within_cone_and_range() -> None:
    ahead, d = ahead_within(
        np.zeros(3),
        np.zeros(3),
        np.array([0.0, 180.0, 20.0]),
        0.0,
        50.0,
        range_m=100.0,
        cone_deg=30.0,
    )
    assert ahead.tolist() == [True, False, True] and np.allclose(d, 50.0)


def test_ahead_within_boundaries_and_wrap_around() -> None:
    # exactly on the cone's edge and exactly at the range: both count
    ahead, d = ahead_within(
        np.array([10.0, 10.0]),
        np.array([20.0, 20.0]),
        np.array([0.0, 0.0]),
        20.0,
        30.0,
        range_m=14.2,
        cone_deg=45.0,
    )
    assert ahead.tolist() == [True, True] and d.tolist() == pytest.approx([14.1421356] * 2)
    ahead, _ = ahead_within(
        np.array([1.0]), np.array([2.0]), np.array([0.0]), 1.0, 7.0, range_m=5.0
    )
    assert ahead.tolist() == [True]  # 5 m away exactly, dead ahead
    ahead, _ = ahead_within(
        np.array([1.0]), np.array([2.0]), np.array([0.0]), 1.0, 7.0, range_m=4.9
    )
    assert ahead.tolist() == [False]
    # bearings west of north (negative atan2) and headings across 0/360
    ahead, _ = ahead_within(
        np.zeros(4),
        np.zeros(4),
        np.array([270.0, 271.0, 300.0, 44.5]),
        -10.0,
        0.0,
        range_m=100.0,
        cone_deg=0.5,
    )
    assert ahead.tolist() == [True, False, False, False]
    ahead, _ = ahead_within(
        np.zeros(3),
        np.zeros(3),
        np.array([300.0, 346.0, 0.5]),
        10.0,
        10.0,
        range_m=100.0,
        cone_deg=104.5,  # 45° vs 300°: 105° apart
    )
    assert ahead.tolist() == [False, True, True]
    ahead, _ = ahead_within(
        np.zeros(1), np.zeros(1), np.zeros(1), 10.0, 10.0, range_m=100.0, cone_deg=44.5
    )
    assert ahead.tolist() == [False]


def test_the_default_cone_is_30_degrees() -> None:
    angles = np.radians([29.5, 30.5, 90.0])
    ahead, _ = ahead_within(
        np.zeros(3), np.zeros(3), np.zeros(3), 0.0, 0.0, range_m=100.0
    )  # a target at the origin is 0 m away: ahead whatever the bearing
    assert ahead.tolist() == [True, True, True]
    for k, expected in enumerate([True, False, False]):
        tx, ty = 50.0 * np.sin(angles[k]), 50.0 * np.cos(angles[k])
        ahead, _ = ahead_within(np.zeros(1), np.zeros(1), np.zeros(1), tx, ty, range_m=100.0)
        assert ahead.tolist() == [expected]


def test_one_point_path_boundary_and_nan_elsewhere() -> None:
    inside, d = on_path(
        np.array([13.0, 7.0, 13.0]),
        np.array([24.0, 16.0, 25.0]),
        np.zeros(3),
        np.array([[10.0, 20.0]]),
        5.0,
    )
    assert inside.tolist() == [True, True, False]
    assert d[:2].tolist() == [5.0, 5.0] and np.isnan(d[2])


def test_on_path_boundaries_ends_and_unequal_segments() -> None:
    path = np.array([[10.0, -50.0], [10.0, 50.0], [-20.0, 90.0]])  # 100 m north, 50 m north-west
    x = np.array([15.0, 10.0, 10.0, 10.0, 10.0, 12.0])
    y = np.array([0.0, -53.0, 0.0, 0.0, 0.0, 49.0])
    heading = np.array([0.0, 0.0, 45.0, 45.5, 315.0, 0.0])
    inside, remaining = on_path(x, y, heading, path, 5.0)
    # 5 m beside (exactly the radius); 3 m before the start; heading 45° off (exactly the
    # limit); 45.5° off; 45° off the other way; 1 m before the corner
    assert inside.tolist() == [True, True, True, False, True, True]
    assert remaining[[0, 1, 2, 5]].tolist() == pytest.approx([100.0, 150.0, 100.0, 51.0])
    assert np.isnan(remaining[3])
    # just past the end: clamped to the last point, nothing left to go
    inside, remaining = on_path(np.array([-22.4]), np.array([91.8]), np.array([323.13]), path, 5.0)
    assert inside.tolist() == [True] and remaining.tolist() == pytest.approx([0.0])


def test_on_path_with_short_segments_and_a_westward_path() -> None:
    path = np.array([[0.0, 0.0], [0.0, 0.5], [0.0, 1.0], [-100.0, 1.0]])
    inside, remaining = on_path(
        np.array([0.0, -40.0, -40.0]),
        np.array([0.25, 1.0, 1.0]),
        np.array([0.0, 270.0, 270.6]),
        path,
        1.0,
        max_heading_diff_deg=0.5,
    )
    assert inside.tolist() == [True, True, False]
    assert remaining[:2].tolist() == pytest.approx([100.75, 60.0])


def test_the_default_heading_tolerance_is_45_degrees() -> None:
    inside, _ = on_path(np.zeros(2), np.array([50.0, 50.0]), np.array([44.9, 45.5]), PATH, 5.0)
    assert inside.tolist() == [True, False]
