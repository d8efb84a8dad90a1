"""The tile grid: quadkeys, neighbours, distances and the halo derived from the apps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from v2xcloud.apps import AvwConfig, DnpwConfig, EvwConfig, default_apps
from v2xcloud.errors import ConfigError
from v2xcloud.runtime.tiles import (
    CELL_ZOOM,
    MOTION_MARGIN_M,
    TILE_ZOOM,
    Tiling,
    app_reach_m,
    cell_of,
    default_halo_m,
    neighbours,
    reaches,
    tile_of,
)

GEOD = Geod(ellps="WGS84")


def test_quadkey_follows_the_tile_system_example() -> None:
    # the Bing Maps tile system's worked example: tile x=3, y=5 at level 3 is quadkey "213"
    assert Tiling(zoom=3, halo_m=0).name(3, 5) == "213"
    assert Tiling(zoom=3, halo_m=0).xy("213") == (3, 5)


def test_tile_of_agrees_with_the_vectorised_form_and_round_trips() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-80, 80, 500)
    lon = rng.uniform(-180, 179.999, 500)
    tiling = Tiling()
    xs, ys = tiling.tiles_of(lat, lon)
    for la, lo, x, y in zip(lat, lon, xs, ys, strict=True):
        name = tile_of(float(la), float(lo))
        assert len(name) == TILE_ZOOM
        assert tiling.xy(name) == (int(x), int(y))
        assert tiling.distance_m(float(la), float(lo), name) == 0.0


def test_bad_positions_and_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="outside the tile grid"):
        tile_of(89.0, 10.0)
    with pytest.raises(ConfigError, match="not a quadkey"):
        Tiling().xy("12a4")
    with pytest.raises(ConfigError, match="zoom 3"):
        Tiling().xy("213")


def test_neighbours_ring_and_antimeridian() -> None:
    tile = tile_of(28.2, 112.9)
    ring = neighbours(tile)
    assert len(ring) == 8 and tile not in ring
    tiling = Tiling()
    x, y = tiling.xy(tile)
    assert {tiling.xy(t) for t in ring} == {
        (x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy
    }
    east_edge = tiling.name((1 << TILE_ZOOM) - 1, 1000)
    assert tiling.name(0, 1000) in tiling.neighbours(east_edge)
    assert len(neighbours(tile, rings=2)) == 24


def test_distance_to_a_tile_matches_the_geodesic() -> None:
    tiling = Tiling()
    tile = tile_of(28.2, 112.9)
    x, y = tiling.xy(tile)
    east = tiling.name(x + 1, y)
    # a point in ``tile``; its distance to the east neighbour is to that tile's west edge
    lat, lon = 28.2, 112.9
    n = 1 << TILE_ZOOM
    edge_lon = (x + 1) / n * 360.0 - 180.0
    _, _, geodesic = GEOD.inv(lon, lat, edge_lon, lat)
    assert tiling.distance_m(lat, lon, east) == pytest.approx(geodesic, rel=0.01)


def test_halo_width_is_derived_from_the_applications() -> None:
    reach = app_reach_m()
    assert reach == DnpwConfig().radius_m  # DNPW looks farthest today (ahead of a passer)
    near = max(
        r.metres for app in default_apps() for r in app.reach() if r.partners == "road_users"
    )
    assert near == AvwConfig().radius_m + AvwConfig().queue_gap_m + 10.0  # AVW's queue context
    assert default_halo_m() == near + MOTION_MARGIN_M == reaches().near_m
    assert Tiling().halo_m == default_halo_m()
    assert reaches().far_m == EvwConfig().radius_m + MOTION_MARGIN_M  # EVW / TJW: 300 m
    assert reaches().passing_m == reach + MOTION_MARGIN_M


def test_halo_reaches_a_second_ring_where_tiles_are_narrow() -> None:
    tiling = Tiling(halo_m=reaches().passing_m)  # 480 m: the corridor ahead of a passer
    south = tile_of(28.2, 112.9)  # ~539 m tiles: one ring
    assert tiling.rings(south) == 1 and len(tiling.halo_tiles([south])) == 8
    north = tile_of(65.0, 25.0)  # ~258 m tiles: the halo spans two rings
    assert tiling.rings(north) == 2
    halo = tiling.halo_tiles([north])
    assert 8 < len(halo) <= 24
    # every tile in it has a point within the halo; every second-ring tile left out has none
    for other in tiling.neighbours(north, rings=3):
        assert (other in halo) == (tiling._tile_gap_m(north, other) <= tiling.halo_m)


def test_the_ego_tiles_owner_sees_every_partner_within_reach() -> None:
    """Exactly-once rests on this: for any pair within the apps' reach, the worker owning the
    ego's tile holds the other one (its own tiles or its halo)."""
    tiling = Tiling()
    rng = np.random.default_rng(3)
    base = tile_of(28.2, 112.9)
    bx, by = tiling.xy(base)
    owned_a = {tiling.name(bx + dx, by + dy) for dx in range(3) for dy in range(2)}
    reach = tiling.halo_m
    checked = 0
    for _ in range(2000):
        lat = 28.2 + rng.uniform(-0.01, 0.01)
        lon = 112.9 + rng.uniform(-0.01, 0.02)
        az = rng.uniform(0, 360)
        dist = rng.uniform(0, reach)
        olon, olat, _ = GEOD.fwd(lon, lat, az, dist)
        ego_tile = tiling.tile_of(lat, lon)
        owned = owned_a if ego_tile in owned_a else {ego_tile}
        sees = owned | set(tiling.halo_tiles(owned))
        assert tiling.tile_of(olat, olon) in sees
        assert tiling.in_halo(olat, olon, sorted(owned))
        checked += 1
    assert checked == 2000
    assert math.isfinite(tiling.side_m(base))


def test_the_halo_cells_hold_every_partner_within_reach_and_read_less_than_whole_tiles() -> None:
    """The same guarantee with the halo read as zoom-18 cells (what a worker subscribes to),
    at ownership zooms 14-16: the cell of every partner within the halo of the ego's tile is
    owned or in ``halo_cells``; and, with tiles coarser than the halo, the cells are a
    fraction of the whole neighbour tiles."""
    rng = np.random.default_rng(4)
    for zoom in (14, 15, 16):
        tiling = Tiling(zoom=zoom)
        base = tiling.tile_of(28.2, 112.9)
        bx, by = tiling.xy(base)
        owned = {tiling.name(bx + dx, by) for dx in range(2)}
        halo = set(tiling.halo_cells(owned))
        assert not any(tiling.tile_of_place(c) in owned for c in halo)
        for _ in range(1500):
            lat = 28.2 + rng.uniform(-0.03, 0.03)
            lon = 112.9 + rng.uniform(-0.03, 0.05)
            if tiling.tile_of(lat, lon) not in owned:
                continue
            az, dist = rng.uniform(0, 360), rng.uniform(0, tiling.halo_m)
            olon, olat, _ = GEOD.fwd(lon, lat, az, dist)
            cell = cell_of(olat, olon)
            assert tiling.tile_of_place(cell) in owned or cell in halo, (zoom, cell)
        whole = sum(len(tiling.cells(t)) for t in tiling.halo_tiles(owned))
        assert len(halo) <= whole  # at zoom 16 the 480 m halo is nearly the whole ring
        if zoom <= 15:
            assert len(halo) < 0.75 * whole, (zoom, len(halo), whole)
    assert cell_of(28.2, 112.9).startswith(tile_of(28.2, 112.9))
    assert len(cell_of(28.2, 112.9)) == CELL_ZOOM
