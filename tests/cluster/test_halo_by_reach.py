"""The halo by reach (no server): for every application and every kind of partner it declares
(``App.reach()``), a pair straddling the border of a worker's block at that reach (plus the
motion margin) is read by the worker that owns the ego's tile, with the frames filed as the
gateways file them (``runtime.tiles.place_of`` / ``files_far``) and read as the worker reads
(``gateways.tile_worker.reading_keys``, the passers' corridors ``passing_keys``); at ownership
zooms 14, 15 and 16. And the halo is smaller than one radius for all: most own reports are
read only within the short reach."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from v2xcloud.apps import Partners, default_apps
from v2xcloud.gateways.tile_worker import reading_keys, reads
from v2xcloud.model import EmergencyState, ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.runtime.tiles import (
    MOTION_MARGIN_M,
    ROADSIDE_REACH_M,
    Tiling,
    files_far,
    is_passer,
    passing_keys,
    place_of,
    reaches,
)

GEOD = Geod(ellps="WGS84")
ORIGIN = (28.2, 112.9)


class _Bsm:
    """What the filing looks at: a message's own participant."""

    def __init__(self, state: ParticipantState) -> None:
        self.participant = state


def _vehicle(
    lat: float,
    lon: float,
    *,
    speed: float | None,
    heading: float = 0.0,
    emergency: bool = False,
    passing: bool = False,
    kind: ParticipantKind = ParticipantKind.VEHICLE,
) -> ParticipantState:
    return ParticipantState(
        id="v",
        kind=kind,
        source=ParticipantSource.BSM,
        timestamp_ms=0,
        lat_deg=lat,
        lon_deg=lon,
        speed_mps=speed,
        heading_deg=heading,
        emergency=EmergencyState(response_type="emergency") if emergency else None,
        exterior_lights=frozenset({"leftTurnSignalOn"}) if passing else frozenset(),
    )


def _own_place(state: ParticipantState) -> str:
    kind = "psm" if state.kind == ParticipantKind.PEDESTRIAN else "bsm"
    return place_of(kind, state.lat_deg, state.lon_deg, far=files_far(_Bsm(state)))


def _partners(kind: Partners, lat: float, lon: float, speed_bound: float | None) -> list:
    """The own reports of the partners of this kind at (lat, lon), as they may come."""
    if kind is Partners.SLOW:
        assert speed_bound is not None
        return [_vehicle(lat, lon, speed=s) for s in (0.0, speed_bound * 0.99)]
    if kind is Partners.EMERGENCY:
        return [_vehicle(lat, lon, speed=s, emergency=True) for s in (0.0, 25.0)]
    return [  # anyone: moving, slow, speedless, a pedestrian, an emergency vehicle
        _vehicle(lat, lon, speed=15.0),
        _vehicle(lat, lon, speed=1.0),
        _vehicle(lat, lon, speed=None),
        _vehicle(lat, lon, speed=1.2, kind=ParticipantKind.PEDESTRIAN),
        _vehicle(lat, lon, speed=20.0, emergency=True),
    ]


@pytest.mark.parametrize("zoom", [14, 15, 16])
def test_a_pair_across_the_border_at_each_apps_reach_is_read_by_the_egos_owner(zoom: int) -> None:
    tiling = Tiling(zoom=zoom)
    reach = reaches()
    base = tiling.tile_of(*ORIGIN)
    bx, by = tiling.xy(base)
    owned = {tiling.name(bx + dx, by) for dx in range(2)}  # a block of two tiles
    keys = reading_keys(tiling, reach, owned)
    side = tiling.side_m(base)
    rng = np.random.default_rng(zoom)
    checked: dict[tuple[str, str], int] = {}
    for app in default_apps():
        for r in app.reach():
            for _ in range(60):
                # an ego inside the block near its border, a partner outside at the reach
                lat, lon = _inside_near_border(tiling, owned, bx, by, side, rng)
                az = float(rng.uniform(0, 360))
                dist = (r.metres + MOTION_MARGIN_M) * float(rng.uniform(0.5, 1.0))
                if r.partners is Partners.ROAD_ITEMS:  # the item's zone reaches this far
                    dist = (r.metres + MOTION_MARGIN_M + ROADSIDE_REACH_M) * float(
                        rng.uniform(0.5, 1.0)
                    )
                olon, olat, _ = GEOD.fwd(lon, lat, az, dist)
                if tiling.tile_of(olat, olon) in owned:
                    continue  # not across the border
                what = (app.code, r.partners.value)
                if r.partners is Partners.ROAD_ITEMS:
                    place = place_of("rsi", olat, olon)
                    assert reads(keys, place), (zoom, what, dist)
                elif r.partners is Partners.AHEAD_OF_PASSER:
                    # the ego signals to pass, heading for the partner: its corridor is read
                    ego = _vehicle(lat, lon, speed=20.0, heading=az, passing=True)
                    assert is_passer(ego)
                    corridor = passing_keys(lat, lon, az, reach.passing_m)
                    # in the opposing lane, to the passer's left (DNPW's corridor)
                    olon, olat, _ = GEOD.fwd(olon, olat, az - 90.0, 5.3)
                    with_corridor = reading_keys(tiling, reach, owned, corridor)
                    for other in _partners(r.partners, olat, olon, r.speed_mps):
                        assert reads(with_corridor, _own_place(other)), (zoom, what, dist)
                else:
                    for other in _partners(r.partners, olat, olon, r.speed_mps):
                        assert reads(keys, _own_place(other)), (zoom, what, dist, other)
                checked[what] = checked.get(what, 0) + 1
    kinds = {(a.code, r.partners.value) for a in default_apps() for r in a.reach()}
    assert set(checked) == kinds  # every app, every kind of partner crossed the border
    assert min(checked.values()) >= 10, checked


