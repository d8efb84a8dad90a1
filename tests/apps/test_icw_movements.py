"""ICW along MAP movements: paths, not straight lines, meet in conflict zones; right of way
from each movement's signal group; and what geometry alone may warn without a MAP."""

from __future__ import annotations

from _cross_junction import FRAME, NODE, PHASES, all_permissive, cross_map, spat
from _cross_junction import car as _car
from _settled import on_settled_tick
from _v2v_scenario import Mover, run, straight

from v2xcloud.apps.icw import IcwConfig, IntersectionCollisionWarning
from v2xcloud.model import (
    IntersectionState,
    LightState,
    ParticipantSource,
    PhaseState,
    SignalPhase,
    Spat,
)
from v2xcloud.twin import Scene

GO = LightState.PROTECTED_GREEN
BSM = ParticipantSource.BSM  # a self-report: its first speed is sure to 0.2 m/s


def car(pid: str, x: float, y: float, heading: float, speed: float, **kw: object) -> object:
    """``_cross_junction.car`` with a measured acceleration (0 unless given): ICW reads
    yielding from a party's acceleration and leaves a track whose acceleration is still
    unknown (a single report without one) alone; off the MAP its straight line needs a known
    yaw rate too."""
    kw.setdefault("accel_long_mps2", 0.0)
    kw.setdefault("yaw_rate_dps", 0.1)
    return _car(pid, x, y, heading, speed, **kw)


def _warned(*items: object) -> set[str]:
    scene = Scene(FRAME)
    for item in items:
        scene.ingest(item, received_at_ms=0, source="rsu")  # type: ignore[arg-type]
    return {
        adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), scene.update(0), 0)
    }


# "a" north-bound on the S lane and "b" west-bound on the E lane reach (1.75, 1.75), where
# their straight lines cross, together in 2.7 s
A = car("a", 1.75, -25.0, 0.0, 10.0)
B = car("b", 28.5, 1.75, 270.0, 10.0)


def test_a_right_turn_lane_does_not_cross_the_straight_line_it_points_along() -> None:
    assert _warned(*all_permissive(only={"S": "straight", "E": "straight"}), A, B) == {"a", "b"}
    # the same positions, but the S lane only turns right (into the east exit, behind "b"):
    # no indicator is shown, yet the MAP says its path never meets b's
    assert _warned(*all_permissive(only={"S": "right", "E": "straight"}), A, B) == set()


def test_movements_both_on_protected_green_are_separated_by_the_program() -> None:
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    assert _warned(lanes, spat(phase1=GO, phase2=GO), A, B) == set()


def test_a_red_holds_a_party_that_can_stop_but_not_a_runner() -> None:
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    red_for_b = spat(phase1=GO, phase2=LightState.RED)
    assert _warned(lanes, red_for_b, A, B) == set()  # b needs 2.4 m/s² to stop at x = 8
    # a runner: 14 m/s 10 m before its red line (needs 9.8 m/s²), 1.16 s from the crossing
    runner = car("b", 18.0, 1.75, 270.0, 14.0, source=BSM)
    a = car("a", 1.75, -9.85, 0.0, 10.0)
    assert _warned(lanes, red_for_b, a, runner) == {"a", "b"}


def _amber_in(after_s: float, **greens: LightState) -> Spat:
    """The junction's SPAT at t = 0: the groups in ``greens`` show their light for 30 s;
    group 2 shows permissive green for ``after_s``, then amber for 3 s."""
    states = (
        PhaseState(light=LightState.PERMISSIVE_GREEN, start_s=0.0, likely_end_s=after_s),
        PhaseState(light=LightState.YELLOW, start_s=after_s, likely_end_s=after_s + 3.0),
    )
    phases = (
        *(
            SignalPhase(
                phase_id=int(k.removeprefix("phase")),
                states=(PhaseState(light=light, start_s=0.0, likely_end_s=30.0),),
            )
            for k, light in greens.items()
        ),
        SignalPhase(phase_id=2, states=states),
    )
    state = IntersectionState(node=NODE, timestamp_ms=0, phases=phases)
    return Spat(msg_count=1, intersections=(state,), timestamp_ms=0)


