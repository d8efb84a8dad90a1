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
    crossing = Mover("crossing", straight(-60.0, 120.0, 0.0, 90.0))  # waiting at a side road
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