def _inside_near_border(
    tiling: Tiling,
    owned: set[str],
    bx: int,
    by: int,
    side: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """A random position in the block within 100 m of its edge."""
    frame_lat, frame_lon = _corner(tiling, bx, by)
    while True:
        x = float(rng.uniform(0, 2 * side))
        y = float(rng.uniform(0, side))
        if min(x, 2 * side - x, y, side - y) > 100.0:
            continue
        lon, lat, _ = GEOD.fwd(frame_lon, frame_lat, 90.0, x)
        lon, lat, _ = GEOD.fwd(lon, lat, 180.0, y)
        if tiling.tile_of(lat, lon) in owned:
            return lat, lon


def _corner(tiling: Tiling, x: int, y: int) -> tuple[float, float]:
    """The north-west corner (lat, lon) of tile (x, y), nudged inside."""
    n = 1 << tiling.zoom
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lat - 1e-6, lon + 1e-6


def test_most_own_reports_are_read_only_within_the_short_reach() -> None:
    """A moving vehicle's report is read within ``near_m`` (~255 m), not the 480 m of one
    halo for all; slow and emergency vehicles within ``far_m``; a passer is one that signals
    left at DNPW's passing speed."""
    reach = reaches()
    assert reach.near_m < reach.far_m < reach.passing_m
    assert reach.near_m <= 260.0 and reach.passing_m == 480.0
    assert not files_far(_Bsm(_vehicle(*ORIGIN, speed=12.0)))
    assert files_far(_Bsm(_vehicle(*ORIGIN, speed=2.0)))
    assert files_far(_Bsm(_vehicle(*ORIGIN, speed=None)))
    assert files_far(_Bsm(_vehicle(*ORIGIN, speed=30.0, emergency=True)))
    walker = _vehicle(*ORIGIN, speed=1.0, kind=ParticipantKind.PEDESTRIAN)
    assert not files_far(_Bsm(walker))
    assert len(_own_place(_vehicle(*ORIGIN, speed=12.0))) == 18
    assert len(_own_place(_vehicle(*ORIGIN, speed=2.0))) == 17
    assert is_passer(_vehicle(*ORIGIN, speed=9.0, passing=True))
    assert not is_passer(_vehicle(*ORIGIN, speed=5.0, passing=True))
    assert not is_passer(_vehicle(*ORIGIN, speed=20.0))
    # a moving vehicle 400 m east of a one-tile block at zoom 15 is not read (one radius for
    # all read it); the corridor of a passer heading for it is
    tiling = Tiling(zoom=15)
    own = tiling.tile_of(*ORIGIN)
    keys = reading_keys(tiling, reach, {own})
    x, _ = tiling.xy(own)
    east_edge = (x + 1) / (1 << 15) * 360.0 - 180.0
    lat = ORIGIN[0]
    olon, olat, _ = GEOD.fwd(east_edge, lat, 90.0, 400.0)
    assert not reads(keys, _own_place(_vehicle(olat, olon, speed=15.0)))
    elon, elat, _ = GEOD.fwd(east_edge, lat, 270.0, 20.0)  # the passer, inside, heading east
    corridor = passing_keys(elat, elon, 90.0, reach.passing_m)
    assert reads(
        reading_keys(tiling, reach, {own}, corridor), _own_place(_vehicle(olat, olon, speed=15.0))
    )


def test_a_hot_tiles_children_read_every_partner_within_reach_and_no_filter_overlaps() -> None:
    """A hot zoom-16 tile owned as its children (``ownership.split_hot``): a worker holding
    two diagonal children (its sibling units are another's) reads, for an ego anywhere in its
    units, every partner of every app at its reach outside them (its siblings' cells
    included), and the split tile's roadside frames; its consumer filters do not overlap."""
    tiling = Tiling(zoom=16)
    reach = reaches()
    base = tiling.tile_of(*ORIGIN)
    owned = {base + "0", base + "3"}
    keys = reading_keys(tiling, reach, owned)
    assert reads(keys, base)  # the split tile's roadside frames (filed by tile)
    for key in (k for k in keys if len(k) == 16):  # it covers every subject under it
        assert not [k for k in keys if k != key and k.startswith(key)], key
    rng = np.random.default_rng(17)
    bx, by = tiling.xy(base)
    side = tiling.side_m(base)
    corner_lat, corner_lon = _corner(tiling, bx, by)
    checked = 0
    for app in default_apps():
        for r in app.reach():
            if r.partners in (Partners.ROAD_ITEMS, Partners.AHEAD_OF_PASSER):
                continue  # by tile, and by corridor: as for whole tiles (the test above)
            for _ in range(40):
                lon, lat, _ = GEOD.fwd(corner_lon, corner_lat, 90.0, float(rng.uniform(0, side)))
                lon, lat, _ = GEOD.fwd(lon, lat, 180.0, float(rng.uniform(0, side)))
                if place_of("bsm", lat, lon)[:17] not in owned:
                    continue
                dist = (r.metres + MOTION_MARGIN_M) * float(rng.uniform(0.3, 1.0))
                olon, olat, _ = GEOD.fwd(lon, lat, float(rng.uniform(0, 360)), dist)
                for other in _partners(r.partners, olat, olon, r.speed_mps):
                    place = _own_place(other)
                    if place[:17] in owned:
                        continue  # inside: read as the unit's own
                    assert reads(keys, place), (app.code, r.partners.value, dist, place)
                    checked += 1
    assert checked > 300
