"""Junction apps while a MAP is awaited (``_signals.MapWait``): a SPAT for a junction whose
MAP has not arrived yet keeps ICW, LTA and DNPW from the no-MAP fallback for unmatched
vehicles (the start-up alarm burst), for a bounded time; without any SPAT nothing changes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from _roadside_scene import FRAME, junction_map, spat, vehicle, view_of
from _settled import on_settled_tick

from v2xcloud.apps import App
from v2xcloud.apps._signals import MAP_WAIT_MS
from v2xcloud.apps.dnpw import DoNotPassWarning
from v2xcloud.apps.icw import IntersectionCollisionWarning
from v2xcloud.apps.lta import LeftTurnAssist
from v2xcloud.model import LightState, ParticipantState
from v2xcloud.twin.testing import state_at

GO = (LightState.PROTECTED_GREEN, 20.0, LightState.RED, 50.0)
LEFT = frozenset({"leftTurnSignalOn"})


def _signalling(pid: str, x_m: float, y_m: float, speed_mps: float, t_ms: int) -> ParticipantState:
    return state_at(
        pid, x_m=x_m, y_m=y_m, t_ms=t_ms, speed_mps=speed_mps, heading_deg=0.0, frame=FRAME,
        exterior_lights=LEFT,
    )  # fmt: skip


def _crossing(t_ms: int) -> tuple[ParticipantState, ...]:
    """ICW: "a" north-bound and "b" east-bound reach (0, 10) together in 3 s (each report
    with a measured acceleration and yaw rate: ICW leaves a track whose acceleration or, off
    the MAP, yaw rate is unknown alone)."""
    return tuple(
        msgspec.structs.replace(car, accel_long_mps2=0.0, yaw_rate_dps=0.1)
        for car in (
            vehicle("a", 0, -20, 10.0, 0.0, t_ms=t_ms),
            vehicle("b", -30, 10, 10.0, 90.0, t_ms=t_ms),
        )
    )


def _turn(t_ms: int) -> tuple[ParticipantState, ...]:
    """LTA: "a" pulls into its left turn at 4 m/s, an oncoming car arrives in under 3 s."""
    return (
        _signalling("a", 1.75, -1.0, 4.0, t_ms),
        vehicle("b", -1.75, 36.0, 13.0, 180.0, t_ms=t_ms),
    )


def _pass(t_ms: int) -> tuple[ParticipantState, ...]:
    """DNPW: "a" signals to pass a slower car; "b" comes the other way."""
    return (
        _signalling("a", 1.75, -150.0, 20.0, t_ms),
        vehicle("slow", 1.75, -125.0, 12.0, 0.0, t_ms=t_ms),
        vehicle("b", -1.75, 150.0, 20.0, 180.0, t_ms=t_ms),
    )


CASES = (
    (IntersectionCollisionWarning, _crossing),
    (LeftTurnAssist, _turn),
    (DoNotPassWarning, _pass),
)


def _warned(app: App, *items: object, now_ms: int = 0) -> set[str]:
    return {adv.ego_id for adv in on_settled_tick(app, view_of(*items, now_ms=now_ms), now_ms)}


Cars = Callable[[int], tuple[ParticipantState, ...]]


@pytest.mark.parametrize(("app_type", "cars"), CASES)
def test_without_any_map_or_spat_the_fallback_geometry_still_warns(
    app_type: type[App], cars: Cars
) -> None:
    assert "a" in _warned(app_type(), *cars(0))


@pytest.mark.parametrize(("app_type", "cars"), CASES)
def test_a_spat_without_its_map_keeps_unmatched_vehicles_quiet(
    app_type: type[App], cars: Cars
) -> None:
    assert _warned(app_type(), spat(0, phase1=GO, phase2=GO), *cars(0)) == set()


def test_once_the_map_is_there_the_matched_vehicles_are_warned() -> None:
    items = (junction_map(), spat(0, phase1=GO, phase2=GO))
    assert _warned(IntersectionCollisionWarning(), *items, *_crossing(0)) == {"a", "b"}
    assert "a" in _warned(LeftTurnAssist(), *items, *_turn(0))


@pytest.mark.parametrize(("app_type", "cars"), CASES)
def test_a_map_that_never_comes_silences_the_apps_only_for_a_while(
    app_type: type[App], cars: Cars
) -> None:
    late = MAP_WAIT_MS + 1000
    app = app_type()
    assert _warned(app, spat(0, phase1=GO), *cars(0)) == set()
    assert _warned(app, spat(1000, phase1=GO), *cars(1000), now_ms=1000) == set()
    assert "a" in _warned(app, spat(late, phase1=GO), *cars(late), now_ms=late)
