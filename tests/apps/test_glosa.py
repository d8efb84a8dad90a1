"""GLOSA: a speed band that meets green, within the limit; none when impossible."""

from __future__ import annotations

import msgspec
import pytest
from _roadside_scene import FRAME, junction_map, spat, vehicle, view_of

from v2xcloud.apps.glosa import GreenLightOptimalSpeedAdvisory, speed_band_mps
from v2xcloud.model import Connection, LightState, MapData, ParticipantState
from v2xcloud.twin.testing import state_at

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def test_band_for_a_green_starting_later() -> None:
    # 200 m, green from 10 s to 40 s, margin 1 s: arrive between 11 s and 39 s
    lo, hi = speed_band_mps(200.0, [(10.0, 40.0)], min_mps=3.0, max_mps=30.0)  # type: ignore[misc]
    assert lo == pytest.approx(200 / 39) and hi == pytest.approx(200 / 11)


def test_band_is_capped_by_the_limit_and_none_when_green_is_unreachable() -> None:
    lo, hi = speed_band_mps(200.0, [(2.0, 40.0)], min_mps=3.0, max_mps=13.9)  # type: ignore[misc]
    assert hi == 13.9 and lo == pytest.approx(200 / 39)
    # green ends in 5 s, 200 m away: needs 50 m/s, over the limit; no later green known
    assert speed_band_mps(200.0, [(0.0, 5.0)], min_mps=3.0, max_mps=13.9) is None
    # green only after 120 s: slower than the floor speed
    assert speed_band_mps(100.0, [(120.0, 150.0)], min_mps=5.0, max_mps=13.9) is None


def test_app_advises_within_speed_limit() -> None:
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        spat(0, phase1=(RED, 8.0, GREEN, 38.0)),
        vehicle("a", 0, -150, 15.0),
    )
    (adv,) = GreenLightOptimalSpeedAdvisory().on_tick(view, 0)
    assert adv.app == "GLOSA" and adv.ego_id == "a"
    assert adv.values["advised_max_mps"] <= 50 / 3.6 + 1e-9
    # 150 m in at most 37 s would allow 4.05 m/s, but the floor speed is 15 km/h
    assert adv.values["advised_min_mps"] == pytest.approx(15 / 3.6)
    assert adv.values["advised_max_mps"] == pytest.approx(50 / 3.6)
    # arriving at the advised speed falls inside the green
    t_arrive = 150 / adv.values["advised_speed_mps"]
    assert 8.0 < t_arrive < 38.0


def test_a_green_met_only_between_15_and_18_km_h_is_advised() -> None:
    """demo_district's missed GLOSA approaches were nearly all cars ~125 m from a red whose
    green came ~26 s later: met only below 18 km/h (the old floor), above 15 km/h."""
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        spat(0, phase1=(RED, 26.0, GREEN, 53.0)),
        vehicle("a", 0, -125, 7.0),
    )
    (adv,) = GreenLightOptimalSpeedAdvisory().on_tick(view, 0)
    lo, hi = adv.values["advised_min_mps"], adv.values["advised_max_mps"]
    assert lo == pytest.approx(15 / 3.6) and hi < 5.0
    assert adv.values["to_stop_m"] / hi >= 27.0 and adv.values["to_stop_m"] / lo <= 52.0


def test_no_advisory_when_impossible_or_without_signal() -> None:
    app = GreenLightOptimalSpeedAdvisory()
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        spat(0, phase1=(GREEN, 3.0, RED, 60.0)),
        vehicle("b", 0, -200, 13.0),
    )
    assert app.on_tick(view, 0) == []
    assert app.on_tick(view_of(junction_map(), vehicle("c", 0, -200, 13.0)), 0) == []


def _two_movement_map() -> MapData:
    """The scene's junction with lane 1 allowing straight on (phase 1) and a left turn
    (phase 3, its own signal group)."""
    base = junction_map()
    node = base.nodes[0]
    link = node.in_links[0]
    straight = link.lanes[0].connections[0]
    left = Connection(
        remote_node=straight.remote_node,
        remote_lane_id=13,
        phase_id=3,
        maneuvers=frozenset({"maneuverLeftAllowed"}),
    )
    lane1 = msgspec.structs.replace(link.lanes[0], connections=(straight, left))
    link = msgspec.structs.replace(link, lanes=(lane1, *link.lanes[1:]))
    node = msgspec.structs.replace(node, in_links=(link,))
    return msgspec.structs.replace(base, nodes=(node,))


def test_advice_follows_the_movement_the_indicator_announces() -> None:
    """Straight on is red for 8 s then green; the left turn is green 3 s only (unreachable
    from 150 m): no indicator -> advice for straight on; left indicator -> the left turn's
    light decides, and it cannot be met."""

    def car(lights: frozenset[str]) -> ParticipantState:
        return state_at(
            "a", x_m=0, y_m=-150, t_ms=0, speed_mps=13.0, frame=FRAME, exterior_lights=lights
        )

    signals = spat(0, phase1=(RED, 8.0, GREEN, 38.0), phase3=(GREEN, 3.0, RED, 60.0))
    app = GreenLightOptimalSpeedAdvisory()
    (straight,) = app.on_tick(view_of(_two_movement_map(), signals, car(frozenset())), 0)
    assert straight.other_id is not None and straight.other_id.endswith("/phase:1")
    left = view_of(_two_movement_map(), signals, car(frozenset({"leftTurnSignalOn"})))
    assert GreenLightOptimalSpeedAdvisory().on_tick(left, 0) == []
    # the left turn green from 5 s to 30 s: advice for the left turn's phase
    later = spat(0, phase1=(RED, 8.0, GREEN, 38.0), phase3=(RED, 5.0, GREEN, 30.0))
    left = view_of(_two_movement_map(), later, car(frozenset({"leftTurnSignalOn"})))
    (turn,) = GreenLightOptimalSpeedAdvisory().on_tick(left, 0)
    assert turn.other_id is not None and turn.other_id.endswith("/phase:3")
