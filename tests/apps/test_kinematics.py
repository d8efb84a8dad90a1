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


# --- checked against brute force, at boundaries, without float warnings -----------------

_RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _float_errors_raise():
    """The functions promise inf/nan instead of warnings: any stray warning fails the test."""
    with np.errstate(all="raise"):
        yield


def _grid(t_max: float = 60.0, step: float = 0.001) -> np.ndarray:
    return np.arange(0.0, t_max + step, step)


def test_closest_approach_matches_a_dense_time_scan() -> None:
    t_grid = _grid(40.0)
    for _ in range(20):
        dx, dy, dvx, dvy = _RNG.uniform(-50, 50, 2).tolist() + _RNG.uniform(-10, 10, 2).tolist()
        t, d = closest_approach(dx, dy, dvx, dvy)
        dist = np.hypot(dx + dvx * t_grid, dy + dvy * t_grid)
        k = int(dist.argmin())
        assert float(d) == pytest.approx(dist[k], abs=1e-3)
        if 0 < k < t_grid.size - 1:
            assert float(t) == pytest.approx(t_grid[k], abs=2e-3)


def test_closest_approach_of_movers_drifting_apart_or_moving_together_is_now() -> None:
    t, d = closest_approach([3.0, 3.0, 3.0], [4.0, 4.0, 4.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.6])
    assert t.tolist() == [0.0, 0.0, 0.0] and d.tolist() == [5.0, 5.0, 5.0]
    t, d = closest_approach(0.0, 10.0, 0.0, -20.0)  # closest within the first second
    assert float(t) == 0.5 and float(d) == 0.0


def test_time_to_contact_matches_a_dense_time_scan() -> None:
    t_grid = _grid(30.0)
    for _ in range(20):
        dx, dy = _RNG.uniform(-60, 60, 2)
        dvx, dvy = _RNG.uniform(-12, 12, 2)
        r = float(_RNG.uniform(1, 8))
        ttc = float(time_to_contact(dx, dy, dvx, dvy, r))
        inside = np.hypot(dx + dvx * t_grid, dy + dvy * t_grid) <= r
        if inside.any():
            assert ttc == pytest.approx(t_grid[inside.argmax()], abs=2e-3)
        else:
            assert ttc > 29.99


def test_time_to_contact_boundaries() -> None:
    # exactly at the radius now: contact now; just outside and closing: a real time
    assert time_to_contact(3.0, 4.0, 1.0, 1.0, 5.0).tolist() == 0.0
    assert float(time_to_contact(5.05, 0.0, -0.1, 0.0, 5.0)) == pytest.approx(0.5)
    # grazing: the path just touches the circle (discriminant exactly 0) at t = 10 s
    assert float(time_to_contact(5.0, 10.0, 0.0, -1.0, 5.0)) == 10.0
    # a shallow pass: discriminant small but positive, contact within the first second
    assert float(time_to_contact(4.9, 1.0, 0.0, -2.0, 5.0)) == pytest.approx(
        (1.0 - math.sqrt(25 - 4.9**2)) / 2.0
    )
    # not moving relative to each other, or moving away: never
    assert time_to_contact([9.0, 9.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0], 5.0).tolist() == [
        math.inf,
        math.inf,
    ]


def test_gap_ttc_and_required_decel_boundaries() -> None:
    assert gap_ttc([0.5, -2.0, 10.0, 10.0], [1.0, 1.0, 0.0, -1.0]).tolist() == [
        0.5,
        0.0,
        math.inf,
        math.inf,
    ]
    assert required_decel([0.5, 0.0, 8.0], [0.5, 2.0, -3.0]).tolist() == [0.25, 200.0, 0.0]
    assert gap_ttc(0.0, 0.0).tolist() == math.inf  # touching, not closing: never (no warning)


def _simulate_lead_braking(gap: float, ve: float, vl: float, a: float) -> float:
    dt, t, xe, xl = 1e-4, 0.0, 0.0, gap
    while t < 120.0:
        if xe >= xl:
            return t
        xe += ve * dt
        xl += vl * dt
        vl = max(vl - a * dt, 0.0)
        t += dt
    return math.inf


@pytest.mark.parametrize(
    ("gap", "ve", "vl", "a"),
    [
        (20.0, 15.0, 10.0, 3.0),
        (5.0, 20.0, 18.0, 8.0),
        (40.0, 12.0, 6.0, 2.0),
        (30.0, 20.0, 10.0, 5.0),
        (0.5, 10.0, 5.0, 3.0),  # a gap under a metre
        (10.0, 5.0, 0.5, 2.0),  # a lead creeping under 1 m/s
    ],
)
def test_ttc_lead_braking_matches_a_simulation(gap: float, ve: float, vl: float, a: float) -> None:
    assert float(ttc_lead_braking(gap, ve, vl, a)) == pytest.approx(
        _simulate_lead_braking(gap, ve, vl, a), abs=2e-3
    )


