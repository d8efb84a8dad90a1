"""SpatialGrid: candidate pairs equal brute force within the radius, never all pairs."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.errors import ConfigError
from v2xcloud.geo import SpatialGrid


def _brute(x: np.ndarray, y: np.ndarray, r: float) -> set[tuple[int, int]]:
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    i, j = np.nonzero(np.triu(d <= r, 1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


@pytest.mark.parametrize(
    ("n", "cell_m", "radius_m"), [(300, 30.0, 30.0), (300, 10.0, 25.0), (2, 5.0, 5.0)]
)
def test_pairs_equal_brute_force(n: int, cell_m: float, radius_m: float) -> None:
    rng = np.random.default_rng(n)
    x, y = rng.uniform(-200, 200, n), rng.uniform(-200, 200, n)
    i, j = SpatialGrid(x, y, cell_m=cell_m).pairs(radius_m)
    got = set(zip(np.minimum(i, j).tolist(), np.maximum(i, j).tolist(), strict=True))
    assert len(got) == i.size  # each unordered pair once
    assert got == _brute(x, y, radius_m)


def test_neighbours_of_a_subset() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 300, 400), rng.uniform(0, 300, 400)
    rows = np.array([0, 5, 77, 399])
    q, j = SpatialGrid(x, y, cell_m=20.0).neighbours(rows, 45.0)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    expected = {(int(a), int(b)) for a in rows for b in np.flatnonzero(d[a] <= 45.0) if b != a}
    assert set(zip(q.tolist(), j.tolist(), strict=True)) == expected
    assert q.size == len(expected)


def test_candidates_scale_with_density_not_with_n_squared() -> None:
    # 5,000 points spread over 5 km x 5 km: a 20 m radius has ~ 0.25 neighbours each
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 5000, 5000), rng.uniform(0, 5000, 5000)
    i, _ = SpatialGrid(x, y, cell_m=20.0).pairs(20.0)
    assert i.size < 5000  # all pairs would be 12.5 million


def test_empty_and_coincident_points() -> None:
    empty = SpatialGrid(np.empty(0), np.empty(0), cell_m=10.0)
    assert empty.pairs(10.0)[0].size == 0
    same = SpatialGrid(np.zeros(3), np.zeros(3), cell_m=10.0)
    assert same.pairs(1.0)[0].size == 3


def test_bad_cell_size() -> None:
    with pytest.raises(ConfigError):
        SpatialGrid(np.zeros(1), np.zeros(1), cell_m=0.0)


def _as_set(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(i.tolist(), j.tolist(), strict=True))


def _low_high(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """An unordered pair list as (low row, high row)."""
    return np.minimum(*pair), np.maximum(*pair)


def test_a_pair_exactly_at_the_radius_is_included() -> None:
    x, y = np.array([0.0, 3.0, 30.0]), np.array([0.0, 4.0, 0.0])
    grid = SpatialGrid(x, y, cell_m=2.0)
    assert _as_set(*grid.pairs(5.0)) == {(0, 1)}
    assert _as_set(*grid.neighbours([0, 1, 2], 5.0)) == {(0, 1), (1, 0)}
    assert grid.pairs(4.999)[0].size == 0


def test_the_only_pair_of_a_two_point_grid() -> None:
    grid = SpatialGrid(np.array([1.0, 2.0]), np.array([1.0, 1.0]), cell_m=10.0)
    assert _as_set(*grid.pairs(5.0)) == {(0, 1)}
    assert _as_set(*grid.neighbours([1], 5.0)) == {(1, 0)}
    assert _as_set(*grid.neighbours(np.array([0, 1]), 5.0)) == {(0, 1), (1, 0)}


def test_too_few_points_or_no_query_give_empty_int_arrays() -> None:
    one = SpatialGrid(np.array([0.0]), np.array([0.0]), cell_m=10.0)
    two = SpatialGrid(np.array([0.0, 1.0]), np.array([0.0, 0.0]), cell_m=10.0)
    for i, j in (one.pairs(10.0), one.neighbours([0], 10.0), two.neighbours([], 10.0)):
        assert i.dtype == j.dtype == np.int64 and i.size == j.size == 0


def test_pairs_within_a_cell_come_in_row_order() -> None:
    """Points are sorted by cell stably: within a cell the lower row comes first, every run."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 9.9, 200), rng.uniform(0, 9.9, 200)
    i, j = SpatialGrid(x, y, cell_m=10.0).pairs(20.0)
    assert i.size == 200 * 199 // 2 and bool((i < j).all())


def test_integer_coordinates_are_taken_as_metres() -> None:
    x = np.array([-100, 100, 97, -60], dtype=np.int8)
    y = np.array([0, 0, 4, -120], dtype=np.int8)
    grid = SpatialGrid(x, y, cell_m=25.0)
    expected = SpatialGrid(x.astype(float), y.astype(float), cell_m=25.0)
    got, want = grid.pairs(130.0), expected.pairs(130.0)
    assert _as_set(*_low_high(got)) == _as_set(*_low_high(want)) == {(0, 3), (1, 2)}
    assert _as_set(*grid.neighbours([0, 1], 130.0)) == {(0, 3), (1, 2)}


def test_cells_smaller_than_a_metre_are_fine_and_the_error_names_the_size() -> None:
    grid = SpatialGrid(np.array([0.0, 0.4]), np.array([0.0, 0.0]), cell_m=0.5)
    assert _as_set(*grid.pairs(0.45)) == {(0, 1)}
    with pytest.raises(ConfigError, match=r"grid cell size must be > 0 m, got -1\.0"):
        SpatialGrid(np.zeros(1), np.zeros(1), cell_m=-1.0)


def test_within_queries_points_outside_the_grid() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 900, 500), rng.uniform(0, 900, 500)
    qx, qy = rng.uniform(-50, 950, 120), rng.uniform(-50, 950, 120)
    k, j = SpatialGrid(x, y, cell_m=100.0).within(qx, qy, 300.0)
    d = np.hypot(qx[:, None] - x[None, :], qy[:, None] - y[None, :])
    expected = set(zip(*(a.tolist() for a in np.nonzero(d <= 300.0)), strict=True))
    assert set(zip(k.tolist(), j.tolist(), strict=True)) == expected
    assert k.size == len(expected)  # each pair once
    none = SpatialGrid(x, y, cell_m=100.0).within(np.empty(0), np.empty(0), 300.0)
    assert none[0].size == 0
