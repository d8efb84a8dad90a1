"""ICW: crossing paths at an (unsignalised) intersection, and what must stay silent."""

from __future__ import annotations

import msgspec
from _roadside_scene import FRAME, NODE, junction_map, latlon, spat, view_of
from _roadside_scene import vehicle as _vehicle
from _settled import on_settled_tick
from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.icw import IcwConfig, IntersectionCollisionWarning
from v2xcloud.model import (
    AdvisoryLevel,
    Connection,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    ParticipantSource,
    ParticipantState,
)
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import state_at as _state_at


# single reports, each with a measured acceleration (0 unless given): ICW reads yielding from
# a party's acceleration and leaves a track whose acceleration is still unknown alone
def state_at(pid: str, **kw: object) -> ParticipantState:
    kw.setdefault("accel_long_mps2", 0.0)
    return _state_at(pid, **kw)  # type: ignore[arg-type]


def vehicle(*args: object, **kw: object) -> ParticipantState:
    """A roadside report with a measured acceleration and yaw rate (one report: ICW needs
    both known to call a party steady on its straight line; a yaw rate of exactly 0 is what a
    sender without a gyro puts on the wire, so a measured straight drive is a little off 0)."""
    state = _vehicle(*args, **kw)  # type: ignore[arg-type]
    return msgspec.structs.replace(state, accel_long_mps2=0.0, yaw_rate_dps=0.1)


def test_crossing_vehicles_on_a_collision_course_are_both_warned_in_time() -> None:
    # both reach the centre of the crossing at t = 6 s
    north = Mover("north", straight(0, -72.0, 12.0, 0.0))
    east = Mover("east", straight(-60.0, 0, 10.0, 90.0))
    out = run(IntersectionCollisionWarning(), [north, east], seconds=6.0)
    for ego, other, speed in (("north", "east", 12.0), ("east", "north", 10.0)):
        hit = first(out, ego, other)
        assert hit is not None, ego
        t_first, adv = hit
        arrival = 6.0 - (4.5 + 1.8) / 2 / speed  # front of the car enters the conflict zone
        # lead time ≥ the configured time to conflict, less the tick by which the other
        # (arriving 0.06 s later) enters the window: without a MAP both must be within it
        assert arrival - t_first >= 3.0 - 0.1
        assert adv.lat_deg is not None and adv.values["pet_s"] <= 0
    levels = {a.level for _, a in out if a.ego_id == "north"}
    assert AdvisoryLevel.IMMINENT in levels


def test_a_predicted_miss_beyond_the_prediction_error_gives_no_warning() -> None:
    # without a MAP as with one, occupancies predicted more than pet_s (0.5 s) apart are a
    # miss, not a collision: a grey-zone PET is the bench's "may", and a car about to stop
    north = Mover("north", straight(0, -72.0, 12.0, 0.0))
    late = Mover("late", straight(-100.0, 0, 10.0, 90.0))  # arrives 4 s after
    assert run(IntersectionCollisionWarning(), [north, late], seconds=6.0) == []
    near = Mover("near", straight(-75.0, 0, 10.0, 90.0))  # 1.5 s after: PET ≈ 0.9 s
    assert run(IntersectionCollisionWarning(), [north, near], seconds=6.0) == []
    closer = Mover("closer", straight(-67.0, 0, 10.0, 90.0))  # 0.7 s after: PET ≈ 0.1 s
    out = run(IntersectionCollisionWarning(), [north, closer], seconds=6.0)
    hit = first(out, "north", "closer")
    assert hit is not None and hit[1].level == AdvisoryLevel.WARNING
    assert 0 < hit[1].values["pet_s"] <= 0.5
    lenient = IntersectionCollisionWarning(IcwConfig(pet_s=2.0))
    assert first(run(lenient, [north, near], seconds=6.0), "north", "near") is not None


def test_no_warning_for_parallel_or_opposite_traffic() -> None:
    a = Mover("a", straight(0, 0, 12.0, 0.0))
    b = Mover("b", straight(3.5, 0, 12.0, 0.0))
    c = Mover("c", straight(-3.5, 80.0, 12.0, 180.0))
    assert run(IntersectionCollisionWarning(), [a, b, c], seconds=5.0) == []