def test_ttc_lead_braking_with_a_standing_ego_is_never() -> None:
    assert ttc_lead_braking(10.0, 0.0, 5.0, 3.0).tolist() == math.inf


def test_ctrv_matches_small_step_integration() -> None:
    for speed, heading, yaw in [(10.0, 30.0, 12.0), (20.0, 200.0, -0.5), (8.0, 90.0, 0.01)]:
        t, dt = 6.0, 1e-4
        x = y = 0.0
        h = math.radians(heading)
        for _ in range(int(t / dt)):
            x += speed * math.sin(h + math.radians(yaw) * dt / 2) * dt
            y += speed * math.cos(h + math.radians(yaw) * dt / 2) * dt
            h += math.radians(yaw) * dt
        px, py, ph = predict_ctrv(0.0, 0.0, speed, heading, yaw, t)
        assert (float(px), float(py)) == pytest.approx((x, y), abs=1e-3)
        assert float(ph) == pytest.approx(math.degrees(h) % 360.0)


def test_ctrv_straight_below_the_turn_threshold_without_warnings() -> None:
    x, y, h = predict_ctrv([0.0, 0.0], [0.0, 0.0], [10.0, 10.0], [90.0, 0.0], [0.0, 0.001], 2.0)
    assert x.tolist() == pytest.approx([20.0, 0.0], abs=1e-3)
    assert y.tolist() == pytest.approx([0.0, 20.0], abs=1e-3)
    assert h.tolist() == pytest.approx([90.0, 0.002])


def test_crossing_times_meet_at_the_returned_point() -> None:
    for _ in range(20):
        x1, y1, x2, y2 = _RNG.uniform(-80, 80, 4)
        vx1, vy1, vx2, vy2 = _RNG.uniform(-15, 15, 4)
        t1, t2, x, y = crossing_times(x1, y1, vx1, vy1, x2, y2, vx2, vy2)
        assert (float(x1 + vx1 * t1), float(y1 + vy1 * t1)) == pytest.approx((x, y))
        assert (float(x2 + vx2 * t2), float(y2 + vy2 * t2)) == pytest.approx((x, y))
    # nearly parallel but not quite (|cross product| 0.5): still a crossing
    t1, t2, x, y = crossing_times(0.0, 0.0, 1.0, 0.0, 0.0, 10.0, 1.0, -0.5)
    assert (float(t1), float(t2), float(x), float(y)) == (20.0, 20.0, 20.0, 0.0)


def test_small_integer_inputs_give_the_float_results() -> None:
    """Inputs of any numeric dtype are taken as float64 (no integer overflow or wrap)."""

    def i8(*v: int) -> np.ndarray:
        return np.array(v, dtype=np.int8)

    def f(*v: int) -> np.ndarray:
        return np.array(v, dtype=np.float64)

    args = (i8(100, -90), i8(60, 20), i8(-30, 25), i8(12, -20))
    floats = tuple(a.astype(float) for a in args)
    for got, want in zip(closest_approach(*args), closest_approach(*floats), strict=True):
        assert got.tolist() == pytest.approx(want.tolist())
    assert time_to_contact(*args, i8(100, 90)).tolist() == pytest.approx(
        time_to_contact(*(a.astype(float) for a in args), f(100, 90)).tolist()
    )
    assert gap_ttc(i8(100), i8(-128, 127)).tolist() == [math.inf, 100 / 127]
    assert required_decel(i8(100, 1), i8(100, 120)).tolist() == [50.0, 7200.0]
    assert ttc_lead_braking(i8(100), i8(120), i8(100), i8(100)).tolist() == pytest.approx(
        ttc_lead_braking(f(100), f(120), f(100), f(100)).tolist()
    )
    x, y = predict_cv(i8(100), i8(100), i8(100), i8(100), i8(100))
    assert (x.tolist(), y.tolist()) == ([10_100.0], [10_100.0])
    got = predict_ctrv(i8(100), i8(100), i8(100), i8(90), i8(100), i8(100))
    want = predict_ctrv(f(100), f(100), f(100), f(90), f(100), f(100))
    assert np.allclose(np.concatenate(got), np.concatenate(want), rtol=1e-12)
    got = crossing_times(i8(100), i8(0), i8(100), i8(0), i8(0), i8(-100), i8(0), i8(100))
    want = crossing_times(f(100), f(0), f(100), f(0), f(0), f(-100), f(0), f(100))
    assert np.allclose(np.concatenate(got), np.concatenate(want), rtol=1e-12)
