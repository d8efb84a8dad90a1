"""On-path and ahead tests used for relevance."""

from __future__ import annotations

import numpy as np

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
