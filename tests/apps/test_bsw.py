"""BSW and LCW: the adjacent lane beside and behind the vehicle."""

from __future__ import annotations

import math

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.bsw import BlindSpotWarning, LaneChangeWarning
from v2xcloud.model import AdvisoryLevel, Lane, MapData, MapLink, MapNode, NodeId
from v2xcloud.twin.testing import TEST_FRAME

RIGHT = {"exterior_lights": frozenset({"rightTurnSignalOn"})}
LEFT = {"exterior_lights": frozenset({"leftTurnSignalOn"})}


def _drift(x0: float, speed: float, lateral_mps: float, start_s: float):
    def at(t: float) -> tuple[float, float, float, float]:
        drifting = t > start_s
        dx = max(t - start_s, 0.0) * lateral_mps
        heading = math.degrees(math.atan2(lateral_mps, speed)) if drifting else 0.0
        return x0 + dx, speed * t, math.hypot(speed, lateral_mps if drifting else 0.0), heading

    return at


def test_vehicle_in_blind_spot_gives_bsw_info() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    side = Mover("side", straight(3.5, -5.0, 15.0, 0.0))  # right lane, 5 m behind
    out = run(BlindSpotWarning(), [ego, side], seconds=2.0)
    hit = first(out, "ego", "side")
    assert hit is not None and hit[0] == 0.0 and hit[1].level == AdvisoryLevel.INFO
    assert first(out, "side", "ego") is None  # ego is ahead of side's blind spot


def test_signalling_into_an_occupied_gap_warns_lcw() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0), fields=RIGHT)
    side = Mover("side", straight(3.5, -5.0, 15.0, 0.0))
    out = run(LaneChangeWarning(), [ego, side], seconds=1.0)
    hit = first(out, "ego", "side")
    assert hit is not None and hit[0] == 0.0 and hit[1].level == AdvisoryLevel.WARNING


def _shifted(path, dy: float):  # type: ignore[no-untyped-def]
    return lambda t: (path(t)[0], path(t)[1] + dy, path(t)[2], path(t)[3])


def test_drifting_towards_a_fast_closing_vehicle_is_imminent() -> None:
    road = _road((1, [0.0, 3.5]))  # the lane's heading is the road's: drift relative to it
    ego = Mover("ego", _shifted(_drift(0.0, 15.0, 0.8, 1.0), -150.0))  # drifts right at 1 s
    fast = Mover("fast", straight(3.5, -190.0, 25.0, 0.0))  # reaches the blind spot in ~3 s
    out = run(LaneChangeWarning(), [ego, fast], seconds=2.5, maps=[road])
    hit = first(out, "ego", "fast")
    assert hit is not None and 1.5 <= hit[0] <= 1.8  # drifting without pause for 0.6 s
    assert any(a.level == AdvisoryLevel.IMMINENT for _, a in out)
    # without a lane the road's direction is unknown: only an indicator shows intent
    ego = Mover("ego", _drift(0.0, 15.0, 0.8, 1.0))
    fast = Mover("fast", straight(3.5, -40.0, 25.0, 0.0))
    assert run(LaneChangeWarning(), [ego, fast], seconds=2.5) == []


def test_no_lcw_for_signalling_towards_the_free_side() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0), fields=LEFT)
    side = Mover("side", straight(3.5, -5.0, 15.0, 0.0))
    assert run(LaneChangeWarning(), [ego, side], seconds=2.0) == []


def test_no_warning_for_parallel_traffic_ahead_or_two_lanes_over() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0), fields=RIGHT)
    ahead = Mover("ahead", straight(3.5, 12.0, 15.0, 0.0))
    far = Mover("far", straight(7.5, -3.0, 15.0, 0.0))
    oncoming = Mover("oncoming", straight(-3.5, 30.0, 15.0, 180.0))
    for app in (BlindSpotWarning(), LaneChangeWarning()):
        assert run(app, [ego, ahead, far, oncoming], seconds=2.0) == []


def test_no_warning_across_levels() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0), fields={**RIGHT, "elevation_m": 8.0})
    side = Mover("side", straight(3.5, -5.0, 15.0, 0.0), fields={"elevation_m": 0.0})
    assert run(LaneChangeWarning(), [ego, side], seconds=1.0) == []


def _road(*links: tuple[int, list[float]]) -> MapData:
    """North-bound links into a junction at y = 0: (upstream node id, lane centre x's); each
    lane runs from y = -200 to its stop line at y = 0 (3.2 m lanes)."""
    node = NodeId(region=None, id=7)

    def ll(x: float, y: float) -> tuple[float, float]:
        lat, lon = TEST_FRAME.to_wgs84(x, y)
        return float(lat), float(lon)

    in_links = tuple(
        MapLink(
            upstream_node=NodeId(region=None, id=up),
            lanes=tuple(
                Lane(lane_id=10 * up + k, lane_type="vehicle", width_m=3.2,
                     points=(ll(x, -200.0), ll(x, 0.0)))
                for k, x in enumerate(xs)
            ),
        )
        for up, xs in links
    )  # fmt: skip
    lat, lon = ll(0.0, 10.0)
    return MapData(
        msg_count=1, nodes=(MapNode(id=node, lat_deg=lat, lon_deg=lon, in_links=in_links),)
    )


