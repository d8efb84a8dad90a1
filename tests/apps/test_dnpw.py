"""DNPW: overtaking into the opposing lane with oncoming traffic."""

from __future__ import annotations

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.dnpw import DoNotPassWarning
from v2xcloud.model import AdvisoryLevel

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