def test_no_warning_for_a_stopped_queue_at_a_red_light() -> None:
    queue = [Mover(f"q{k}", straight(0, -8.0 - 7.0 * k, 0.0, 0.0)) for k in range(4)]
    cross = Mover("cross", straight(-60.0, 0, 12.0, 90.0))  # passes in front of the queue
    assert run(IntersectionCollisionWarning(), [*queue, cross], seconds=6.0) == []


def test_no_warning_on_a_bridge_over_the_crossing_road() -> None:
    over = Mover("over", straight(0, -72.0, 12.0, 0.0), fields={"elevation_m": 9.0})
    under = Mover("under", straight(-60.0, 0, 10.0, 90.0), fields={"elevation_m": 1.0})
    assert run(IntersectionCollisionWarning(), [over, under], seconds=6.0) == []


def test_no_warning_when_paths_diverge() -> None:
    # both already past the point where their paths cross
    a = Mover("a", straight(0, 5.0, 12.0, 0.0))
    b = Mover("b", straight(5.0, 0, 10.0, 90.0))
    assert run(IntersectionCollisionWarning(), [a, b], seconds=3.0) == []


def test_cross_traffic_held_by_red_is_no_conflict_party() -> None:
    # "a" approaches the red stop line (y = 0) of lane 1 at 10 m/s (needs 2.5 m/s² to stop);
    # "b" crosses at y = 10 on green: at constant velocity both reach (0, 10) after 3 s
    red, green = LightState.RED, LightState.PROTECTED_GREEN

    def warned(phase1: tuple[LightState, float, LightState, float]) -> set[str]:
        view = view_of(
            junction_map(),
            spat(0, phase1=phase1),
            vehicle("a", 0, -20, 10.0, 0.0),
            vehicle("b", -30, 10, 10.0, 90.0),
        )
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned((green, 20.0, red, 50.0)) == {"a", "b"}
    assert warned((red, 20.0, green, 50.0)) == set()  # a will stop: b is not warned
    assert warned((red, 1.0, green, 50.0)) == {"a", "b"}  # green before a arrives
    # a runner that cannot stop any more (10 m/s at 5 m needs 10 m/s²) stays a party; it
    # reports itself (a roadside track's first speed is too uncertain to say it runs)
    view = view_of(
        junction_map(),
        spat(0, phase1=(red, 20.0, green, 50.0)),
        vehicle("a", 0, -5, 10.0, 0.0, source=ParticipantSource.BSM),
        vehicle("b", -15, 10, 10.0, 90.0),
    )
    warned = on_settled_tick(IntersectionCollisionWarning(), view, 0)
    assert {adv.ego_id for adv in warned} == {"a", "b"}


def test_a_conflict_is_warned_once_it_holds_on_two_ticks_in_a_row() -> None:
    """One tick's predicted conflict is not yet a warning (``PATH_CONFIRM_TICKS``): the same
    conflict on the next tick is, and the windows look a tick further ahead for it."""
    assert IcwConfig().confirm_ticks == 2
    assert IcwConfig().lead_pad_s == 0.2
    view = view_of(
        junction_map(), vehicle("a", 0, -20, 10.0, 0.0), vehicle("b", -30, 10, 10.0, 90.0)
    )
    icw = IntersectionCollisionWarning()
    assert icw.on_tick(view, 0) == []
    assert icw.on_tick(view, 200) == []  # a tick missed: it starts again
    assert {adv.ego_id for adv in icw.on_tick(view, 300)} == {"a", "b"}
    unconfirmed = IntersectionCollisionWarning(IcwConfig(confirm_ticks=1))
    assert {adv.ego_id for adv in unconfirmed.on_tick(view, 0)} == {"a", "b"}


