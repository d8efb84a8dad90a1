"""Stopped vehicle / incident: a vehicle stopped in a queue (behind standing cars, some of them
unseen; at a red; while its queue discharges; waiting at the line to enter the junction) is
not an incident; a lone stopped vehicle in a moving lane, or a stall on protected green, is."""

from __future__ import annotations

import msgspec
from _roadside_scene import junction_map, latlon, spat, vehicle
from _script import run

from v2xcloud.apps.events import StoppedVehicleDetector
from v2xcloud.model import Connection, Lane, LightState, MapData, MapLink, NodeId

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN
PERMISSIVE = LightState.PERMISSIVE_GREEN


def _two_way_map() -> MapData:
    """``junction_map`` with an oncoming approach from the north (one lane, straight on)."""
    base = junction_map()
    (node,) = base.nodes
    lane = Lane(
        lane_id=3,
        lane_type="vehicle",
        points=(latlon(-3.5, 300), latlon(-3.5, 20)),
        connections=(
            Connection(
                remote_node=node.id,
                remote_lane_id=13,
                phase_id=1,
                maneuvers=frozenset({"maneuverStraightAllowed"}),
            ),
        ),
    )
    oncoming = MapLink(upstream_node=NodeId(region=None, id=2), lanes=(lane,))
    node = msgspec.structs.replace(node, in_links=(*node.in_links, oncoming))
    return msgspec.structs.replace(base, nodes=(node,))


def _stood(out: list[list[object]]) -> set[str]:
    """The vehicles the events name (their descriptions start "vehicle <id> stopped")."""
    return {e.description.split()[1] for events in out for e in events}  # type: ignore[attr-defined]


def _queue(t: int) -> list[object]:
    return [vehicle(f"q{k}", 0, -5 - 7 * k, 0.0, t_ms=t) for k in range(3)]


def test_queue_at_red_is_not_an_incident() -> None:
    out = run(
        StoppedVehicleDetector(),
        60,
        lambda t: [junction_map(), spat(t, phase1=(RED, 100.0, GREEN, 130.0)), *_queue(t)],
    )
    assert all(events == [] for events in out)


def test_head_of_queue_stalled_on_green_is_reported_once_with_start_and_confidence() -> None:
    out = run(
        StoppedVehicleDetector(min_stopped_s=20),
        40,
        lambda t: [junction_map(), spat(t, phase1=(GREEN, 100.0, RED, 130.0)), *_queue(t)],
    )
    first = next(k for k, events in enumerate(out) if events)
    assert first == 20  # 20 s of unexplained standstill
    (event,) = out[first]
    assert event.kind == "stopped_vehicle" and "q0" in (event.description or "")
    assert event.start_ms == 0 and event.end_ms is not None and event.end_ms > 20_000
    assert event.confidence is not None and 0.5 <= event.confidence <= 1.0
    assert {e.event_id for events in out for e in events} == {event.event_id}


def test_vehicle_that_moves_off_ends_the_event() -> None:
    def frame(t: int) -> list[object]:  # moves off at 30 s at 5 m/s (5 m/s² within a report)
        speed = 0.0 if t < 30_000 else 5.0
        return [
            junction_map(),
            spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
            vehicle("s", 0, -50 + (0 if t < 30_000 else (t - 30_000) / 200), speed, t_ms=t),
        ]

    out = run(StoppedVehicleDetector(min_stopped_s=20), 40, frame)
    assert out[25] and out[25][0].end_ms == 27_000  # valid 2 s past now while standing
    ended = [e for events in out[30:] for e in events]
    assert ended and ended[-1].end_ms == 29_000 and out[-1] == []


def test_standing_off_the_mapped_lanes_is_not_an_incident() -> None:
    out = run(
        StoppedVehicleDetector(min_stopped_s=5),
        20,
        lambda t: [junction_map(), vehicle("parked", 40, -50, 0.0, t_ms=t)],
    )
    assert all(events == [] for events in out)


