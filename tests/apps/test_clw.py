"""CLW: ABS, traction or stability control events near other vehicles."""

from __future__ import annotations

import pytest
from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.clw import ControlLossWarning
from v2xcloud.model import BrakeState


@pytest.mark.parametrize(
    "fields",
    [
        {"vehicle_events": frozenset({"eventABSactivated"})},
        {"vehicle_events": frozenset({"eventTractionControlLoss"})},
        {"vehicle_events": frozenset({"eventStabilityControlactivated"})},
        {"brakes": BrakeState(stability="engaged")},
    ],
)
def test_followers_and_oncoming_traffic_are_warned(fields: dict[str, object]) -> None:
    skid = Mover("skid", straight(0, 100.0, 10.0, 0.0), fields=fields)
    follower = Mover("follower", straight(3.5, 20.0, 15.0, 0.0))  # next lane, same way
    oncoming = Mover("oncoming", straight(-3.5, 200.0, 15.0, 180.0))
    out = run(ControlLossWarning(), [skid, follower, oncoming], seconds=1.0)
    assert first(out, "follower", "skid") is not None and first(out, "follower", "skid")[0] == 0.0  # type: ignore[index]
    assert first(out, "oncoming", "skid") is not None


def test_no_warning_for_vehicles_moving_away_far_lanes_or_other_levels() -> None:
    skid = Mover(
        "skid",
        straight(0, 100.0, 10.0, 0.0),
        fields={"vehicle_events": frozenset({"eventABSactivated"}), "elevation_m": 0.0},
    )
    ahead = Mover("ahead", straight(0, 130.0, 15.0, 0.0))  # in front, driving away
    far_lane = Mover("far_lane", straight(12.0, 60.0, 15.0, 0.0))  # parallel road 12 m over
    bridge = Mover("bridge", straight(0, 50.0, 15.0, 0.0), fields={"elevation_m": 9.0})
    slower = Mover("slower", straight(0, 60.0, 8.0, 0.0))  # behind but falling back
    assert run(ControlLossWarning(), [skid, ahead, far_lane, bridge, slower], seconds=2.0) == []