def _two_approaches() -> MapData:
    """Lane 1 north-bound to y = 0 (phase 1) and lane 21 east-bound to x = -8 (phase 2)."""

    def lane(
        lane_id: int, start: tuple[float, float], stop: tuple[float, float], phase: int
    ) -> Lane:
        conn = Connection(
            remote_node=NODE,
            remote_lane_id=lane_id + 10,
            phase_id=phase,
            maneuvers=frozenset({"maneuverStraightAllowed"}),
        )
        return Lane(
            lane_id=lane_id,
            lane_type="vehicle",
            points=(latlon(*start), latlon(*stop)),
            connections=(conn,),
        )

    south = MapLink(upstream_node=NodeId(region=None, id=1), lanes=(lane(1, (0, -300), (0, 0), 1),))
    west = MapLink(
        upstream_node=NodeId(region=None, id=2), lanes=(lane(21, (-300, 10), (-8, 10), 2),)
    )
    lat, lon = latlon(0, 10)
    node = MapNode(id=NODE, lat_deg=lat, lon_deg=lon, in_links=(south, west))
    return MapData(msg_count=1, nodes=(node,))


def test_streams_the_signal_program_separates_are_not_warned() -> None:
    # a (lane 1) and b (lane 21) reach (0, 10) together at constant velocity
    cars = (vehicle("a", 0, -20, 10.0, 0.0), vehicle("b", -30, 10, 10.0, 90.0))
    go = (LightState.PROTECTED_GREEN, 20.0, LightState.RED, 50.0)

    def warned(*items: object) -> set[str]:
        view = view_of(_two_approaches(), *items, *cars)
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned() == {"a", "b"}  # no SPAT: priority unknown, a real crossing conflict
    assert warned(spat(0, phase1=go, phase2=go)) == set()  # both green: not crossing streams


def test_a_vehicle_signalling_a_turn_is_not_predicted_straight_across() -> None:
    # the crossing of the first test, but "east" indicates a right turn: it will not cross
    north = Mover("north", straight(0, -72.0, 12.0, 0.0))
    east = Mover(
        "east",
        straight(-60.0, 0, 10.0, 90.0),
        fields={"exterior_lights": frozenset({"rightTurnSignalOn"})},
    )
    assert run(IntersectionCollisionWarning(), [north, east], seconds=6.0) == []


def test_a_car_braking_to_stop_before_its_stop_line_is_no_party() -> None:
    # no SPAT (a priority junction): "a" yields, braking 3 m/s² where 2.5 m/s² stops it
    def a(accel_mps2: float) -> ParticipantState:
        return state_at(
            "a", x_m=0.0, y_m=-20.0, t_ms=0, speed_mps=10.0, heading_deg=0.0, frame=FRAME,
            accel_long_mps2=accel_mps2,
        )  # fmt: skip

    def warned(*cars: object) -> set[str]:
        view = view_of(_two_approaches(), *cars, vehicle("b", -30, 10, 10.0, 90.0))
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned(a(-3.0)) == set()
    assert warned(a(-1.0)) == {"a", "b"}  # braking too little to stop: still a conflict


def test_a_turning_car_still_meets_a_red_light_runner() -> None:
    # "a" cannot stop for its red any more (10 m/s at 5 m); "b" crosses on green signalling
    # a left turn: its path is no straight line, but a runner may meet any path
    left = frozenset({"leftTurnSignalOn"})
    b = state_at(
        "b", x_m=-15.0, y_m=10.0, t_ms=0, speed_mps=10.0, heading_deg=90.0, frame=FRAME,
        exterior_lights=left,
    )  # fmt: skip
    red = (LightState.RED, 20.0, LightState.PROTECTED_GREEN, 50.0)
    go = (LightState.PROTECTED_GREEN, 20.0, LightState.RED, 50.0)

    def warned(*items: object) -> set[str]:
        runner = vehicle("a", 0, -5, 10.0, 0.0, source=ParticipantSource.BSM)
        view = view_of(_two_approaches(), *items, runner, b)
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned(spat(0, phase1=red, phase2=go)) == {"a", "b"}
    # no SPAT: lane 21's one MAP movement is straight on, so the signal does not take "b" off
    # a's path (the MAP decides the movement): a crossing conflict at an unsignalised junction
    assert warned() == {"a", "b"}