def test_behind_a_standing_car_with_an_unseen_one_between_is_a_queue() -> None:
    """The car 20 m behind the stalled head stands behind an unconnected car: a queue."""
    out = run(
        StoppedVehicleDetector(min_stopped_s=20),
        30,
        lambda t: [
            junction_map(),
            spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
            vehicle("head", 0, -5, 0.0, t_ms=t),
            vehicle("rear", 0, -25, 0.0, t_ms=t),
            vehicle("oncoming", -3.5, -20, 0.0, 180.0, t_ms=t),  # another direction: no queue
            vehicle("lone", -3.5, -150, 0.0, 180.0, t_ms=t),
        ],
    )
    assert _stood(out) == {"head"}


def test_lone_stopped_car_mid_lane_on_green_is_an_incident() -> None:
    out = run(
        StoppedVehicleDetector(min_stopped_s=20),
        25,
        lambda t: [
            junction_map(),
            spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
            vehicle("lone", 0, -150, 0.0, t_ms=t),
            vehicle("passing", 3.5, -200 + t / 100, 10.0, t_ms=t),
        ],
    )
    assert _stood(out) == {"lone"}


def test_with_a_map_a_lone_stop_is_an_incident_after_10_s_without_one_after_20_s() -> None:
    """The default waits: with a MAP the detector has ruled out what explains standing (stop
    line, light, gap queue) and reports after 10 s, the bench's hazard standstill; without
    any map those are only guessed from geometry, so it waits 20 s (the real K733 recording
    without its MAP gave 12 false HLW warnings at 10 s)."""

    def first_event_s(with_map: bool) -> int:
        def frame(t: int) -> list[object]:
            road = [junction_map(), spat(t, phase1=(GREEN, 100.0, RED, 130.0))] if with_map else []
            return [*road, vehicle("lone", 0, -150, 0.0, t_ms=t)]

        out = run(StoppedVehicleDetector(), 25, frame)
        return next(k for k, events in enumerate(out) if events)

    assert 10 <= first_event_s(with_map=True) <= 11
    assert 20 <= first_event_s(with_map=False) <= 21


def test_at_the_line_without_signals_or_on_permissive_green_it_waits_for_a_gap() -> None:
    for signals in ([], ["permissive"]):

        def frame(t: int, signals: list[str] = signals) -> list[object]:
            light = [spat(t, phase1=(PERMISSIVE, 100.0, RED, 130.0))] if signals else []
            return [junction_map(), *light, vehicle("waiting", 0, -5, 0.0, t_ms=t)]

        assert _stood(run(StoppedVehicleDetector(min_stopped_s=20), 40, frame)) == set()


def test_at_the_line_on_protected_green_with_its_exit_blocked_it_waits() -> None:
    out = run(
        StoppedVehicleDetector(min_stopped_s=20),
        30,
        lambda t: [
            junction_map(),
            spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
            vehicle("head", 0, -5, 0.0, t_ms=t),
            vehicle("beyond", 0, 30, 0.0, t_ms=t),  # standing past the junction
        ],
    )
    assert "head" not in _stood(out)


def test_queue_still_discharging_after_green_is_not_an_incident() -> None:
    """Last seen red at 9 s: the car ~100 m back (its front ~98 m from the line) may stand
    3 s + 98 m / 4 m/s ≈ 27.5 s longer, so its 20 s count starts at ~37 s (without the
    discharge rule it would be reported at 29 s)."""

    def frame(t: int) -> list[object]:
        light = (RED, 10.0 - t / 1000, GREEN, 200.0) if t < 10_000 else (GREEN, 200.0, RED, 230.0)
        return [junction_map(), spat(t, phase1=light), vehicle("back", 0, -100, 0.0, t_ms=t)]

    out = run(StoppedVehicleDetector(min_stopped_s=20), 62, frame)
    first = next(k for k, events in enumerate(out) if events)
    assert 55 <= first <= 58


