"""AVW: hazard lights, disabled vehicles and stranded vehicles ahead; queues are normal."""

from __future__ import annotations

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.avw import AbnormalVehicleWarning, AvwConfig
from v2xcloud.model import AdvisoryLevel, Lane, MapData, MapLink, MapNode, NodeId
from v2xcloud.twin.testing import TEST_FRAME

_LEFT = {"exterior_lights": frozenset({"leftTurnSignalOn"})}


def _northbound_map(stop_line_y: float) -> MapData:
    """One intersection at the origin with a northbound lane (x = 0) ending at the stop line."""
    lat, lon = TEST_FRAME.to_wgs84([0.0, 0.0, 0.0], [-300.0, -150.0, stop_line_y])
    lane = Lane(lane_id=1, width_m=3.5, points=tuple(zip(lat.tolist(), lon.tolist(), strict=True)))
    olat, olon = TEST_FRAME.to_wgs84(0.0, 0.0)
    return MapData(
        msg_count=1,
        nodes=(
            MapNode(
                id=NodeId(region=1, id=7),
                lat_deg=float(olat),
                lon_deg=float(olon),
                in_links=(MapLink(upstream_node=NodeId(region=1, id=6), lanes=(lane,)),),
            ),
        ),
    )


def test_hazard_lights_ahead_warn_approaching_followers() -> None:
    broken = Mover(
        "broken",
        straight(0, 140.0, 0.0, 0.0),
        fields={"exterior_lights": frozenset({"hazardSignalOn"})},
    )
    ego = Mover("ego", straight(0, 0, 15.0, 0.0))
    out = run(AbnormalVehicleWarning(), [broken, ego], seconds=9.0)
    hit = first(out, "ego", "broken")
    assert hit is not None and hit[0] == 0.0  # at once, 135 m ahead: ~9 s lead time
    assert any(a.level == AdvisoryLevel.IMMINENT for _, a in out)


def test_disabled_event_and_a_long_unexplained_stop() -> None:
    disabled = Mover(
        "disabled",
        straight(0, 100.0, 0.0, 0.0),
        fields={"vehicle_events": frozenset({"eventDisabledVehicle"})},
    )
    ego = Mover("ego", straight(0, 0, 10.0, 0.0))
    assert first(run(AbnormalVehicleWarning(), [disabled, ego], seconds=1.0), "ego", "disabled")
    stranded = Mover("stranded", straight(0, 200.0, 0.0, 0.0))
    late = Mover("late", straight(0, 0, 12.0, 0.0))
    # no MAP: a silent stop may be a queue's head at a red until it outlasts a signal cycle
    assert run(AbnormalVehicleWarning(), [stranded, late], seconds=8.0) == []
    quick = AbnormalVehicleWarning(AvwConfig(unmatched_stopped_s=5.0))
    out = run(quick, [stranded, late], seconds=11.0)
    hit = first(out, "late", "stranded")
    assert hit is not None and 10.0 <= hit[0] <= 10.2  # after stopped_s = 10 s


def test_no_warning_for_a_stopped_queue_at_a_red_light() -> None:
    queue = [Mover(f"q{k}", straight(0, -12.5 - 7.0 * k, 0.0, 0.0)) for k in range(4)]
    ego = Mover("ego", straight(0, -150.0, 10.0, 0.0, accel_mps2=-0.9))
    app = AbnormalVehicleWarning()
    out = run(app, [*queue, ego], seconds=10.0, maps=[_northbound_map(-10.0)])
    assert out == []


def test_a_queue_without_a_map_is_still_not_abnormal_behind_its_head() -> None:
    queue = [Mover(f"q{k}", straight(0, 100.0 - 7.0 * k, 0.0, 0.0)) for k in range(3)]
    ego = Mover("ego", straight(0, -60.0, 12.0, 0.0))
    out = run(AbnormalVehicleWarning(), [*queue, ego], seconds=7.0)
    warned_about = {a.other_id for _, a in out}
    assert warned_about <= {"q0"}  # only the head of the queue is unexplained without a MAP


def test_no_warning_for_parallel_lanes_or_other_levels() -> None:
    broken = Mover(
        "broken",
        straight(0, 80.0, 0.0, 0.0),
        fields={"exterior_lights": frozenset({"hazardSignalOn"}), "elevation_m": 0.0},
    )
    side = Mover("side", straight(7.0, 0, 15.0, 0.0))
    over = Mover("over", straight(0, 0, 15.0, 0.0), fields={"elevation_m": 8.0})
    passed = Mover("passed", straight(0, 100.0, 15.0, 0.0))
    assert run(AbnormalVehicleWarning(), [broken, side, over, passed], seconds=3.0) == []


def test_no_warning_for_a_car_waiting_in_the_junction_or_waiting_to_turn() -> None:
    # the MAP node is at the origin; "inside" stands 5 m past the stop line (no lane match)
    inside = Mover("inside", straight(0, 5.0, 0.0, 0.0))
    ego = Mover("ego", straight(0, -150.0, 10.0, 0.0))
    road = [_northbound_map(-10.0)]
    assert run(AbnormalVehicleWarning(), [inside, ego], seconds=6.0, maps=road) == []
    # the same car standing alone 100 m beyond the junction is stranded
    beyond = Mover("beyond", straight(0, 150.0, 0.0, 0.0))
    late = Mover("late", straight(0, -50.0, 12.0, 0.0))
    out = run(AbnormalVehicleWarning(), [beyond, late], seconds=11.0, maps=road)
    hit = first(out, "late", "beyond")
    # after 10 s (UNEXPLAINED_STOP_S), as the stopped-vehicle detector: a car standing a few
    # seconds (letting a passenger out, parking) is not yet abnormal
    assert hit is not None and 10.0 <= hit[0] <= 10.2
    # ... unless it signals a turn (waiting to turn off, e.g. into a driveway)
    turning = Mover("turning", straight(0, 150.0, 0.0, 0.0), fields=_LEFT)
    assert run(AbnormalVehicleWarning(), [turning, late], seconds=11.0, maps=road) == []


def test_a_queue_showing_only_some_of_its_cars_is_not_abnormal() -> None:
    # a queue at its stop line (y = -10), 7.1 m a car; only every third car is connected: the
    # platform sees cars standing 21.3 m apart with nobody between (the gap is 16.3 m, more
    # than queue_gap_m), the tail 35.6 m from its stop line (beyond stop_line_m)
    seen = [Mover(f"q{k}", straight(0, -12.5 - 21.3 * k, 0.0, 0.0)) for k in range(3)]
    ego = Mover("ego", straight(0, -200.0, 12.0, 0.0, accel_mps2=-0.3))
    road = [_northbound_map(-10.0)]
    assert run(AbnormalVehicleWarning(), [*seen, ego], seconds=12.0, maps=road) == []
    # a car standing alone 60 m behind a car that drives on (not a queue) is stranded
    alone = Mover("alone", straight(0, 100.0, 0.0, 0.0))
    away = Mover("away", straight(0, 160.0, 1.5, 0.0))
    late = Mover("late", straight(0, -50.0, 12.0, 0.0))
    out = run(AbnormalVehicleWarning(), [alone, away, late], seconds=11.0, maps=road)
    hit = first(out, "late", "alone")
    assert hit is not None and 10.0 <= hit[0] <= 10.2