def test_amber_at_the_line_holds_a_party_that_can_stop_but_not_one_past_it() -> None:
    """Amber tells a driver who has not crossed her line to stop (the implementing
    regulations of the road traffic safety law, art. 38): b, 20.5 m before it at 10 m/s
    (2.4 m/s² to stop), arrives 2.05 s from now, after her green's end in 1 s: held, as on
    red. Her green lasting past her arrival, or a runner 10 m before it at 14 m/s (9.8
    m/s², a on its protected green), is a party."""
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    permissive = LightState.PERMISSIVE_GREEN
    assert _warned(lanes, _amber_in(1.0, phase1=permissive), A, B) == set()
    assert _warned(lanes, _amber_in(3.0, phase1=permissive), A, B) == {"a", "b"}
    runner = car("b", 18.0, 1.75, 270.0, 14.0, source=BSM)
    a = car("a", 1.75, -9.85, 0.0, 10.0)
    assert _warned(lanes, _amber_in(0.5, phase1=GO), a, runner) == {"a", "b"}


def test_a_red_holds_a_driver_whom_firm_braking_stops_within_her_estimates_sigma() -> None:
    """Whether a driver can still stop is judged with the tracker's uncertainty: 21 m
    before her red line at 14 m/s she needs 4.67 m/s², but one σ slower and farther (her
    first BSM: 0.2 m/s, 1.5 m) 4.2, and is held (SUMO's drivers brake that late at 4.5
    m/s²; pvp_emergency: a filtered speed 0.3 m/s behind hers read 4.62 and warned both
    parties of a crossing she stopped short of); 17 m before it (5.8, at worst 5.1) she
    runs. A roadside track's first report (speed σ 4 m/s) is not yet known to run."""
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    red_for_b = spat(phase1=GO, phase2=LightState.RED)
    firm = car("b", 29.0, 1.75, 270.0, 14.0, source=BSM)
    assert _warned(lanes, red_for_b, car("a", 1.75, -17.75, 0.0, 10.0), firm) == set()
    runner = car("b", 25.0, 1.75, 270.0, 14.0, source=BSM)
    a = car("a", 1.75, -14.85, 0.0, 10.0)
    assert _warned(lanes, red_for_b, a, runner) == {"a", "b"}
    # the roadside's first report of the same runner: its speed is not known well enough yet
    assert _warned(lanes, red_for_b, a, car("b", 25.0, 1.75, 270.0, 14.0)) == set()


def test_a_party_braking_to_stop_before_the_conflict_zone_yields() -> None:
    lanes = all_permissive(only={"S": "straight", "E": "straight"})  # nobody has priority
    yielding = car("b", 28.5, 1.75, 270.0, 10.0, accel_long_mps2=-4.0)  # stops in 12.5 m
    assert _warned(*lanes, A, yielding) == set()
    late = car("b", 28.5, 1.75, 270.0, 10.0, accel_long_mps2=-1.0)  # needs 50 m: still comes
    assert _warned(*lanes, A, late) == {"a", "b"}


def test_without_map_a_braking_party_or_one_out_of_the_window_is_not_warned() -> None:
    north = Mover("north", straight(0, -72.0, 12.0, 0.0))
    east = Mover("east", straight(-60.0, 0, 10.0, 90.0))
    assert run(IntersectionCollisionWarning(), [north, east], seconds=6.0) != []
    braking = Mover(
        "east", straight(-60.0, 0, 10.0, 90.0), fields={"accel_long_mps2": -1.0}
    )  # slowing down: geometry alone cannot say it will be there
    assert run(IntersectionCollisionWarning(), [north, braking], seconds=6.0) == []


