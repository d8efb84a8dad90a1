"""GLOSA: a speed band that meets green, within the limit; none when impossible."""

from __future__ import annotations

import pytest
from _roadside_scene import junction_map, spat, vehicle, view_of

from v2xcloud.apps.glosa import GreenLightOptimalSpeedAdvisory, speed_band_mps
from v2xcloud.model import LightState

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
    # 150 m in at most 37 s would allow 4.05 m/s, but the floor speed is 5 m/s
    assert adv.values["advised_min_mps"] == 5.0
    assert adv.values["advised_max_mps"] == pytest.approx(50 / 3.6)
    # arriving at the advised speed falls inside the green
    t_arrive = 150 / adv.values["advised_speed_mps"]
    assert 8.0 < t_arrive < 38.0


def test_no_advisory_when_impossible_or_without_signal() -> None:
    app = GreenLightOptimalSpeedAdvisory()
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        spat(0, phase1=(GREEN, 3.0, RED, 60.0)),
        vehicle("b", 0, -200, 13.0),
    )
    assert app.on_tick(view, 0) == []
    assert app.on_tick(view_of(junction_map(), vehicle("c", 0, -200, 13.0)), 0) == []
