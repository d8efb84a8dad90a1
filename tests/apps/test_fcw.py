"""FCW: scripted approaches to a vehicle ahead, and the cases that must stay silent."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.fcw import FcwConfig, ForwardCollisionWarning
from v2xcloud.model import AdvisoryLevel, Lane, MapData, MapLink, MapNode, NodeId
from v2xcloud.twin.testing import TEST_FRAME


def _collision_time(gap0_m: float, closing_mps: float) -> float:
    return gap0_m / closing_mps


def test_stopped_lead_warns_with_full_lead_time_then_escalates() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    lead = Mover("lead", straight(0, 104.5, 0.0, 0.0))  # bumper gap 100 m
    out = run(ForwardCollisionWarning(), [ego, lead], seconds=6.6)
    hit = first(out, "ego", "lead")
    assert hit is not None
    t_first, adv = hit
    lead_time = _collision_time(100.0, 15.0) - t_first
    # the configured threshold at tick granularity; FCW warns when the TTC holds with one σ
    # of the closing speed (two BSM speeds, σ ≈ 0.2 m/s together): that may cost one tick
    assert lead_time >= 2.7 - 0.1
    assert adv.level == AdvisoryLevel.WARNING and adv.ttc_s == pytest.approx(lead_time, abs=0.05)
    levels = [a.level for _, a in out if a.ego_id == "ego"]
    assert AdvisoryLevel.IMMINENT in levels
    imminent_at = next(t for t, a in out if a.level == AdvisoryLevel.IMMINENT)
    assert _collision_time(100.0, 15.0) - imminent_at >= 1.5
    assert not [a for _, a in out if a.ego_id == "lead"]  # a stopped car gets no FCW


def test_a_lead_silent_for_longer_than_max_silent_ms_is_no_party() -> None:
    """A road user nobody has reported for 0.6 s is a guess (a leader whose track ended, on
    the K733 recording; a car that turned off the road, in the bench): no warning about it.
    The same lead silent for only 0.2 s at the warning still gets one."""
    # alone, the stopped lead is warned of at ~3.9 s (TTC 2.7 s at 15 m/s)
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    gone = Mover("lead", straight(0, 104.5, 0.0, 0.0), silent_after_s=3.3)
    assert first(run(ForwardCollisionWarning(), [ego, gone], seconds=4.3), "ego") is None
    late = Mover("lead", straight(0, 104.5, 0.0, 0.0), silent_after_s=3.7)
    hit = first(run(ForwardCollisionWarning(), [ego, late], seconds=4.3), "ego")
    assert hit is not None and hit[0] <= 4.0
    lenient = ForwardCollisionWarning(FcwConfig(max_silent_ms=900))
    assert first(run(lenient, [ego, gone], seconds=4.3), "ego") is not None


def test_slower_lead_and_custom_threshold() -> None:
    ego = Mover("ego", straight(0, 0, 20.0, 90.0))
    lead = Mover("lead", straight(64.5, 0.3, 10.0, 90.0))  # 60 m gap, closing at 10 m/s
    out = run(ForwardCollisionWarning(FcwConfig(warn_ttc_s=4.0)), [ego, lead], seconds=3.0)
    hit = first(out, "ego", "lead")
    assert hit is not None
    assert 6.0 - hit[0] >= 4.0 - 0.1  # one tick: the closing speed's σ (see above)


def test_no_warning_for_parallel_traffic_in_the_next_lane() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    side = Mover("side", straight(3.5, 30.0, 0.0, 0.0))  # stopped, one lane to the right
    assert run(ForwardCollisionWarning(), [ego, side], seconds=4.0) == []


def test_no_warning_across_levels_of_a_bridge() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0), fields={"elevation_m": 12.0})
    below = Mover("below", straight(0, 60.0, 0.0, 0.0), fields={"elevation_m": 3.0})
    assert run(ForwardCollisionWarning(), [ego, below], seconds=4.0) == []


def test_no_warning_in_a_stopped_queue() -> None:
    cars = [Mover(f"q{k}", straight(0, 7.0 * k, 0.0, 0.0)) for k in range(5)]
    assert run(ForwardCollisionWarning(), cars, seconds=2.0) == []


def test_no_warning_for_a_car_already_braking_comfortably_to_the_queue() -> None:
    # 12 m/s, 30 m from the last stopped car, braking at 2.6 m/s² (needs 2.4 m/s²)
    ego = Mover(
        "ego",
        straight(0, 0, 12.0, 0.0, accel_mps2=-2.6),
        fields_at=lambda t: {"accel_long_mps2": -2.6 if t < 4.6 else 0.0},
    )
    last = Mover("last", straight(0, 34.5, 0.0, 0.0))
    assert run(ForwardCollisionWarning(), [ego, last], seconds=5.0) == []


def test_hard_braking_still_warns_when_the_required_deceleration_is_not_comfortable() -> None:
    ego = Mover("ego", straight(0, 0, 20.0, 0.0, accel_mps2=-4.0), fields={"accel_long_mps2": -4.0})
    last = Mover("last", straight(0, 54.5, 0.0, 0.0))  # needs 4 m/s² > 3 m/s² comfortable
    out = run(ForwardCollisionWarning(), [ego, last], seconds=2.0)
    assert first(out, "ego", "last") is not None


def test_no_warning_when_paths_diverge() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    away = Mover("away", straight(0, 20.0, 15.0, 60.0))  # ahead, turning off to the right
    assert run(ForwardCollisionWarning(), [ego, away], seconds=3.0) == []


def test_does_not_flicker_or_repeat() -> None:
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    lead = Mover("lead", straight(0, 104.5, 0.0, 0.0))
    out = run(ForwardCollisionWarning(), [ego, lead], seconds=6.6)
    issued = [(t, a.level) for t, a in out]
    # one WARNING, refreshes only near expiry, one upgrade to IMMINENT, never back down
    assert [lvl for _, lvl in issued].count(AdvisoryLevel.IMMINENT) >= 1
    first_imminent = next(k for k, (_, lvl) in enumerate(issued) if lvl == AdvisoryLevel.IMMINENT)
    assert all(lvl == AdvisoryLevel.IMMINENT for _, lvl in issued[first_imminent:])
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(issued)]
    assert min(gaps) >= 0.1 and len(issued) <= 10


def _arc_lane(lane_id: int, radius_m: float) -> Lane:
    """A counter-clockwise arc around the origin from 0° to 180° (a left-hand curve)."""
    angles = np.radians(np.arange(0.0, 181.0, 2.0))
    lat, lon = TEST_FRAME.to_wgs84(radius_m * np.cos(angles), radius_m * np.sin(angles))
    return Lane(
        lane_id=lane_id, width_m=3.5, points=tuple(zip(lat.tolist(), lon.tolist(), strict=True))
    )


def _on_arc(radius_m: float, angle0_deg: float, speed_mps: float):
    def at(t: float) -> tuple[float, float, float, float]:
        a = math.radians(angle0_deg) + speed_mps * t / radius_m
        heading = math.degrees(math.atan2(-math.sin(a), math.cos(a))) % 360.0
        return radius_m * math.cos(a), radius_m * math.sin(a), speed_mps, heading

    return at


def test_map_lanes_keep_a_car_in_the_next_lane_of_a_curve_out_of_fcw() -> None:
    # on a 30 m curve a car stopped 20° ahead in the outer lane is only 1.5 m off the ego's
    # heading line: by geometry alone it looks like the lane ahead, by the MAP it is not
    lanes = MapData(
        msg_count=1,
        nodes=(
            MapNode(
                id=NodeId(region=1, id=1),
                lat_deg=28.19,
                lon_deg=112.97,
                in_links=(
                    MapLink(
                        upstream_node=NodeId(region=1, id=2),
                        lanes=(_arc_lane(1, 30.0), _arc_lane(2, 33.5)),
                    ),
                ),
            ),
        ),
    )
    ego = Mover("ego", _on_arc(30.0, 0.0, 8.0))
    outer = Mover("outer", _on_arc(33.5, 20.0, 0.0))
    assert (
        first(run(ForwardCollisionWarning(), [ego, outer], seconds=0.5), "ego", "outer") is not None
    )
    assert run(ForwardCollisionWarning(), [ego, outer], seconds=0.5, maps=[lanes]) == []
    inner = Mover("inner", _on_arc(30.0, 20.0, 0.0))  # the same, but in the ego's own lane
    assert first(
        run(ForwardCollisionWarning(), [ego, inner], seconds=0.5, maps=[lanes]), "ego", "inner"
    )


def _right_turn(radius: float, speed: float):
    """North-bound from (0, 0), turning right at once around (radius, 0) until heading east."""
    w = speed / radius

    def at(t: float) -> tuple[float, float, float, float]:
        a = min(w * t, math.pi / 2)
        extra = max(w * t - math.pi / 2, 0.0) * radius  # straight on east after the turn
        x = radius - radius * math.cos(a) + extra
        return x, radius * math.sin(a), speed, math.degrees(a)

    return at


def test_a_turning_car_is_not_warned_about_the_queue_in_the_opposite_lane() -> None:
    """Issue 15: a car turning right out of a junction sweeps its heading line across the
    queue waiting on the other side of its new street; its arc passes that queue by."""
    ego = Mover("ego", _right_turn(9.0, 6.0))
    queue = Mover("queue", straight(9.0 + 7.0, 9.0 + 3.5, 0.0, 270.0))  # westbound, stopped
    out = run(ForwardCollisionWarning(), [ego, queue], seconds=2.0)
    assert first(out, "ego", "queue") is None


def test_a_turning_car_is_warned_about_a_stopped_car_in_its_exit_lane() -> None:
    ego = Mover("ego", _right_turn(9.0, 6.0))
    stopped = Mover("stopped", straight(9.0 + 7.0, 9.0, 0.0, 90.0))  # in the lane it turns into
    out = run(ForwardCollisionWarning(), [ego, stopped], seconds=2.0)
    assert first(out, "ego", "stopped") is not None


def _left_arc(radius: float, speed: float):
    """North-bound from (0, 0), turning left around (-radius, 0) at a constant rate."""
    w = speed / radius

    def at(t: float) -> tuple[float, float, float, float]:
        a = w * t
        return -radius + radius * math.cos(a), radius * math.sin(a), speed, -math.degrees(a) % 360

    return at


def test_a_turning_car_is_not_warned_about_a_stopped_car_facing_it() -> None:
    """Issue 15 (background_district, t=99.5 s): a car starting a wide left turn; a car
    stopped on its arc faces it (150° off its heading: waiting in the opposite direction),
    even though it is only ~115° off the arc's heading there."""
    ego = Mover("ego", _left_arc(20.0, 3.0))
    facing = Mover("facing", straight(-3.4, 13.0, 0.0, 210.0))
    out = run(ForwardCollisionWarning(), [ego, facing], seconds=1.5)
    assert first(out, "ego", "facing") is None