def test_a_minor_road_that_can_still_give_way_is_no_party_but_one_too_fast_is() -> None:
    """Unsignalised, the E arm gives way (a minor road in the MAP). b, 20.5 m before its line
    at 10 m/s, needs 2.4 m/s² to stop: it is expected to give way; at 14 m/s 10 m before it
    (9.8 m/s²) it cannot any more and both are warned. Without the give-way the law ranks
    them instead (``test_without_signs_the_car_from_the_right_and_the_straight_one_go_first``):
    b comes from a's right, and a, which can still stop, is held."""
    minor = cross_map(only={"S": "straight", "E": "straight"}, give_way=frozenset({"E"}))
    assert _warned(minor, A, B) == set()
    a = car("a", 1.75, -9.85, 0.0, 10.0)
    fast = car("b", 18.0, 1.75, 270.0, 14.0)
    assert _warned(minor, a, fast) == {"a", "b"}
    assert _warned(cross_map(only={"S": "straight", "E": "straight"}), A, B) == set()


def test_on_a_lane_a_crossing_short_of_the_stop_line_is_no_crossing() -> None:
    """With the MAP, a vehicle on an ingress lane follows it to its stop line: a straight
    line crossing its path there (the other on no movement) is no conflict; the same pair
    without the MAP is."""
    north = car("a", 1.75, -60.0, 0.0, 10.0)  # 52 m before its line
    across = car("b", 22.4, -48.0, 300.0, 10.0)  # off every lane: both reach (1.75, -36) at 2.4 s
    assert _warned(north, across) == {"a", "b"}
    assert _warned(cross_map(), north, across) == set()


def test_a_permissive_green_that_can_still_give_way_is_no_party_but_one_too_fast_is() -> None:
    """A permissive green says go if clear: b on one gives way to a on a protected green (or
    to a runner) while it can stop comfortably before the conflict zone (20.5 m before its
    line at 10 m/s it needs about 2 m/s²); 10 m before its line at 14 m/s it cannot any more
    and both are warned. Two permissive movements: neither has priority, both are."""
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    permissive = LightState.PERMISSIVE_GREEN
    assert _warned(lanes, spat(phase1=GO, phase2=permissive), A, B) == set()
    a = car("a", 1.75, -9.85, 0.0, 10.0)
    fast = car("b", 18.0, 1.75, 270.0, 14.0)
    assert _warned(lanes, spat(phase1=GO, phase2=permissive), a, fast) == {"a", "b"}
    both = spat(phase1=permissive, phase2=permissive)
    assert _warned(lanes, both, A, B) == {"a", "b"}


def test_a_driver_facing_red_who_can_still_stop_with_firm_braking_is_held() -> None:
    """Facing red, a driver brakes as firmly as a stop takes (4.5 m/s², RLVW's red test):
    b at 14 m/s 22.9 m before its line needs 4.3 m/s² and is held; 19 m before it (5.2
    m/s²) it runs the light and both are warned. a (green) and b reach the crossing
    together in about 2.1 s."""
    lanes = cross_map(phases=PHASES, only={"S": "straight", "E": "straight"})
    red_for_b = spat(phase1=GO, phase2=LightState.RED)
    a = car("a", 1.75, -19.1, 0.0, 10.0)
    assert _warned(lanes, red_for_b, a, car("b", 30.9, 1.75, 270.0, 14.0)) == set()
    a = car("a", 1.75, -15.3, 0.0, 10.0)
    runner = car("b", 27.0, 1.75, 270.0, 14.0, source=BSM)
    assert _warned(lanes, red_for_b, a, runner) == {"a", "b"}


