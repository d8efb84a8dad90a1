"""Stopped vehicle / incident: a queue at a red light is not an incident; a stall on green is."""

from __future__ import annotations

from _roadside_scene import junction_map, spat, vehicle
from _script import run

from v2xcloud.apps.events import StoppedVehicleDetector
from v2xcloud.model import LightState

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


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
    def frame(t: int) -> list[object]:
        speed = 0.0 if t < 30_000 else 10.0
        return [
            junction_map(),
            spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
            vehicle("s", 0, -50 + (0 if t < 30_000 else (t - 30_000) / 100), speed, t_ms=t),
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
