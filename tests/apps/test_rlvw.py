"""RLVW: warns a vehicle that will run the red and cannot stop comfortably, nobody else."""

from __future__ import annotations

from _roadside_scene import FRAME, junction_map, spat, vehicle, view_of

from v2xcloud.apps._signals import red_at_arrival
from v2xcloud.apps.rlvw import RedLightViolationWarning, stopping_distance_m
from v2xcloud.model import AdvisoryLevel, LightState, ParticipantState
from v2xcloud.twin import Scene
from v2xcloud.twin.junction import PhaseTiming
from v2xcloud.twin.testing import state_at

RED, GREEN, YELLOW = LightState.RED, LightState.PROTECTED_GREEN, LightState.YELLOW


def _warned(*items: object) -> dict[str, AdvisoryLevel]:
    view = view_of(junction_map(), *items)
    return {a.ego_id: a.level for a in RedLightViolationWarning().on_tick(view, 0)}


def test_fast_vehicle_close_to_red_stop_line_is_warned() -> None:
    # 14 m/s needs 14 + 32.7 m to stop at 3 m/s²; an emergency stop (6 m/s²) needs 16.3 m
    red = spat(0, phase1=(RED, 20.0, GREEN, 50.0))
    warned = _warned(red, vehicle("a", 0, -20, 14.0), vehicle("a2", 0, -10, 14.0))
    assert warned == {"a": AdvisoryLevel.WARNING, "a2": AdvisoryLevel.IMMINENT}


def test_vehicle_that_can_still_stop_comfortably_is_not_warned() -> None:
    # 10 m/s at 80 m: stopping distance 10 + 16.7 m < 80 m
    assert _warned(spat(0, phase1=(RED, 20.0, GREEN, 50.0)), vehicle("b", 0, -80, 10.0)) == {}


def test_right_turn_allowed_on_red_is_not_warned() -> None:
    view = view_of(
        junction_map(right_on_red=True),
        spat(0, phase2=(RED, 20.0, GREEN, 50.0)),
        vehicle("c", 3.5, -20, 14.0),
    )
    assert RedLightViolationWarning().on_tick(view, 0) == []


def test_green_that_lasts_and_red_that_ends_before_arrival_are_not_warned() -> None:
    assert _warned(spat(0, phase1=(GREEN, 10.0, YELLOW, 13.0)), vehicle("d", 0, -20, 14.0)) == {}
    # red ends in 1 s, the vehicle needs 2.9 s to the line
    assert _warned(spat(0, phase1=(RED, 1.0, GREEN, 40.0)), vehicle("e", 0, -40, 14.0)) == {}


def test_yellow_that_turns_red_before_arrival_warns_with_ttc() -> None:
    # 14 m/s, 20 m before the line: stopping needs 4.9 m/s², more than firm braking
    view = view_of(
        junction_map(), spat(0, phase1=(YELLOW, 1.0, RED, 40.0)), vehicle("f", 0, -20, 14.0)
    )
    (adv,) = RedLightViolationWarning().on_tick(view, 0)
    assert adv.level is AdvisoryLevel.WARNING
    assert adv.ttc_s is not None and abs(adv.ttc_s - 20 / 14) < 0.05
    # at 30 m it needs 3.3 m/s²: a driver who sees the yellow stops (firmly, as SUMO's do)
    far = view_of(
        junction_map(), spat(0, phase1=(YELLOW, 1.0, RED, 40.0)), vehicle("f", 0, -30, 14.0)
    )
    assert RedLightViolationWarning().on_tick(far, 0) == []


def test_stopped_oncoming_and_off_lane_vehicles_are_ignored() -> None:
    items = (
        spat(0, phase1=(RED, 20.0, GREEN, 50.0)),
        vehicle("g", 0, -5, 0.5),
        vehicle("h", 0, -20, 14.0, heading_deg=180.0),
        vehicle("i", 30, -20, 14.0),
    )
    assert _warned(*items) == {}


def test_no_spat_means_no_warning() -> None:
    assert _warned(vehicle("j", 0, -20, 14.0)) == {}


def test_helpers() -> None:
    assert stopping_distance_m(10.0, decel_mps2=5.0, reaction_s=1.0) == 20.0
    assert red_at_arrival(PhaseTiming(light=RED, remaining_s=None), 100.0)
    assert red_at_arrival(
        PhaseTiming(light=GREEN, remaining_s=1.0, next_light=YELLOW, next_end_s=4.0), 5.0
    )
    assert not red_at_arrival(
        PhaseTiming(light=GREEN, remaining_s=1.0, next_light=YELLOW, next_end_s=4.0), 3.0
    )
    assert not red_at_arrival(PhaseTiming(light=LightState.DARK, remaining_s=None), 1.0)