def test_a_track_whose_acceleration_is_unknown_is_no_party_yet() -> None:
    """Issue 15: confidence, not single samples. b's one roadside report carries no
    acceleration: whether it is braking to yield is unknown (the tracker's prior, 3 m/s²),
    so the pair waits for the next reports; with a measured acceleration both are warned."""
    lanes = all_permissive(only={"S": "straight", "E": "straight"})
    assert _warned(*lanes, A, _car("b", 28.5, 1.75, 270.0, 10.0)) == set()
    assert _warned(*lanes, A, B) == {"a", "b"}


def test_a_minor_road_driver_who_may_still_stop_comfortably_within_her_sigma_gives_way() -> None:
    """unseen_crossing_priority: a driver pulling up to her give-way line, 5.1 m before it
    at 5.5 m/s, needed 3.01 m/s² to stop there, a centimetre past a comfortable stop: she was
    held by neither rule and both were warned of a crossing she never made. Within one σ
    of the tracker's speed and position she may still stop comfortably: held, as a red
    light holds (``_signals.may_stop``). Here 5.0 m before it (3.03 m/s²; her first BSM's
    σ 0.2 m/s and 1.5 m: at best 2.2). At 8 m/s (6.4 m/s², at best 4.6) she may not."""
    minor = cross_map(only={"S": "straight", "E": "straight"}, give_way=frozenset({"E"}))
    # her line at x = 8; both reach the crossing (1.75, 1.75) at about the same time
    pulling_up = car("b", 13.0, 1.75, 270.0, 5.5, source=BSM)
    assert _warned(minor, car("a", 1.75, -18.7, 0.0, 10.0), pulling_up) == set()
    too_fast = car("b", 13.0, 1.75, 270.0, 8.0, source=BSM)
    assert _warned(minor, car("a", 1.75, -12.3, 0.0, 10.0), too_fast) == {"a", "b"}


def test_a_minor_road_driver_braking_to_give_way_is_held_a_little_past_a_comfortable_stop() -> None:
    """b on the minor E arm, 25 m before its line at 14 m/s, needs 3.9 m/s² to stop there:
    more than a comfortable stop (3 m/s²). Braking at 3.2 m/s² already, it is giving way
    (a firm stop at 4.5 m/s² still stops it) and is no party, even when the track's estimate
    lags the brake (1 m/s²); cruising, it is not held and both are warned (they reach the
    crossing together in about 2.2 s)."""
    minor = cross_map(only={"S": "straight", "E": "straight"}, give_way=frozenset({"E"}))
    a = car("a", 1.75, -20.6, 0.0, 10.0)
    cruising = car("b", 33.0, 1.75, 270.0, 14.0, source=BSM)  # sure of its speed (0.2 m/s)
    assert _warned(minor, a, cruising) == {"a", "b"}
    for accel in (-3.2, -1.0):
        braking = car("b", 33.0, 1.75, 270.0, 14.0, accel_long_mps2=accel)
        assert _warned(minor, a, braking) == set()


def test_a_driver_pulling_away_is_timed_as_it_gains_speed() -> None:
    """a pulls away from its line (3 m/s, gaining 2.5 m/s²) 9 m before the crossing; b comes
    at 10 m/s. At its current speed a would reach the crossing with b 38 m out (both in
    about 3.6 s); gaining speed it is there in about 2 s and clear 1 s before b: no
    conflict. b 20 m out meets it as it gains speed: both are warned."""
    lanes = all_permissive(only={"S": "straight", "E": "straight"})
    a = car("a", 1.75, -9.0, 0.0, 3.0, accel_long_mps2=2.5)
    assert _warned(*lanes, a, car("b", 38.0, 1.75, 270.0, 10.0)) == set()
    assert _warned(*lanes, a, car("b", 20.0, 1.75, 270.0, 10.0)) == {"a", "b"}


