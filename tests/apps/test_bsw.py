"""BSW and LCW: the adjacent lane beside and behind the vehicle."""

from __future__ import annotations

import math

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.bsw import BlindSpotWarning, LaneChangeWarning
from v2xcloud.model import AdvisoryLevel

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


def test_drifting_towards_a_fast_closing_vehicle_is_imminent() -> None:
    ego = Mover("ego", _drift(0.0, 15.0, 0.8, 1.0))  # starts drifting right at 1 s, no signal
    fast = Mover("fast", straight(3.5, -40.0, 25.0, 0.0))  # reaches the blind spot in ~3 s
    out = run(LaneChangeWarning(), [ego, fast], seconds=2.5)
    hit = first(out, "ego", "fast")
    assert hit is not None and 1.0 <= hit[0] <= 1.3
    assert any(a.level == AdvisoryLevel.IMMINENT for _, a in out)


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
