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
