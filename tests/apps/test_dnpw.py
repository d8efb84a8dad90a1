"""DNPW: overtaking into the opposing lane with oncoming traffic."""

from __future__ import annotations

import math

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
    slow = Mover("slow", straight(1.75, 8.0, 12.0, 0.0))  # the car it passes
    oncoming = Mover("oncoming", straight(-1.75, 200.0, 20.0, 180.0))
    out = run(DoNotPassWarning(), [ego, slow, oncoming], seconds=4.5)
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


def _arc(cx: float, cy: float, r: float, h0: float, speed: float, yaw_dps: float):
    """A car turning at ``yaw_dps`` on a circle of radius ``r`` (heading ``h0`` at t = 0)."""

    def at(t: float) -> tuple[float, float, float, float]:
        h = h0 + yaw_dps * t
        a = math.radians(h - 90.0)  # centre to car, for a right-hand (clockwise) turn
        return cx + r * math.sin(a), cy + r * math.cos(a), speed, h

    return at


def test_no_pass_without_a_car_being_passed_or_with_a_turner_ahead() -> None:
    """The demo district's false DNPW warnings: a car leaving a junction with its heading
    still off the road's (an oncoming car sits on its heading line), a car in a turn queue
    behind a leader signalling left, an oncoming car turning in the junction ahead."""
    leaving = Mover("leaving", straight(0.0, 0.0, 14.0, -9.0))
    oncoming = Mover("oncoming", straight(-6.4, 45.0, 10.0, 180.0))
    assert run(DoNotPassWarning(), [leaving, oncoming], seconds=1.0) == []
    ego = Mover("ego", straight(1.75, 0, 20.0, 0.0), fields=LEFT)
    turner_ahead = Mover("turner", straight(1.75, 25.0, 12.0, 0.0), fields=LEFT)
    far_oncoming = Mover("far", straight(-1.75, 400.0, 20.0, 180.0))
    assert run(DoNotPassWarning(), [ego, turner_ahead, far_oncoming], seconds=2.0) == []
    slow = Mover("slow", straight(1.75, 25.0, 12.0, 0.0))
    turning = Mover("turning", _arc(-8.0, 60.0, 12.0, 180.0, 6.0, 28.0))  # in the junction
    out = run(DoNotPassWarning(), [ego, slow, turning], seconds=2.0)
    assert first(out, "ego", "turning") is None


def test_a_turning_signaller_makes_no_one_else_a_passer() -> None:
    """background_grid4_sparse: when every fast car signalling left was turning, the filtered
    (all-False) mask went on to the pass check as if it were rows, i.e. row 0 and 1: a car
    standing at a red light was warned of the oncoming traffic beside it."""
    standing = Mover("standing", straight(1.75, 0.0, 0.0, 0.0))
    oncoming = Mover("oncoming", straight(-1.75, 60.0, 9.0, 180.0))
    turner = Mover("turner", _arc(30.0, -40.0, 20.0, 0.0, 9.0, 25.8), fields=LEFT)
    out = run(DoNotPassWarning(), [standing, oncoming, turner], seconds=2.0)
    assert [(a.ego_id, a.other_id) for _, a in out] == []
