"""The pair selections the applications share: who is a motor vehicle, who is ahead in the
lane, who heads the same way, who moves; each at its boundaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from v2xcloud.apps._select import (
    first_per_ego,
    following_in_lane,
    gap_m,
    in_lane_ahead,
    is_motor,
    motor,
    moving_motor_directed,
    moving_motor_pairs,
    same_way,
    toward,
)
from v2xcloud.model import ParticipantKind
from v2xcloud.twin import PairTable, Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, state_at

T = 10_000
VEHICLE, UNKNOWN = ParticipantKind.VEHICLE, ParticipantKind.UNKNOWN
CYCLIST, PEDESTRIAN = ParticipantKind.CYCLIST, ParticipantKind.PEDESTRIAN


def _view(*rows: tuple[str, float, float, float, float], **per_id: dict[str, Any]) -> SceneView:
    """Participants ``(id, x, y, speed, heading)`` at tick ``T``; ``per_id`` extra fields."""
    scene = Scene(TEST_FRAME)
    for pid, x, y, speed, heading in rows:
        extra = per_id.get(pid, {})
        state = state_at(pid, x_m=x, y_m=y, t_ms=T, speed_mps=speed, heading_deg=heading, **extra)
        scene.ingest(state, received_at_ms=T, source="obu")
    return scene.update(T)


def _pairs(view: SceneView, pairs: list[tuple[str, str]]) -> PairTable:
    ego = np.array([view.row_of(e) for e, _ in pairs], dtype=np.int64)
    other = np.array([view.row_of(o) for _, o in pairs], dtype=np.int64)
    return PairTable(view, ego, other)


def _named(view: SceneView, t: PairTable) -> set[tuple[str, str]]:
    ids = view.ids
    return {(ids[e], ids[o]) for e, o in zip(t.ego.tolist(), t.other.tolist(), strict=True)}


def _unordered(view: SceneView, t: PairTable) -> set[frozenset[str]]:
    return {frozenset(p) for p in _named(view, t)}


def test_motor_vehicles_are_vehicles_and_unknown_objects() -> None:
    kinds = {"v": VEHICLE, "u": UNKNOWN, "c": CYCLIST, "p": PEDESTRIAN}
    view = _view(
        *[(k, 10.0 * i, 0.0, 0.0, 0.0) for i, k in enumerate(kinds)],
        **{k: {"kind": kind} for k, kind in kinds.items()},
    )
    rows = np.array([view.row_of(k) for k in kinds], dtype=np.int64)
    assert motor(view)[rows].tolist() == [True, True, False, False]
    assert is_motor(view, rows).tolist() == [True, True, False, False]
    assert is_motor(view, rows[::-1]).tolist() == [False, False, True, True]


def test_in_lane_ahead_boundaries() -> None:
    view = _view(
        ("ego", 0.0, 0.0, 10.0, 0.0),
        ("ahead", 0.0, 30.0, 10.0, 0.0),
        ("behind", 0.0, -30.0, 10.0, 0.0),
        ("level", 0.0, 0.0, 10.0, 0.0),  # alongside: not ahead
        ("edge", 1.5, 40.0, 10.0, 0.0),  # lateral offset = half width: in the lane
        ("beside", 1.7, 50.0, 10.0, 0.0),
        ("turned", 0.0, 60.0, 10.0, 29.0),
        ("crossing", 0.0, 70.0, 10.0, 31.0),
        ("stopped-askew", 0.0, 80.0, 0.9, 90.0),  # nearly stopped: any heading
        ("moving-askew", 0.0, 90.0, 1.0, 90.0),
        ("overpass", 0.0, 35.0, 10.0, 0.0),
        overpass={"elevation_m": 8.0},
        ego={"elevation_m": 0.0},
    )
    others = [i for i in view.ids if i != "ego"]
    t = _pairs(view, [("ego", o) for o in others])
    keep = in_lane_ahead(t, half_width_m=1.5, max_heading_diff_deg=30.0)
    assert {o for o, k in zip(others, keep.tolist(), strict=True) if k} == {
        "ahead",
        "edge",
        "turned",
        "stopped-askew",
    }
    slower = in_lane_ahead(t, half_width_m=1.5, max_heading_diff_deg=30.0, moving_mps=0.5)
    assert "stopped-askew" not in {o for o, k in zip(others, slower.tolist(), strict=True) if k}


def test_gap_is_bumper_to_bumper() -> None:
    view = _view(("a", 0.0, 0.0, 5.0, 0.0), ("b", 0.0, 20.0, 5.0, 0.0), b={"length_m": 9.5})
    assert gap_m(_pairs(view, [("a", "b"), ("b", "a")])).tolist() == pytest.approx([13.0, -27.0])


def test_toward_pairs_every_neighbour_with_the_subject_as_other() -> None:
    view = _view(
        ("hazard", 0.0, 0.0, 0.0, 0.0),
        ("near", 0.0, -30.0, 10.0, 0.0),
        ("side", 39.0, 0.0, 10.0, 0.0),
        ("far", 0.0, -41.0, 10.0, 0.0),
    )
    subjects = np.zeros(len(view.ids), dtype=bool)
    subjects[view.row_of("hazard")] = True
    assert _named(view, toward(view, subjects, 40.0)) == {("near", "hazard"), ("side", "hazard")}


def test_following_in_lane_needs_a_moving_motor_ego() -> None:
    view = _view(
        ("lead", 0.0, 50.0, 0.0, 0.0),
        ("car", 0.0, 0.0, 5.0, 0.0),
        ("slow-car", 0.2, 10.0, 4.9, 0.0),
        ("bike", -0.2, 20.0, 8.0, 0.0),
        ("unknown", 0.1, 30.0, 8.0, 0.0),
        bike={"kind": CYCLIST},
        unknown={"kind": UNKNOWN},
    )
    followers = ["car", "slow-car", "bike", "unknown"]
    t = _pairs(view, [(f, "lead") for f in followers])
    keep = following_in_lane(t, half_width_m=1.5, max_heading_diff_deg=30.0, min_speed_mps=5.0)
    assert keep.tolist() == [True, False, False, True]


def test_same_way_pairs_aligned_or_one_standing_on_the_same_level() -> None:
    view = _view(
        ("a", 0.0, 0.0, 10.0, 0.0),
        ("aligned", 5.0, 10.0, 10.0, 20.0),
        ("opposite", -5.0, 10.0, 10.0, 180.0),
        ("stopped", 0.0, -10.0, 0.9, 180.0),
        ("barely-moving", 10.0, -10.0, 1.0, 180.0),
        ("above", 0.0, 20.0, 10.0, 0.0),
        ("out", 0.0, 80.0, 10.0, 0.0),
        above={"elevation_m": 9.0},
        a={"elevation_m": 0.0},
    )
    got = {p for p in _unordered(view, same_way(view, 50.0, 30.0)) if "a" in p}
    assert got == {frozenset({"a", "aligned"}), frozenset({"a", "stopped"})}


def test_moving_motor_pairs_and_their_directed_form() -> None:
    view = _view(
        ("car", 0.0, 0.0, 5.0, 0.0),
        ("queued", 0.0, 10.0, 0.0, 90.0),  # standing: any heading, the car moves
        ("slow", 20.0, 0.0, 4.0, 0.0),
        ("slower", 20.0, 10.0, 3.0, 0.0),  # neither of slow/slower reaches 4.5
        ("ped", -5.0, 0.0, 5.0, 0.0),
        ("against", 0.0, -10.0, 5.0, 180.0),
        ped={"kind": PEDESTRIAN},
    )
    pairs = _unordered(view, moving_motor_pairs(view, 30.0, 30.0, 4.5))
    assert pairs == {
        frozenset({"car", "queued"}),
        frozenset({"car", "slow"}),
        frozenset({"car", "slower"}),
        frozenset({"against", "queued"}),  # one standing: the heading does not matter
    }
    directed = _named(view, moving_motor_directed(view, 30.0, 30.0, 4.5))
    assert directed == {
        ("car", "queued"),
        ("car", "slow"),
        ("car", "slower"),
        ("against", "queued"),
    }
    looser = _named(view, moving_motor_directed(view, 30.0, 30.0, 4.0))
    assert ("slow", "car") in looser and ("slow", "slower") in looser
    assert ("slower", "slow") not in looser


def test_first_per_ego_takes_the_smallest_key_of_each_ego() -> None:
    ego = np.array([3, 1, 3, 1, 2, 3], dtype=np.int64)
    key = np.array([5.0, 9.0, 2.0, 7.0, 1.0, 2.5])
    assert sorted(first_per_ego(ego, key).tolist()) == [2, 3, 4]
    empty = first_per_ego(np.empty(0, dtype=np.int64), np.empty(0))
    assert empty.dtype == np.int64 and empty.size == 0


def test_with_map_lanes_the_lanes_decide_where_both_are_matched() -> None:
    from _roadside_scene import junction_map, vehicle, view_of

    # lanes 1 (x = 0) and 2 (x = 3.5) run north to the stop line at y = 0
    view = view_of(
        junction_map(),
        vehicle("ego", 0.0, -150.0, 10.0),
        vehicle("next-lane", 3.5, -120.0, 10.0),  # near enough laterally, but another lane
        vehicle("same-lane", 0.6, -100.0, 10.0),  # offset more than the half width, same lane
        vehicle("off-map", 60.0, -90.0, 10.0),  # unmatched: the lateral offset decides
    )
    lanes = {pid: int(view.lane[view.row_of(pid)]) for pid in view.ids}
    assert lanes["ego"] >= 0 and lanes["same-lane"] == lanes["ego"]
    assert lanes["next-lane"] >= 0 and lanes["next-lane"] != lanes["ego"] and lanes["off-map"] < 0
    others = ["next-lane", "same-lane", "off-map"]
    t = _pairs(view, [("ego", o) for o in others])
    assert in_lane_ahead(t, half_width_m=4.0, max_heading_diff_deg=30.0).tolist() == [
        False,
        True,
        False,
    ]
    assert in_lane_ahead(t, half_width_m=0.5, max_heading_diff_deg=30.0).tolist() == [
        False,
        True,
        False,
    ]
    assert in_lane_ahead(t, half_width_m=61.0, max_heading_diff_deg=30.0).tolist() == [
        False,
        True,
        True,
    ]


def test_a_zero_degree_tolerance_still_takes_exactly_the_same_heading() -> None:
    view = _view(
        ("a", 0.0, 0.0, 10.0, 0.0),
        ("b", 0.0, 20.0, 10.0, 0.0),
        ("c", 0.0, 0.4, 10.0, 0.0),  # just ahead, well under a metre
    )
    t = _pairs(view, [("a", "b"), ("a", "c")])
    assert in_lane_ahead(t, half_width_m=1.5, max_heading_diff_deg=0.0).tolist() == [True, True]
    assert _unordered(view, same_way(view, 50.0, 0.0)) == {
        frozenset({"a", "b"}),
        frozenset({"a", "c"}),
        frozenset({"b", "c"}),
    }
    assert len(moving_motor_pairs(view, 50.0, 0.0, 5.0)) == 3


def test_same_way_and_moving_pairs_per_tolerance_on_one_view() -> None:
    view = _view(
        ("a", 0.0, 0.0, 10.0, 0.0),
        ("b", 5.0, 0.0, 10.0, 20.0),
        ("opposite-slowly", 0.0, 10.0, 1.0, 180.0),  # not standing: 1 m/s moves
        ("opposite-walking", 10.0, 10.0, 1.5, 180.0),
    )
    wide, narrow = same_way(view, 50.0, 30.0), same_way(view, 50.0, 10.0)
    assert frozenset({"a", "b"}) in _unordered(view, wide)
    assert frozenset({"a", "b"}) not in _unordered(view, narrow)
    assert _unordered(view, moving_motor_pairs(view, 50.0, 30.0, 5.0)) == {frozenset({"a", "b"})}
    subjects = np.zeros(len(view.ids), dtype=bool)
    subjects[view.row_of("a")] = True
    near = toward(view, subjects, 7.0)
    assert near.dist_m.tolist() == pytest.approx([5.0], abs=0.01)


def test_an_other_on_a_map_lane_is_not_ahead_of_an_ego_standing_beyond_it() -> None:
    """Issue 15 (background_district, t=85 s): an ego leaving a junction box (no lane match)
    sees a car queued on an ingress lane of that junction on its (lagging) turning arc; the
    queued car faces along its lane, with the ego in front of it, so it is not ahead of the
    ego in its lane. The same car with the ego coming from behind it still is."""
    from v2xcloud.model import Lane, MapData, MapLink, MapNode, NodeId

    lat, lon = TEST_FRAME.to_wgs84(np.zeros(2), np.array([-100.0, 0.0]))
    lane = Lane(lane_id=1, width_m=3.5, points=tuple(zip(lat.tolist(), lon.tolist(), strict=True)))
    node_lat, node_lon = TEST_FRAME.to_wgs84(0.0, 10.0)
    link = MapLink(upstream_node=NodeId(region=1, id=2), lanes=(lane,))
    node = MapNode(
        id=NodeId(region=1, id=1),
        lat_deg=float(node_lat),
        lon_deg=float(node_lon),
        in_links=(link,),
    )
    for ego_xy, ego_h, expected in (((-14.1, -4.87), 110.0, False), ((0.0, -30.0), 0.0, True)):
        scene = Scene(TEST_FRAME)
        scene.ingest(MapData(msg_count=1, nodes=(node,)), received_at_ms=T, source="map")
        for pid, x, y, v, h in (("ego", *ego_xy, 6.0, ego_h), ("queued", 0.0, -10.0, 0.0, 0.0)):
            state = state_at(pid, x_m=x, y_m=y, t_ms=T, speed_mps=v, heading_deg=h)
            scene.ingest(state, received_at_ms=T, source="obu")
        view = scene.update(T)
        assert view.lane[view.row_of("queued")] >= 0
        pairs = _pairs(view, [("ego", "queued")])
        ahead = in_lane_ahead(pairs, half_width_m=1.8, max_heading_diff_deg=30.0)
        assert bool(ahead[0]) is expected
