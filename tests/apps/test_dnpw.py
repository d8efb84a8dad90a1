"""DNPW: overtaking into the opposing lane with oncoming traffic."""

from __future__ import annotations

from _roadside_scene import FRAME, NODE, latlon, view_of
from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.dnpw import DoNotPassWarning
from v2xcloud.model import (
    AdvisoryLevel,
    Connection,
    Lane,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantState,
)
from v2xcloud.twin.testing import state_at

LEFT = {"exterior_lights": frozenset({"leftTurnSignalOn"})}


def test_signalling_to_pass_with_oncoming_traffic_is_warned() -> None:
    ego = Mover("ego", straight(1.75, 0, 20.0, 0.0), fields=LEFT)
    slow = Mover("slow", straight(1.75, 25.0, 12.0, 0.0))
    oncoming = Mover("oncoming", straight(-1.75, 400.0, 20.0, 180.0))  # meet in ~10 s
    out = run(DoNotPassWarning(), [ego, slow, oncoming], seconds=3.0)
    hit = first(out, "ego", "oncoming")
    assert hit is not None
    _t_first, adv = hit
    assert adv.level == AdvisoryLevel.WARNING and adv.ttc_s is not None and adv.ttc_s >= 8.0
    assert first(out, "ego", "slow") is None


def test_already_in_the_opposing_lane_is_imminent() -> None:
    ego = Mover("ego", straight(-1.75, 0, 20.0, 0.0))  # overtaking, no signal any more
    oncoming = Mover("oncoming", straight(-1.75, 200.0, 20.0, 180.0))
    out = run(DoNotPassWarning(), [ego, oncoming], seconds=4.5)
    assert any(a.level == AdvisoryLevel.IMMINENT and a.ego_id == "ego" for _, a in out)


def test_no_warning_for_normal_two_way_traffic_or_a_clear_road() -> None:
    ego = Mover("ego", straight(1.75, 0, 20.0, 0.0))
    oncoming = Mover("oncoming", straight(-1.75, 150.0, 20.0, 180.0))
    assert run(DoNotPassWarning(), [ego, oncoming], seconds=3.0) == []
    signalling = Mover("sig", straight(1.75, 0, 20.0, 0.0), fields=LEFT)
    far = Mover("far", straight(-1.75, 800.0, 20.0, 180.0))  # beyond range and time
    assert run(DoNotPassWarning(), [signalling, far], seconds=2.0) == []


def test_no_warning_for_oncoming_traffic_on_a_road_below() -> None:
    ego = Mover("ego", straight(1.75, 0, 20.0, 0.0), fields={**LEFT, "elevation_m": 10.0})
    oncoming = Mover("oncoming", straight(-1.75, 150.0, 20.0, 180.0), fields={"elevation_m": 0.0})
    assert run(DoNotPassWarning(), [ego, oncoming], seconds=2.0) == []


def test_left_signal_without_a_slower_vehicle_ahead_is_no_pass() -> None:
    ego = Mover("ego", straight(1.75, 0, 20.0, 0.0), fields=LEFT)  # e.g. about to turn off
    oncoming = Mover("oncoming", straight(-1.75, 400.0, 20.0, 180.0))
    assert run(DoNotPassWarning(), [ego, oncoming], seconds=3.0) == []


def _one_lane_map(maneuver: str, *, lanes: int = 1) -> MapData:
    """North-bound link of ``lanes`` lanes (x = 0, 3.5, ...) to a stop line at y = 0."""
    conn = Connection(
        remote_node=NODE, remote_lane_id=11, phase_id=None, maneuvers=frozenset({maneuver})
    )
    link = MapLink(
        upstream_node=NodeId(region=None, id=1),
        lanes=tuple(
            Lane(
                lane_id=k + 1,
                lane_type="vehicle",
                points=(latlon(3.5 * k, -300), latlon(3.5 * k, 0)),
                connections=(conn,),
            )
            for k in range(lanes)
        ),
    )
    lat, lon = latlon(0, 10)
    return MapData(
        msg_count=1, nodes=(MapNode(id=NODE, lat_deg=lat, lon_deg=lon, in_links=(link,)),)
    )


def _dnpw_egos(road: MapData) -> set[str]:
    def car(pid: str, x: float, y: float, v: float, h: float, **f: object) -> ParticipantState:
        return state_at(pid, x_m=x, y_m=y, t_ms=0, speed_mps=v, heading_deg=h, frame=FRAME, **f)

    view = view_of(
        road,
        car("ego", 0.0, -100.0, 12.0, 0.0, **LEFT),
        car("slow", 0.0, -80.0, 5.0, 0.0),
        car("oncoming", -3.5, 50.0, 12.0, 180.0),  # meets the ego in ~6 s
    )
    return {a.ego_id for a in DoNotPassWarning().on_tick(view, 0)}


def test_indicating_to_turn_left_at_a_junction_or_on_a_multi_lane_road_is_no_pass() -> None:
    assert _dnpw_egos(_one_lane_map("maneuverStraightAllowed")) == {"ego"}  # a real pass
    assert _dnpw_egos(_one_lane_map("maneuverLeftAllowed")) == set()  # turning at the junction
    assert _dnpw_egos(_one_lane_map("maneuverStraightAllowed", lanes=2)) == set()