def _approach_map() -> MapData:
    """One north-bound ingress lane (x = 0) to the stop line at y = 0 of a junction at y = 10."""
    from v2xcloud.model import Connection

    def ll(x: float, y: float) -> tuple[float, float]:
        lat, lon = TEST_FRAME.to_wgs84(x, y)
        return float(lat), float(lon)

    lane = Lane(
        lane_id=1,
        lane_type="vehicle",
        points=(ll(0, -300), ll(0, 0)),
        connections=(
            Connection(
                remote_node=NodeId(region=1, id=1),
                remote_lane_id=11,
                phase_id=1,
                maneuvers=frozenset({"maneuverStraightAllowed"}),
            ),
        ),
    )
    link = MapLink(upstream_node=NodeId(region=1, id=2), lanes=(lane,))
    lat, lon = ll(0, 10)
    node = MapNode(id=NodeId(region=1, id=1), lat_deg=lat, lon_deg=lon, in_links=(link,))
    return MapData(msg_count=1, nodes=(node,))


def test_a_car_standing_across_the_junction_box_is_no_leader() -> None:
    """A car waiting in the box across the ego's path to finish its turn is a crossing
    conflict (ICW and LTA judge it by its movement), not a leader in the ego's lane; the same
    car standing across the road 60 m before the stop line is an obstacle ahead."""
    ego = Mover("ego", straight(0.0, -60.0, 12.0, 0.0))
    boxed = Mover("boxed", straight(1.0, 12.0, 0.0, 262.0))
    assert first(run(ForwardCollisionWarning(), [ego, boxed], seconds=4.0), "ego", "boxed")
    assert run(ForwardCollisionWarning(), [ego, boxed], seconds=4.0, maps=[_approach_map()]) == []
    ego_far = Mover("ego", straight(0.0, -160.0, 12.0, 0.0))
    across = Mover("across", straight(1.0, -60.0, 0.0, 262.0))
    got = run(ForwardCollisionWarning(), [ego_far, across], seconds=8.0, maps=[_approach_map()])
    assert first(got, "ego", "across") is not None