def test_two_movements_merging_into_one_exit_lane_do_not_cross() -> None:
    """Issue 15: conflict zones are where movement paths cross. a turns right from the S arm
    into the east exit, b goes straight from the W arm into the same exit, both about to get
    there together: that is a merge into one lane (the bench scores it as a merging conflict,
    BSW/LCW's), not a crossing, so ICW leaves it alone, with the exit lane in the MAP or
    synthesised from the manoeuvre. b's arm gives way, but 10 m before its line at 12 m/s
    it can no longer (7.2 m/s²): right of way holds neither, only the merge can say. A
    crossing of the same two, b straight from the E arm instead, is warned."""
    a = car("a", 1.75, -24.0, 0.0, 8.0)  # 16 m before its line at turning speed
    b = car("b", -18.0, -1.75, 90.0, 12.0)
    for exits in (True, False):
        lanes = cross_map(
            only={"S": "right", "W": "straight"}, give_way=frozenset({"W"}), exits=exits
        )
        assert _warned(lanes, a, b) == set()
    a = car("a", 1.75, -25.0, 0.0, 10.0)
    assert _warned(*all_permissive(only={"S": "straight", "E": "straight"}), a, B) == {"a", "b"}


def test_a_minor_road_gives_way_to_a_major_road_turn_that_itself_gives_way() -> None:
    """Unsignalised: S-N is the major road, whose left turn gives way to its oncoming traffic
    (the MAP marks it, as SUMO's "m" link), and the W arm is a minor road (all its
    connections give way). a turns left from S at 7 m/s, indicating; b comes straight from
    W at 10 m/s, 20.5 m before its line (2.4 m/s² to stop): both movements give way by the
    MAP, but the minor road gives way to the major road's turner too, so b is held and
    nobody is warned; 14 m before its line (3.6 m/s²) b no longer can, and both are. With
    both arms minor (neither has priority by the MAP) the law ranks them
    (``_signals.equal_standing_yields``): the turner a gives way to b going straight, and
    12 m before its line (2 m/s²) it still can: nobody is warned either way."""
    left = {"exterior_lights": frozenset({"leftTurnSignalOn"})}
    a = car("a", 1.75, -20.0, 0.0, 7.0, source=BSM, **left)
    b = car("b", -28.5, -1.75, 90.0, 10.0, source=BSM)
    late = car("b", -22.0, -1.75, 90.0, 10.0, source=BSM)
    major = cross_map(give_way=frozenset({"W"}), yielding=frozenset({("S", "left")}))
    assert _warned(major, a, b) == set()
    assert _warned(major, a, late) == {"a", "b"}
    equal = cross_map(give_way=frozenset({"W", "S"}))
    assert _warned(equal, a, b) == set()
    assert _warned(equal, a, late) == set()


def test_a_car_known_only_from_roadside_perception_must_be_likelier_to_conflict() -> None:
    """b may go straight, left or right (right merges behind a: no crossing). Told by a BSM
    without an indicator, its straight and left movements both cross a's path: warned.
    Known only from an RSM (no indicator: its lane's odds) the crossing is about 0.71
    likely, short of ``min_probability_perceived`` (0.75): not warned; the old rule (0.5
    for everyone) warned it. Both are 4 m or less before their lines at 10 m/s, too late
    to give way: b's left turn, which gives way to a going straight, is still a party."""
    lanes = all_permissive(only={"S": "straight"})
    a = car("a", 1.75, -8.25, 0.0, 10.0, source=BSM)
    told = car("b", 12.0, 1.75, 270.0, 10.0, source=BSM)
    assert _warned(*lanes, a, told) == {"a", "b"}
    perceived = car("b", 12.0, 1.75, 270.0, 10.0)
    assert _warned(*lanes, a, perceived) == set()
    scene = Scene(FRAME)
    for item in (*lanes, a, perceived):
        scene.ingest(item, received_at_ms=0, source="rsu")  # type: ignore[arg-type]
    old_rule = IntersectionCollisionWarning(config=IcwConfig(min_probability_perceived=0.5))
    assert {adv.ego_id for adv in on_settled_tick(old_rule, scene.update(0), 0)} == {"a", "b"}