def _turning_b(x_m: float, t_ms: int = 0) -> ParticipantState:
    """Vehicle "b" east-bound at y = 10 m, 10 m/s, signalling a left turn."""
    return state_at(
        "b", x_m=x_m, y_m=10.0, t_ms=t_ms, speed_mps=10.0, heading_deg=90.0, frame=FRAME,
        exterior_lights=frozenset({"leftTurnSignalOn"}),
    )  # fmt: skip


def test_a_runner_past_its_stop_line_on_red_still_meets_a_turning_car() -> None:
    # "a" is 1 m past its stop line (y = 0; the live match clamps to_stop_m to 0) at 10 m/s;
    # "b" crosses on green signalling a left turn: both reach (0, 10) in about 1 s
    red = (LightState.RED, 20.0, LightState.PROTECTED_GREEN, 50.0)
    go = (LightState.PROTECTED_GREEN, 20.0, LightState.RED, 50.0)

    def warned(phase1: tuple[LightState, float, LightState, float]) -> set[str]:
        view = view_of(
            _two_approaches(),
            spat(0, phase1=phase1, phase2=go),
            vehicle("a", 0, 1.0, 10.0, 0.0),
            _turning_b(-10.0),
        )
        assert view.lane[view.row_of("a")] >= 0 and view.to_stop_m[view.row_of("a")] <= 0
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned(red) == {"a", "b"}
    assert warned(go) == set()  # a passed on green: the turning car is not predicted straight


def test_a_runner_that_left_its_lane_on_red_inside_the_junction_is_remembered() -> None:
    # tick 1: "a" 2 m before its red stop line at 10 m/s; tick 2 (0.5 s later): "a" is 4 m
    # into the junction (no lane match) and "b", signalling a left turn, is about to cross it
    go = (LightState.PROTECTED_GREEN, 20.0, LightState.RED, 50.0)

    def warned(phase1: tuple[LightState, float, LightState, float], *, seen: bool) -> set[str]:
        icw = IntersectionCollisionWarning()
        scene = Scene(FRAME)
        scene.ingest(_two_approaches(), received_at_ms=0, source="rsu")
        scene.ingest(spat(0, phase1=phase1, phase2=go), received_at_ms=0, source="rsu")
        if seen:
            scene.ingest(vehicle("a", 0, -2.0, 10.0, 0.0), received_at_ms=0, source="rsu")
            on_settled_tick(icw, scene.update(0), 0)
        scene.ingest(vehicle("a", 0, 4.0, 10.0, 0.0, t_ms=500), received_at_ms=500, source="rsu")
        scene.ingest(_turning_b(-10.0, 500), received_at_ms=500, source="rsu")
        view = scene.update(500)
        assert view.lane[view.row_of("a")] < 0  # inside the junction
        return {adv.ego_id for adv in on_settled_tick(icw, view, 500)}

    red = (LightState.RED, 20.0, LightState.PROTECTED_GREEN, 50.0)
    assert warned(red, seen=True) == {"a", "b"}
    assert warned(go, seen=True) == set()  # it entered on green
    # never seen on its lane, but inside the junction on the movement of a red lane: a runner
    assert warned(red, seen=False) == {"a", "b"}


def test_without_map_a_party_whose_yaw_rate_is_unknown_has_no_straight_line_yet() -> None:
    """A track whose turn rate is unknown (one report, or a heading that jumped: the tracker
    restarts the yaw rate at its 20 deg/s prior) may be on a ramp's bend or already turning:
    its heading line of the moment is no path (cvm_background: an on-ramp car merging at 54
    deg was warned with the main-road car). Known (a gyro's yaw rate), the same pair is
    warned: both reach (0, 10) in about 3 s."""

    def warned(yaw_rate_dps: float | None) -> set[str]:
        cars = (_vehicle("a", 0, -20, 10.0, 0.0), _vehicle("b", -30, 10, 10.0, 90.0))
        view = view_of(
            *(
                msgspec.structs.replace(c, accel_long_mps2=0.0, yaw_rate_dps=yaw_rate_dps)
                for c in cars
            )
        )
        return {adv.ego_id for adv in on_settled_tick(IntersectionCollisionWarning(), view, 0)}

    assert warned(None) == set()
    assert warned(0.1) == {"a", "b"}