def test_a_turner_waiting_just_past_the_stop_line_in_the_ego_lane_is_a_leader() -> None:
    """Issue 15 (busy backgrounds): a left turner waiting in the box just past the stop line,
    8 degrees into its turn and 0.7 m to the left, still blocks the lane it came from. SUMO's
    followers brake at their full 3.5 m/s2 and stop 0.4 m behind it (SSM stops measuring once
    the leader is on another internal lane, so the bench calls these warnings false): it is a
    leader, not a crossing conflict, both arriving at 12 m/s and pulling up at 3 m/s."""
    turner = Mover("turner", straight(-0.7, 3.0, 0.0, 352.0))
    arriving = Mover("ego", straight(0.0, -60.0, 12.0, 0.0))
    got = run(ForwardCollisionWarning(), [arriving, turner], seconds=4.0, maps=[_approach_map()])
    hit = first(got, "ego", "turner")
    assert hit is not None and hit[1].ttc_s is not None and hit[1].ttc_s <= 2.8
    creeping = Mover("ego", straight(0.0, -6.0, 3.0, 0.0, accel_mps2=1.0))  # 4.5 m bumper gap
    got = run(ForwardCollisionWarning(), [creeping, turner], seconds=1.0, maps=[_approach_map()])
    assert first(got, "ego", "turner") is not None
