"""Congestion per lane: a queue that survives green is congestion; one that clears is not."""

from __future__ import annotations

import numpy as np
from _roadside_scene import junction_map, spat, vehicle
from _script import run

from v2xcloud.apps.events import CongestionDetector
from v2xcloud.apps.events.congestion import level_of, queue_length_m
from v2xcloud.model import LightState

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def _cycle(t: int) -> tuple[LightState, float]:
    """30 s red, 30 s green, repeating."""
    phase_s = (t / 1000) % 60
    return (RED, 30 - phase_s) if phase_s < 30 else (GREEN, 60 - phase_s)


def _signals(t: int) -> object:
    light, rem = _cycle(t)
    nxt = GREEN if light is RED else RED
    return spat(t, phase1=(light, rem, nxt, rem + 30))


def test_queue_that_never_clears_through_green_is_congestion() -> None:
    def jammed(t: int) -> list[object]:
        return [
            junction_map(),
            _signals(t),
            *(vehicle(f"v{k}", 0, -4 - 7 * k, 0.3, t_ms=t) for k in range(10)),
        ]

    det = CongestionDetector(window_s=60, min_duration_s=60)
    out = run(det, 90, jammed)
    first = next(k for k, events in enumerate(out) if events)
    assert first == 60
    (event,) = out[first]
    assert event.kind == "congestion" and event.reference_paths
    lane1 = next(t for t in det.traffic if t.lane_id == 1)
    assert lane1.queue_count == 10 and lane1.level == 3
    assert 65 < lane1.queue_length_m < 70 and lane1.density_veh_per_km > 30


def test_queue_at_red_that_clears_on_green_is_not_congestion() -> None:
    def signalised(t: int) -> list[object]:
        light, _ = _cycle(t)
        items: list[object] = [junction_map(), _signals(t)]
        if light is RED:  # five cars wait at red, then leave on green
            items += [vehicle(f"v{k}", 0, -4 - 7 * k, 0.0, t_ms=t) for k in range(5)]
        return items

    out = run(CongestionDetector(window_s=60, min_duration_s=60), 150, signalised)
    assert all(events == [] for events in out)


def test_helpers() -> None:
    assert [level_of(r) for r in (0.9, 0.6, 0.4, 0.1)] == [0, 1, 2, 3]
    to_stop = np.array([3.0, 10.0, 17.0, 60.0])
    speed = np.array([0.0, 0.5, 0.0, 0.0])
    assert queue_length_m(to_stop, speed) == (19.5, 3)  # the car 43 m behind is not queued
    assert queue_length_m(np.array([40.0]), np.array([0.0])) == (0.0, 0)


def test_lanes_of_junctions_that_left_the_scene_are_forgotten() -> None:
    det = CongestionDetector(window_s=60, min_duration_s=60)
    with_map = [junction_map(), vehicle("v", 0, -20, 5.0)]
    run(det, 3, lambda t: with_map)
    assert det.lanes_tracked() == 2
    run(det, 3, lambda t: [vehicle("v", 0, -20, 5.0)])  # the MAP is gone from this scene
    assert det.lanes_tracked() == 0