def test_without_a_map_cross_traffic_ahead_says_it_waits_at_a_junction() -> None:
    """No MAP, no SPAT (K733 replayed without them): the car at the stop line waiting out a
    red sees the crossing street's cars pass 15 m ahead; it is no incident. The same car with
    nothing crossing ahead of it (or traffic only in its own direction) still is."""

    def crossing(t: int) -> object:  # eastbound on the crossing street, one every 12 s
        return vehicle("cross", -60 + 10 * ((t / 1000) % 12), 15.0, 10.0, 90.0, t_ms=t)

    def alongside(t: int) -> object:  # same direction, the next lane: no junction evidence
        return vehicle("along", 3.5, -200 + 10 * ((t / 1000) % 30), 10.0, 0.0, t_ms=t)

    def waiting(t: int) -> list[object]:
        return [vehicle("waiting", 0, -5, 0.0, t_ms=t), crossing(t)]

    def stalled(t: int) -> list[object]:
        return [vehicle("waiting", 0, -5, 0.0, t_ms=t), alongside(t)]

    assert _stood(run(StoppedVehicleDetector(min_stopped_s=20), 40, waiting)) == set()
    assert _stood(run(StoppedVehicleDetector(min_stopped_s=20), 40, stalled)) == {"waiting"}


def test_in_a_queue_waiting_for_gaps_the_cars_ahead_may_be_unseen() -> None:
    """A car 21 m before its line on a permissive green, nobody seen ahead (the three cars in
    front send nothing) and oncoming traffic to wait for: a queue waiting for gaps, no
    incident. The same car on a protected green, or 80 m back (beyond ~8 cars), stands
    unexplained."""

    def frame(light: object, y: float) -> object:
        return lambda t: [
            _two_way_map(),
            spat(t, phase1=(light, 100.0, RED, 130.0)),
            vehicle("waiting", 0, y, 0.0, t_ms=t),
            vehicle("oncoming", -3.5, 60.0 - 10.0 * ((t // 1000) % 4), 10.0, 180.0, t_ms=t),
        ]

    detector = StoppedVehicleDetector
    assert _stood(run(detector(min_stopped_s=20), 30, frame(PERMISSIVE, -21))) == set()
    assert _stood(run(detector(min_stopped_s=20), 30, frame(GREEN, -21))) == {"waiting"}
    assert _stood(run(detector(min_stopped_s=20), 30, frame(PERMISSIVE, -80))) == {"waiting"}


def test_a_queue_waits_for_gaps_only_where_there_is_traffic_to_wait_for() -> None:
    """An unsignalised crossing: a car standing 32 m before its line with nobody seen ahead
    is a queue waiting for gaps while cross traffic passes (the cars ahead may send nothing),
    but alone at an empty crossing (fcw_stopped_at_junction: 50 m before it, nothing else
    about) there is no gap to wait for: it stands unexplained."""
    from _cross_junction import cross_map

    def frame(cross_traffic: bool) -> object:
        def at(t: int) -> list[object]:
            items: list[object] = [cross_map(), vehicle("waiting", 1.75, -40.0, 0.0, t_ms=t)]
            if cross_traffic:  # a car every 10 s along the west arm, towards its stop line
                x = -60.0 + 8.0 * ((t // 1000) % 10)
                items.append(vehicle(f"cross{t // 10_000}", x, -1.75, 8.0, 90.0, t_ms=t))
            return items

        return at

    detector = StoppedVehicleDetector
    assert _stood(run(detector(min_stopped_s=20), 30, frame(cross_traffic=True))) == set()
    assert _stood(run(detector(min_stopped_s=20), 30, frame(cross_traffic=False))) == {"waiting"}


def test_a_vehicle_reporting_hazard_lights_is_a_hazard_at_once_even_in_a_queue() -> None:
    """Its own report says why it stands: no 20 s of unexplained standstill, and no queue or
    red light explains it away; the queue's other cars stay no incident."""
    from _roadside_scene import FRAME

    from v2xcloud.twin.testing import state_at

    def frame(t: int) -> list[object]:
        broken = state_at(
            "broken", x_m=0.0, y_m=-40.0, t_ms=t, speed_mps=0.0, frame=FRAME,
            exterior_lights=frozenset({"hazardSignalOn"}),
        )  # fmt: skip
        return [junction_map(), spat(t, phase1=(RED, 100.0, GREEN, 130.0)), *_queue(t), broken]

    out = run(StoppedVehicleDetector(min_stopped_s=20), 5, frame)
    first = next(k for k, events in enumerate(out) if events)
    assert first <= 1
    assert _stood(out) == {"broken"}
    assert all(e.confidence == 1.0 for events in out for e in events)
