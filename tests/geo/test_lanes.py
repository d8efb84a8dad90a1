"""LaneMap: matching points to MAP lanes (offset, direction, distance to the stop line)."""

from __future__ import annotations

import numpy as np
import pytest

from v2xcloud.geo import LaneMap, LocalFrame
from v2xcloud.geo.lanes import polyline_distance_m
from v2xcloud.model import Lane, MapData, MapLink, MapNode, NodeId

FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)


def _lane(lane_id: int, xy: list[tuple[float, float]], **kw: object) -> Lane:
    lat, lon = FRAME.to_wgs84([p[0] for p in xy], [p[1] for p in xy])
    return Lane(
        lane_id=lane_id,
        width_m=3.5,
        points=tuple(zip(lat.tolist(), lon.tolist(), strict=True)),
        **kw,
    )  # type: ignore[arg-type]


def _map() -> MapData:
    north = _lane(1, [(1.75, -200.0), (1.75, -100.0), (1.75, -10.0)])  # northbound, stop line y=-10
    south = _lane(2, [(-1.75, 200.0), (-1.75, 10.0)])  # southbound, stop line y=10
    bend = _lane(
        3,
        [(100.0, -10.0), (60.0, -10.0), (20.0, -30.0)],
        maneuvers=frozenset({"maneuverLeftAllowed"}),
    )
    node = MapNode(
        id=NodeId(region=1, id=1),
        lat_deg=28.19,
        lon_deg=112.97,
        in_links=(
            MapLink(upstream_node=NodeId(region=1, id=2), lanes=(north,)),
            MapLink(upstream_node=NodeId(region=1, id=3), lanes=(south, bend)),
        ),
    )
    return MapData(msg_count=1, nodes=(node,))


def test_match_by_position_and_direction() -> None:
    lanes = LaneMap([_map()], FRAME)
    assert [info.lane.lane_id for info in lanes.lanes] == [1, 2, 3]
    x = np.array([2.0, 2.0, -1.0, 30.0, 8.0])
    y = np.array([-50.0, -50.0, 50.0, -10.0, -50.0])
    heading = np.array([0.0, 180.0, 180.0, 270.0, 0.0])
    m = LaneMap([_map()], FRAME).match(x, y, heading)
    assert m.lane.tolist() == [0, -1, 1, -1, -1]  # wrong way, off the bend, too far aside
    assert m.lateral_m[0] == pytest.approx(0.25, abs=0.01)  # right of the centre line
    assert m.lateral_m[2] == pytest.approx(-0.75, abs=0.01)  # east of a southbound lane is its left
    assert m.to_stop_m[0] == pytest.approx(40.0, abs=0.05)
    assert m.to_stop_m[2] == pytest.approx(40.0, abs=0.05)


def test_distance_to_stop_line_along_a_polyline() -> None:
    lanes = LaneMap([_map()], FRAME)
    m = lanes.match(np.array([80.0, 40.0]), np.array([-10.0, -20.0]), np.array([270.0, 243.0]))
    assert m.lane.tolist() == [2, 2]
    assert m.to_stop_m[0] == pytest.approx(20.0 + np.hypot(40.0, 20.0), abs=0.05)
    assert m.to_stop_m[1] == pytest.approx(np.hypot(20.0, 10.0), abs=0.1)


def test_many_points_and_no_lanes() -> None:
    lanes = LaneMap([_map()], FRAME)
    rng = np.random.default_rng(1)
    n = 20_000
    m = lanes.match(rng.uniform(-300, 300, n), rng.uniform(-300, 300, n), rng.uniform(0, 360, n))
    assert m.lane.size == n and (m.lane >= -1).all()
    empty = LaneMap([], FRAME).match(np.zeros(2), np.zeros(2), np.zeros(2))
    assert empty.lane.tolist() == [-1, -1]


def _approaches(**kw: object) -> LaneMap:
    """Two north-bound lanes ending at the stop line y = 0 (x = 0 and x = 3.5 m, 4 m wide)."""
    a = _lane(1, [(0.0, -100.0), (0.0, 0.0)])
    b = _lane(2, [(3.5, -100.0), (3.5, -50.0), (3.5, 0.0)])
    node = MapNode(
        id=NodeId(region=1, id=1),
        lat_deg=28.19,
        lon_deg=112.97,
        in_links=(MapLink(upstream_node=NodeId(region=1, id=2), lanes=(a, b)),),
    )
    return LaneMap([MapData(msg_count=1, nodes=(node,))], FRAME, default_width_m=3.0, **kw)  # type: ignore[arg-type]


