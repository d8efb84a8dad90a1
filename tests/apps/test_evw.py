"""EVW: an emergency vehicle on a call approaching from behind or across."""

from __future__ import annotations

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.evw import EmergencyVehicleWarning
from v2xcloud.model import AdvisoryLevel, EmergencyState

ON_CALL = {
    "emergency": EmergencyState(response_type="emergency", siren="inUse", lights="inUse"),
    "vehicle_class": 65,
}


def test_vehicles_ahead_of_an_approaching_ambulance_are_told_to_make_way() -> None:
    ambulance = Mover("ambulance", straight(0, 0, 20.0, 0.0), fields=ON_CALL)
    ahead = Mover("ahead", straight(0, 150.0, 10.0, 0.0))  # reached in 15 s
    crossing = Mover("crossing", straight(-8.0, 120.0, 0.0, 90.0))  # waiting at a side road
    out = run(EmergencyVehicleWarning(), [ambulance, ahead, crossing], seconds=12.0)
    hit = first(out, "ahead", "ambulance")
    assert hit is not None and 4.9 <= hit[0] <= 5.2  # 10 s before it is reached
    assert hit[1].level == AdvisoryLevel.WARNING
    assert any(a.level == AdvisoryLevel.IMMINENT and a.ego_id == "ahead" for _, a in out)
    assert first(out, "crossing", "ambulance") is not None
    assert first(out, "ambulance") is None


def test_no_warning_when_off_call_passed_or_on_another_level() -> None:
    off_call = Mover("off", straight(0, 0, 20.0, 0.0), fields={"vehicle_class": 65})
    ahead = Mover("ahead", straight(0, 100.0, 10.0, 0.0))
    assert run(EmergencyVehicleWarning(), [off_call, ahead], seconds=3.0) == []
    ambulance = Mover(
        "ambulance", straight(0, 0, 20.0, 0.0), fields={**ON_CALL, "elevation_m": 10.0}
    )
    behind = Mover("behind", straight(0, -50.0, 15.0, 0.0), fields={"elevation_m": 10.0})  # passed
    below = Mover("below", straight(0, 80.0, 10.0, 0.0), fields={"elevation_m": 0.0})
    assert run(EmergencyVehicleWarning(), [ambulance, behind, below], seconds=3.0) == []


def test_only_vehicles_in_its_way_are_warned() -> None:
    """Oncoming traffic, a parallel road, a car two lanes over and a cross-street car that
    reaches the crossing long after the ambulance has passed are not in its way (the demo
    district's false EVW warnings); the car ahead in the lane beside is."""
    ambulance = Mover("ambulance", straight(0, 0, 18.0, 0.0), fields=ON_CALL)
    beside = Mover("beside", straight(3.2, 100.0, 10.0, 0.0))  # lane beside, ahead
    oncoming = Mover("oncoming", straight(-6.4, 160.0, 9.0, 180.0))  # other side of the road
    parallel = Mover("parallel", straight(-160.0, 150.0, 14.0, 180.0))  # a parallel street
    two_over = Mover("two_over", straight(7.0, 80.0, 10.0, 0.0))  # two lanes over
    late = Mover("late", straight(-140.0, 100.0, 8.0, 90.0))  # crossing in ~17 s, ambulance ~5.5 s
    movers = [ambulance, beside, oncoming, parallel, two_over, late]
    out = run(EmergencyVehicleWarning(), movers, seconds=4.0)
    assert {a.ego_id for _, a in out} == {"beside"}
