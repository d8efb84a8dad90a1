"""Shared kinematics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from v2xcloud.apps.kinematics import (
    closest_approach,
    crossing_times,
    gap_ttc,
    predict_ctrv,
    predict_cv,
    required_decel,
    time_to_contact,
    ttc_lead_braking,
)


def test_constant_velocity_broadcasts_over_time_steps() -> None:
    x, y = predict_cv(
        np.array([[0.0]]),
        np.array([[0.0]]),
        np.array([[3.0]]),
        np.array([[4.0]]),
        np.array([[1.0, 2.0]]),
    )
    assert x.tolist() == [[3.0, 6.0]] and y.tolist() == [[4.0, 8.0]]


def test_constant_turn_rate_quarter_circle_and_straight_fallback() -> None:
    radius = 20.0
    speed = 10.0
    yaw = -math.degrees(speed / radius)  # left turn
    t = (math.pi / 2) / (speed / radius)
    x, y, h = predict_ctrv(0.0, 0.0, speed, 0.0, yaw, t)
    assert float(x) == pytest.approx(-radius) and float(y) == pytest.approx(radius)
    assert float(h) == pytest.approx(270.0)
    x, y, _ = predict_ctrv(0.0, 0.0, speed, 90.0, 0.0, 2.0)
    assert float(x) == pytest.approx(20.0) and float(y) == pytest.approx(0.0, abs=1e-9)


def test_closest_approach_and_contact() -> None:
    t, d = closest_approach(10.0, 3.0, -5.0, 0.0)
    assert float(t) == pytest.approx(2.0) and float(d) == pytest.approx(3.0)
    assert float(time_to_contact(10.0, 0.0, -5.0, 0.0, 2.0)) == pytest.approx(1.6)
    assert float(time_to_contact(10.0, 3.0, -5.0, 0.0, 2.0)) == math.inf  # passes 3 m apart
    assert float(time_to_contact(1.0, 0.0, 5.0, 0.0, 2.0)) == 0.0  # already touching
    assert float(time_to_contact(10.0, 0.0, 5.0, 0.0, 2.0)) == math.inf  # moving apart


def test_gap_ttc_decel_and_braking_lead() -> None:
    assert gap_ttc([30.0, 30.0], [10.0, -1.0]).tolist() == [3.0, math.inf]
    assert float(required_decel(25.0, 10.0)) == pytest.approx(2.0)
    # lead at 10 m/s brakes at 5 m/s² and stops after 10 m: 20 + 10 = 30 m at 10 m/s
    assert float(ttc_lead_braking(20.0, 10.0, 10.0, 5.0)) == pytest.approx(3.0)
    # same speeds, lead braking: 20 = 2.5 t² while still moving
    assert float(ttc_lead_braking(10.0, 10.0, 10.0, 5.0)) == pytest.approx(2.0)


def test_crossing_times_of_perpendicular_and_parallel_paths() -> None:
    t1, t2, px, py = crossing_times(0.0, -20.0, 0.0, 10.0, -30.0, 0.0, 10.0, 0.0)
    assert (float(t1), float(t2), float(px), float(py)) == pytest.approx((2.0, 3.0, 0.0, 0.0))
    t1, t2, _, _ = crossing_times(0.0, 0.0, 0.0, 10.0, 3.0, 0.0, 0.0, 12.0)
    assert math.isnan(float(t1)) and math.isnan(float(t2))
    t1, _, _, _ = crossing_times(0.0, 5.0, 0.0, 10.0, -30.0, 0.0, 10.0, 0.0)
    assert float(t1) < 0  # already past the crossing point
