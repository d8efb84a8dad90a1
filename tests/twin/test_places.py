"""Scene places: MAP + SPAT joined per intersection, RSI events expiring, lane matching."""

from __future__ import annotations

import math

import msgspec

from v2xcloud.model import (
    IntersectionState,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    PhaseState,
    RoadEvent,
    Rsi,
    SignalPhase,
    Spat,
)
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

NODE = NodeId(region=1, id=9)


def _map() -> MapData:
    lat, lon = TEST_FRAME.to_wgs84([1.75, 1.75], [-200.0, -10.0])
    lane = Lane(lane_id=1, width_m=3.5, points=tuple(zip(lat.tolist(), lon.tolist(), strict=True)))
    olat, olon = TEST_FRAME.to_wgs84(0.0, 0.0)
    node = MapNode(
        id=NODE,
        lat_deg=float(olat),
        lon_deg=float(olon),
        in_links=(MapLink(upstream_node=NodeId(region=1, id=8), lanes=(lane,)),),
    )
    return MapData(msg_count=1, nodes=(node,))


def _spat(light: LightState) -> Spat:
    phase = SignalPhase(phase_id=1, states=(PhaseState(light=light, likely_end_s=12.0),))
    return Spat(msg_count=1, intersections=(IntersectionState(node=NODE, phases=(phase,)),))


def test_spat_joins_its_map_node_and_lanes_are_matched() -> None:
    scene = Scene(TEST_FRAME)
    scene.ingest(_spat(LightState.RED), received_at_ms=0, source="rsu")  # SPAT before MAP
    scene.ingest(_map(), received_at_ms=10, source="rsu")
    scene.ingest(
        bsm_at("car", x_m=2.0, y_m=-60.0, t_ms=20, speed_mps=10.0), received_at_ms=20, source="obu"
    )
    view = scene.update(20)
    joined = view.intersections[NODE]
    assert joined.node is not None and joined.signal is not None
    assert joined.signal.phases[0].states[0].light is LightState.RED
    assert abs(joined.x_m or 0.0) < 0.01 and abs(joined.y_m or 0.0) < 0.01
    assert view.lane.tolist() == [0]
    assert view.lanes is not None and view.lanes.lanes[0].node == NODE
    assert abs(view.to_stop_m[0] - 50.0) < 0.1
    assert abs((view.lane_heading_deg[0] + 180.0) % 360.0 - 180.0) < 0.1  # the lane runs north


def test_an_unmatched_participant_has_no_lane_heading() -> None:
    scene = Scene(TEST_FRAME)
    scene.ingest(bsm_at("car", x_m=2.0, y_m=-60.0, t_ms=0), received_at_ms=0, source="obu")
    assert math.isnan(scene.update(0).lane_heading_deg[0])  # no MAP
    scene.ingest(_map(), received_at_ms=10, source="rsu")
    scene.ingest(bsm_at("off", x_m=40.0, y_m=-60.0, t_ms=10), received_at_ms=10, source="obu")
    view = scene.update(10)
    off = view.row_of("off")
    assert off is not None and view.lane[off] == -1 and math.isnan(view.lane_heading_deg[off])


def test_a_repeated_map_keeps_the_lane_map_and_a_changed_one_rebuilds_it() -> None:
    scene = Scene(TEST_FRAME)
    car = bsm_at("car", x_m=2.0, y_m=-60.0, t_ms=0, speed_mps=10.0)
    scene.ingest(_map(), received_at_ms=0, source="rsu")
    scene.ingest(car, received_at_ms=0, source="obu")
    first = scene.update(0).lanes
    for t in (100, 200):  # the RSU repeats its MAP (a new message, same nodes): kept as built
        repeat = msgspec.structs.replace(_map(), msg_count=t // 100 + 1, timestamp_ms=t)
        scene.ingest(repeat, received_at_ms=t, source="rsu")
        scene.ingest(car, received_at_ms=t, source="obu")
        view = scene.update(t)
        assert view.lanes is first and view.lane.tolist() == [0]
    # the lane moves 5 m east: the next view's lane map is a new one and the car is off it
    old = _map()
    lane = old.nodes[0].in_links[0].lanes[0]
    lat, lon = TEST_FRAME.to_wgs84([6.75, 6.75], [-200.0, -10.0])
    moved = msgspec.structs.replace(
        lane, points=tuple(zip(lat.tolist(), lon.tolist(), strict=True))
    )
    link = msgspec.structs.replace(old.nodes[0].in_links[0], lanes=(moved,))
    node = msgspec.structs.replace(old.nodes[0], in_links=(link,))
    scene.ingest(msgspec.structs.replace(old, nodes=(node,)), received_at_ms=300, source="rsu")
    scene.ingest(car, received_at_ms=300, source="obu")
    view = scene.update(300)
    assert view.lanes is not first and view.lanes is not None
    assert view.lane.tolist() == [-1]  # 4.75 m from the moved centre line: outside 1.75 + 0.5


def test_road_events_are_kept_until_they_end_or_are_not_repeated() -> None:
    scene = Scene(TEST_FRAME)
    rsi = Rsi(
        msg_count=1,
        rsu_id="r1",
        ref_lat_deg=28.19,
        ref_lon_deg=112.97,
        events=(
            RoadEvent(event_id=1, event_type=401, source="police", end_ms=5_000),
            RoadEvent(event_id=2, event_type=100, source="detection"),
        ),
    )
    scene.ingest(rsi, received_at_ms=0, source="rsu")
    assert len(scene.update(1_000).events) == 2
    assert [e.event.event_id for e in scene.update(6_000).events] == [2]
    assert scene.update(70_000).events == ()