def test_with_a_map_only_the_next_lane_of_the_same_link_is_adjacent() -> None:
    """Demo district's false LCW: a neighbour on another link (a queue on the next approach
    lane set, here a parallel link 3.2 m over) or a car in the junction box is not in the lane
    beside; the next lane of the same link is."""
    road = _road((1, [0.0, 3.2]), (2, [-3.2]))
    ego = Mover("ego", straight(0.0, -100.0, 12.0, 0.0), fields=RIGHT)
    same_link = Mover("same", straight(3.2, -106.0, 12.0, 0.0))
    assert first(run(LaneChangeWarning(), [ego, same_link], seconds=1.0, maps=[road]), "ego")
    left = Mover("ego", straight(0.0, -100.0, 12.0, 0.0), fields=LEFT)
    other_link = Mover("other", straight(-3.2, -106.0, 12.0, 0.0))
    assert run(LaneChangeWarning(), [left, other_link], seconds=1.0, maps=[road]) == []
    boxed = Mover("boxed", straight(0.0, 8.0, 6.0, 0.0), fields=LEFT)  # past the stop line
    behind = Mover("behind", straight(-3.2, -2.0, 12.0, 0.0))  # closing on it
    assert run(LaneChangeWarning(), [boxed, behind], seconds=1.0, maps=[road]) == []


def test_lateral_motion_is_the_egos_own_and_must_last() -> None:
    """A neighbour drifting towards the ego is no lane change of the ego (the pair's lateral
    rate said so before); a drift of 0.3 s (a jittery heading) is none either."""
    road = _road((1, [0.0, 3.2]))
    ego = Mover("ego", straight(0.0, -150.0, 14.0, 0.0))
    toward_ego = Mover("drifter", _drift(3.2, 14.0, -0.8, 0.0))
    toward_ego.path = _shifted(toward_ego.path, -154.0)
    out = run(LaneChangeWarning(), [ego, toward_ego], seconds=1.5, maps=[road])
    assert first(out, "ego") is None
    drift = _shifted(_drift(0.0, 15.0, 0.8, 0.5), -150.0)  # 0.3 s of drift, then straight
    twitch = Mover("ego", lambda t: drift(t) if t < 0.8 else (0.24, 15.0 * t - 150.0, 15.0, 0.0))
    side = Mover("side", straight(3.5, -155.0, 15.0, 0.0))
    assert run(LaneChangeWarning(), [twitch, side], seconds=2.0, maps=[road]) == []


def test_a_car_beside_and_slightly_ahead_occupies_the_gap() -> None:
    """Missed episodes: a car overlapping the ego's front half is beside it, not ahead."""
    ego = Mover("ego", straight(0, 0, 12.0, 0.0), fields=RIGHT)
    beside = Mover("beside", straight(3.2, 4.0, 12.0, 0.0))  # its rear 0.5 m behind our front
    assert first(run(LaneChangeWarning(), [ego, beside], seconds=1.0), "ego", "beside")
    crossing = Mover("crossing", straight(3.2, -6.0, 10.0, 25.0))  # not parallel: turning off
    assert run(LaneChangeWarning(), [ego, crossing], seconds=1.0) == []


def test_the_blind_zone_ends_three_metres_behind_the_rear_bumper() -> None:
    """ISO 17387's blind zone (and the bench's must-warn zone) ends 3 m behind the rear
    bumper: a car 4 m behind it at the same speed is not in the blind spot; 2 m behind it is.
    The old 6 m zone warned seconds early, and one long warning that begins more than the
    scorer's 3 s before the conflict does not count for it (background_grid2's misses)."""
    ego = Mover("ego", straight(0, 0, 12.0, 0.0), fields=RIGHT)
    far = Mover("far", straight(3.2, -8.5, 12.0, 0.0))  # its front 4.0 m behind our rear
    assert run(LaneChangeWarning(), [ego, far], seconds=1.0) == []
    assert run(BlindSpotWarning(), [ego, far], seconds=1.0) == []
    near = Mover("near", straight(3.2, -6.5, 12.0, 0.0))  # its front 2.0 m behind our rear
    assert first(run(LaneChangeWarning(), [ego, near], seconds=1.0), "ego", "near")


def test_a_car_turning_off_away_from_the_ego_is_not_beside_it() -> None:
    """Bench false LCW (grid, no MAP): a car ahead-beside turning off into the junction on
    the far side leaves the lane beside the ego; the same car driving on occupies it."""
    ego = Mover("ego", straight(0, 0, 9.0, 0.0), fields=RIGHT)

    def turning(t: float) -> tuple[float, float, float, float]:
        return 3.2 + 0.5 * t, 3.0 + 5.0 * t, 5.0, 12.0 + 20.0 * t

    away = Mover("away", turning, fields={"yaw_rate_dps": 20.0})  # turning right, on our right
    assert run(LaneChangeWarning(), [ego, away], seconds=0.5) == []
    on = Mover("on", straight(3.2, 3.0, 9.0, 0.0))
    assert first(run(LaneChangeWarning(), [ego, on], seconds=0.5), "ego", "on")