def test_overshoot_gives_negative_distance_past_the_stop_line_and_lane_headings() -> None:
    lanes = LaneMap([_map()], FRAME, overshoot_m=15.0)
    m = lanes.match(np.array([1.75, 1.75]), np.array([-5.0, 40.0]), np.array([0.0, 0.0]))
    assert m.lane.tolist() == [0, -1]  # past the line: negative; far past: no match
    assert m.to_stop_m[0] == pytest.approx(-5.0, abs=0.05)
    assert m.lane_heading_deg[0] == pytest.approx(0.0, abs=0.01)
    assert np.isnan(m.lane_heading_deg[1])
    assert lanes.lanes[0].length_m == pytest.approx(190.0, abs=0.1)  # not extended


def test_match_without_heading_takes_the_nearest_lane_whatever_its_direction() -> None:
    lanes = LaneMap([_map()], FRAME)
    m = lanes.match(np.array([2.0, -1.5]), np.array([-50.0, 50.0]), None)
    assert m.lane.tolist() == [0, 1]
    assert m.lane_heading_deg[1] == pytest.approx(180.0, abs=0.01)


def test_near_lists_every_lane_a_position_cannot_rule_out() -> None:
    lanes = _approaches()
    near = lanes.near(
        np.array([1.75, 0.0]), np.array([-30.0, -30.0]), np.array([0.0, 0.0]), within_m=2.0
    )
    assert near.tolist() == [[True, True], [True, False]]
    against = lanes.near(np.array([0.0]), np.array([-30.0]), np.array([180.0]), within_m=2.0)
    assert not against.any()


def test_lane_filter_and_polyline_distance() -> None:
    lanes = LaneMap([_map()], FRAME, lane_filter=lambda lane: lane.lane_id != 2)
    assert [info.lane.lane_id for info in lanes.lanes] == [1, 3]
    line = np.array([[0.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    d = polyline_distance_m(np.array([3.0, 5.0, -4.0]), np.array([5.0, 12.0, -3.0]), line)
    assert d.tolist() == pytest.approx([3.0, 2.0, 5.0])


def _near_every_segment(
    lanes: LaneMap, x: np.ndarray, y: np.ndarray, h: np.ndarray, within_m: float
) -> np.ndarray:
    """``near`` by testing every segment of the map against every point (no grid)."""
    out = np.zeros((x.size, len(lanes.lanes)), dtype=bool)
    for info in lanes.lanes:
        lat = np.array([p[0] for p in info.lane.points])
        lon = np.array([p[1] for p in info.lane.points])
        lx, ly = FRAME.to_local(lat, lon)
        for k in range(lx.size - 1):
            sx, sy = lx[k + 1] - lx[k], ly[k + 1] - ly[k]
            t = np.clip(((x - lx[k]) * sx + (y - ly[k]) * sy) / (sx * sx + sy * sy), 0.0, 1.0)
            dist = np.hypot(x - (lx[k] + t * sx), y - (ly[k] + t * sy))
            heading = np.degrees(np.arctan2(sx, sy)) % 360.0
            dh = np.abs((h - heading + 180.0) % 360.0 - 180.0)
            out[:, info.index] |= (dist <= within_m) & (dh <= 45.0)
    return out


@pytest.mark.parametrize(("cell_m", "within_m"), [(25.0, 2.5), (4.0, 2.5), (10.0, 30.0)])
def test_near_through_the_grid_finds_what_testing_every_segment_finds(
    cell_m: float, within_m: float
) -> None:
    lanes = LaneMap([_map()], FRAME, cell_m=cell_m)
    rng = np.random.default_rng(5)
    x = rng.uniform(-30.0, 110.0, 4000)
    y = rng.uniform(-210.0, 210.0, 4000)
    # points on and beside the centre lines too, where the answer is mostly "near"
    x = np.concatenate([x, np.full(400, 1.75) + rng.normal(0, 2, 400), rng.uniform(20, 100, 400)])
    y = np.concatenate(
        [y, rng.uniform(-200, -10, 400), np.full(400, -10.0) + rng.normal(0, 3, 400)]
    )
    h = rng.uniform(0.0, 360.0, x.size)
    expected = _near_every_segment(lanes, x, y, h, within_m)
    assert expected.sum() > 100  # the sample does exercise the near case
    got = lanes.near(x, y, h, within_m=within_m)
    # a point exactly on the edge may differ by rounding between the two formulas
    assert (got != expected).sum() <= 2
    rows, which = lanes.near_pairs(x, y, h, within_m=within_m)
    assert np.array_equal(np.argwhere(got), np.stack([rows, which], axis=1))
