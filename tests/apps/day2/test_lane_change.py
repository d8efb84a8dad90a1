"""CLC and CVM on scripted scenes: the gap the planner picks, who is asked to do what, which
app answers which VIR, and every RSC encodes and decodes again (our codec; the reference
schema reads the same bytes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _roadside_scene import latlon, vehicle, view_of

from v2xcloud.apps.day2 import DAY2_APPS, Request
from v2xcloud.apps.day2.lane_change import (
    CooperativeLaneChange,
    CooperativeMerge,
    LaneChangeConfig,
    plan_gap,
)
from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.model.day2 import PathPoint, Rsc, Vir

EGO = "e000000000000001"
LANE_M = 3.2  # SUMO's default lane width: the bench's lanes


def _vir(behavior: set[str], *, path: tuple[PathPoint, ...] = ()) -> Request:
    lat, lon = latlon(0.0, 0.0)
    vir = Vir(
        msg_count=1, sender_id=EGO, timestamp_ms=0, ref_lat_deg=lat, ref_lon_deg=lon,
        behavior=frozenset(behavior), path=path,
    )  # fmt: skip
    return Request(message=vir, source="obu", received_at_ms=0)


def _road(*others: Any) -> Any:
    """The requester at (0, 0) heading east at 15 m/s in the right lane; ``others`` on the
    road too (x along, y = LANE_M is the lane to its left)."""
    return view_of(vehicle(EGO, 0.0, 0.0, 15.0, 90.0), *others)


def test_registered() -> None:
    assert CooperativeLaneChange in DAY2_APPS and CooperativeMerge in DAY2_APPS


def test_the_follower_beside_is_asked_to_open_the_gap() -> None:
    # target lane: a car 8 m behind the requester and one 30 m ahead; the gap between them
    # is too short for 15 m/s at a 1 s headway, and dropping back behind the first costs more
    follower = vehicle("f000000000000001", -8.0, LANE_M, 15.0, 90.0)
    leader = vehicle("a000000000000001", 30.0, LANE_M, 15.0, 90.0)
    view = _road(follower, leader)
    plan = plan_gap(view, view.row_of(EGO), +1, LaneChangeConfig())
    assert view.ids[plan.follower] == "f000000000000001"
    assert view.ids[plan.leader] == "a000000000000001"
    assert plan.gap_m < plan.needed_m and not plan.is_open
    assert plan.follower_speed_mps is not None and 9.0 <= plan.follower_speed_mps < 15.0

    out = CooperativeLaneChange().on_tick(view, [_vir({"laneChangingToLeft"})], 0)
    (sent,) = out
    rsc = sent.message
    assert isinstance(rsc, Rsc) and sent.kind == "RSC"
    by_id = {c.vehicle_id: c for c in rsc.coordinations}
    assert by_id[EGO].suggestion == {"laneChangingToLeft"}
    assert by_id["f000000000000001"].suggestion == {"slow-down"}
    assert by_id["f000000000000001"].path_guidance[0].speed_mps == pytest.approx(
        plan.follower_speed_mps
    )
    assert by_id["a000000000000001"].suggestion == {"goStraightForward"}
    assert all(c.info == {"cooperativeLaneChanging"} for c in rsc.coordinations)
    assert set(sent.recipients) == set(by_id)
    raw = encode_model(rsc, message_set=MessageSet.CSAE2020)
    back = decode(raw, message_set=MessageSet.CSAE2020, received_at_ms=0)
    assert isinstance(back, Decoded) and back.to_model().vehicle_ids == rsc.vehicle_ids


def test_an_open_gap_asks_nobody_to_slow() -> None:
    far_behind = vehicle("f000000000000001", -60.0, LANE_M, 15.0, 90.0)
    far_ahead = vehicle("a000000000000001", 60.0, LANE_M, 15.0, 90.0)
    other_side = vehicle("r000000000000001", 0.0, -LANE_M, 15.0, 90.0)  # right: not the target
    view = _road(far_behind, far_ahead, other_side)
    plan = plan_gap(view, view.row_of(EGO), +1, LaneChangeConfig())
    assert plan.is_open and plan.follower_speed_mps is None and plan.speed_mps is None
    (sent,) = CooperativeLaneChange().on_tick(view, [_vir({"laneChangingToLeft"})], 0)
    suggestions = {c.vehicle_id: c.suggestion for c in sent.message.coordinations}
    assert suggestions["f000000000000001"] == {"goStraightForward"}
    assert "r000000000000001" not in suggestions


def test_oncoming_and_two_lanes_away_are_not_the_target_lane() -> None:
    oncoming = vehicle("o000000000000001", 5.0, LANE_M, 15.0, 270.0)
    two_away = vehicle("t000000000000001", 5.0, 2 * LANE_M, 15.0, 90.0)
    view = _road(oncoming, two_away)
    plan = plan_gap(view, view.row_of(EGO), +1, LaneChangeConfig())
    assert plan.follower is None and plan.leader is None


def test_merge_and_lane_change_are_answered_by_their_own_app() -> None:
    view = _road(vehicle("f000000000000001", -2.0, LANE_M, 15.0, 90.0))
    merge = _vir({"laneChangingToLeft", "rampIn"})
    change = _vir({"laneChangingToLeft"})
    assert CooperativeLaneChange().on_tick(view, [merge], 0) == []
    assert CooperativeMerge().on_tick(view, [change], 0) == []
    (sent,) = CooperativeMerge().on_tick(view, [merge], 0)
    assert all(c.info == {"cooperativeVehMerging"} for c in sent.message.coordinations)
    assert CooperativeMerge().on_tick(view, [_vir({"intersectionTurnLeft"})], 0) == []


def test_a_car_still_on_its_ramp_is_planned_where_its_path_takes_it() -> None:
    # the ramp car is 20 m right of the main road's right lane now; its planned path puts it
    # beside the main road in 4 s, where a main-road car will be level with it
    lat0, lon0 = latlon(40.0, -3.0)
    lat1, lon1 = latlon(60.0, 0.0)
    path = (
        PathPoint(lat_deg=lat0, lon_deg=lon0, speed_mps=15.0, time_s=3.0),
        PathPoint(lat_deg=lat1, lon_deg=lon1, speed_mps=15.0, time_s=4.0),
    )
    ramp_car = vehicle(EGO, 0.0, -20.0, 15.0, 75.0)
    main = vehicle("f000000000000001", 0.0, LANE_M, 15.0, 90.0)  # at 60 m in 4 s
    view = view_of(ramp_car, main)
    (sent,) = CooperativeMerge().on_tick(
        view, [_vir({"laneChangingToLeft", "rampIn"}, path=path)], 0
    )
    by_id = {c.vehicle_id: c for c in sent.message.coordinations}
    assert "f000000000000001" in by_id  # asked to open (or keep) the gap at the merge


def test_unknown_requester_is_counted_not_answered() -> None:
    app = CooperativeLaneChange()
    view = view_of(vehicle("f000000000000001", -2.0, LANE_M, 15.0, 90.0))
    assert app.on_tick(view, [_vir({"laneChangingToLeft"})], 0) == []
    assert app.counts["requester_not_in_scene"] == 1
