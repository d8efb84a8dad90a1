"""EBW: hard braking ahead in the lane, also when it is two cars ahead."""

from __future__ import annotations

from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.ebw import EmergencyBrakeWarning
from v2xcloud.model import AdvisoryLevel, ParticipantSource


def _brakes_at(start_s: float, decel: float):
    def fields(t: float) -> dict[str, object]:
        if t < start_s:
            return {}
        return {"accel_long_mps2": -decel, "vehicle_events": frozenset({"eventHardBraking"})}

    return fields


def _braking_path(y0: float, speed: float, start_s: float, decel: float):
    before = straight(0, y0, speed, 0.0)
    after = straight(0, y0 + speed * start_s, speed, 0.0, accel_mps2=-decel)
    return lambda t: before(t) if t < start_s else after(t - start_s)


def test_followers_are_warned_the_tick_braking_starts() -> None:
    lead = Mover("lead", _braking_path(60.0, 16.0, 1.0, 7.0), fields_at=_brakes_at(1.0, 7.0))
    middle = Mover("middle", straight(0, 35.0, 16.0, 0.0))
    ego = Mover("ego", straight(0, 10.0, 16.0, 0.0))
    out = run(EmergencyBrakeWarning(), [lead, middle, ego], seconds=3.0)
    for follower in ("middle", "ego"):  # the braking car two ahead is reported too
        hit = first(out, follower, "lead")
        assert hit is not None and hit[0] == 1.0
        assert hit[1].level in (AdvisoryLevel.WARNING, AdvisoryLevel.IMMINENT)
    t_mid = first(out, "middle", "lead")
    # no added delay: the warning leaves on the first tick of braking, with the physical TTC
    # (20.5 m gap, lead braking at 7 m/s² from the same speed: sqrt(2 * 20.5 / 7) = 2.42 s)
    assert t_mid is not None and t_mid[1].ttc_s is not None
    assert abs(t_mid[1].ttc_s - (2 * 20.5 / 7) ** 0.5) < 0.05
    assert any(a.level == AdvisoryLevel.IMMINENT and a.ego_id == "middle" for _, a in out)


def test_deceleration_alone_is_enough() -> None:
    lead = Mover("lead", _braking_path(40.0, 15.0, 0.5, 6.0))  # no flag: history gives -6 m/s²
    ego = Mover("ego", straight(0, 10.0, 15.0, 0.0))
    out = run(EmergencyBrakeWarning(), [lead, ego], seconds=1.5)
    assert first(out, "ego", "lead") is not None


def test_no_warning_for_gentle_braking_parallel_lanes_or_far_followers() -> None:
    gentle = Mover("gentle", _braking_path(40.0, 15.0, 0.5, 1.5), fields={"accel_long_mps2": -1.5})
    ego = Mover("ego", straight(0, 10.0, 15.0, 0.0))
    assert run(EmergencyBrakeWarning(), [gentle, ego], seconds=2.0) == []
    hard = Mover("hard", _braking_path(40.0, 15.0, 0.5, 7.0), fields_at=_brakes_at(0.5, 7.0))
    beside = Mover("beside", straight(3.5, 10.0, 15.0, 0.0))
    far = Mover("far", straight(0, -100.0, 15.0, 0.0))  # 140 m behind: 9 s headway
    ahead = Mover("ahead", straight(0, 80.0, 15.0, 0.0))  # in front of the braking car
    assert run(EmergencyBrakeWarning(), [hard, beside, far, ahead], seconds=2.0) == []


def test_no_warning_to_a_car_on_the_bridge_above() -> None:
    hard = Mover(
        "hard",
        _braking_path(40.0, 15.0, 0.5, 7.0),
        fields={"elevation_m": 0.0},
        fields_at=_brakes_at(0.5, 7.0),
    )
    over = Mover("over", straight(0, 10.0, 15.0, 0.0), fields={"elevation_m": 9.0})
    assert run(EmergencyBrakeWarning(), [hard, over], seconds=2.0) == []


def test_a_lead_seen_only_by_roadside_perception_is_warned_once_its_braking_is_sure() -> None:
    """No BSM, no event flag: a roadside track's speeds alone (its acceleration σ ≈ 0.6 m/s²)
    make a 7 m/s² brake sure within ~0.3 s; a 2 m/s² slowdown never becomes hard braking."""
    rsm = {"source": ParticipantSource.RSM}
    lead = Mover("lead", _braking_path(60.0, 18.0, 1.0, 7.0), fields=rsm)
    ego = Mover("ego", straight(0, 25.0, 18.0, 0.0))
    hit = first(run(EmergencyBrakeWarning(), [lead, ego], seconds=2.5), "ego", "lead")
    assert hit is not None and 1.0 < hit[0] <= 1.5
    soft = Mover("soft", _braking_path(60.0, 18.0, 1.0, 2.0), fields=rsm)
    assert run(EmergencyBrakeWarning(), [soft, ego], seconds=3.0) == []