def test_between_a_red_lane_and_a_green_lane_is_not_warned_but_between_two_reds_is() -> None:
    red, green = (RED, 20.0, GREEN, 50.0), (GREEN, 20.0, RED, 50.0)
    between = vehicle("k", 1.6, -20, 14.0)
    assert _warned(spat(0, phase1=red, phase2=green), between) == {}
    assert _warned(spat(0, phase1=red, phase2=red), between) == {"k": AdvisoryLevel.WARNING}


def test_vehicle_already_braking_to_stop_in_time_is_not_warned() -> None:
    red = spat(0, phase1=(RED, 20.0, GREEN, 50.0))

    def car(pid: str, accel_mps2: float) -> ParticipantState:
        return state_at(
            pid, x_m=0.0, y_m=-15.0, t_ms=0, speed_mps=14.0, frame=FRAME,
            accel_long_mps2=accel_mps2,
        )  # fmt: skip

    # 14 m/s at 15 m: stopping needs 6.5 m/s², more than an emergency stop (6 m/s²) unless
    # it brakes that hard already; braking at 5.5 m/s² is not enough, nor is coasting
    assert _warned(red, car("braking", -7.0)) == {}
    assert _warned(red, car("coasting", -0.3)) == {"coasting": AdvisoryLevel.IMMINENT}
    assert _warned(red, car("late", -5.5)) == {"late": AdvisoryLevel.IMMINENT}


def test_red_that_already_shows_is_judged_by_firm_braking() -> None:
    # 13.3 m/s at 25 m: no comfortable stop (0.7 s + 3 m/s² needs 38.8 m), but a driver who
    # sees red or yellow can brake firmly (4.5 m/s² needs 19.7 m) and stops in time; while
    # the light is still green (the change unseen) it is warned
    car = vehicle("c", 0, -25, 13.3)
    assert _warned(spat(0, phase1=(RED, 20.0, GREEN, 50.0)), car) == {}
    assert _warned(spat(0, phase1=(YELLOW, 1.0, RED, 40.0)), car) == {}
    assert _warned(spat(0, phase1=(GREEN, 1.0, RED, 40.0)), car) == {"c": AdvisoryLevel.WARNING}
    near = vehicle("c", 0, -18, 13.3)  # needs 4.9 m/s²: more than firm braking
    assert _warned(spat(0, phase1=(RED, 20.0, GREEN, 50.0)), near) == {"c": AdvisoryLevel.WARNING}


def test_a_driver_already_braking_is_not_warned_while_an_emergency_stop_still_stops_it() -> None:
    # 14 m/s, 18 m before a line whose yellow turns red in 1 s: needs 5.4 m/s² to stop there
    red = spat(0, phase1=(YELLOW, 1.0, RED, 40.0))

    def car(accel_mps2: float, y_m: float = -18.0) -> ParticipantState:
        return state_at(
            "k", x_m=0.0, y_m=y_m, t_ms=0, speed_mps=14.0, heading_deg=0.0, frame=FRAME,
            accel_long_mps2=accel_mps2,
        )  # fmt: skip

    assert _warned(red, car(0.0)) == {"k": AdvisoryLevel.WARNING}  # not braking: it runs
    assert _warned(red, car(-1.5)) == {}  # braking (1.5 m/s² so far): it is stopping
    # braking, but even an emergency stop (6 m/s²) cannot stop it in 14.5 m (needs 6.8 m/s²)
    assert _warned(red, car(-1.5, y_m=-14.5)) == {"k": AdvisoryLevel.IMMINENT}


def test_a_vehicle_silent_for_longer_than_max_silent_is_not_warned() -> None:
    """demo_district's false RLVW: a roadside track lost 0.8 s before, extrapolated at its
    last acceleration towards the red while the car braked to a stop. A track reported
    0.3 s ago, at the same place and speed now, is warned."""
    scene = Scene(FRAME)
    scene.ingest(junction_map(), received_at_ms=0, source="rsu")
    scene.ingest(spat(800, phase1=(RED, 20.0, GREEN, 50.0)), received_at_ms=800, source="rsu")
    for pid, t_ms in (("silent", 0), ("fresh", 500)):
        y = -20.0 - 14.0 * (800 - t_ms) / 1000.0  # at y = -20 m by now
        scene.ingest(vehicle(pid, 0, y, 14.0, t_ms=t_ms), received_at_ms=t_ms, source="rsu")
    advisories = RedLightViolationWarning().on_tick(scene.update(800), 800)
    assert {a.ego_id: a.level for a in advisories} == {"fresh": AdvisoryLevel.WARNING}
