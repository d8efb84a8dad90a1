"""Abnormally slow vehicle: crawling on green with a free road ahead; not in a queue, not at red."""

from __future__ import annotations

from _roadside_scene import junction_map, spat, vehicle
from _script import run

from v2xcloud.apps.events import SlowVehicleDetector
from v2xcloud.model import LightState

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def _crawler(light: LightState, *, queue: bool = False):
    def frame(t: int) -> list[object]:
        y = -250 + 1.5 * t / 1000
        items = [
            junction_map(),
            spat(t, phase1=(light, 100.0, RED, 130.0)),
            vehicle("crawl", 0, y, 1.5, t_ms=t),
        ]
        if queue:
            items.append(vehicle("front", 0, y + 10, 1.0, t_ms=t))
        return items

    return frame


def test_crawler_on_green_with_free_road_is_reported() -> None:
    out = run(SlowVehicleDetector(min_duration_s=15), 25, _crawler(GREEN))
    first = next(k for k, events in enumerate(out) if events)
    assert first == 15
    (event,) = out[first]
    assert event.kind == "slow_vehicle" and "crawl" in (event.description or "")


def test_crawler_behind_a_slow_vehicle_is_not_reported_but_the_leader_is() -> None:
    out = run(SlowVehicleDetector(min_duration_s=15), 25, _crawler(GREEN, queue=True))
    reported = {e.description.split()[1] for events in out for e in events if e.description}
    assert reported == {"front"}


def test_normal_speed_and_approach_to_red_near_the_line_are_not_reported() -> None:
    def near_red(t: int) -> list[object]:
        return [
            junction_map(),
            spat(t, phase1=(RED, 100.0, GREEN, 130.0)),
            vehicle("slowing", 0, -60 + 1.5 * t / 1000, 1.5, t_ms=t),
        ]

    assert all(e == [] for e in run(SlowVehicleDetector(min_duration_s=15), 25, near_red))

    def cruising(t: int) -> list[object]:
        return [junction_map(), vehicle("cruise", 0, -280 + 12 * t / 1000, 12.0, t_ms=t)]

    assert all(e == [] for e in run(SlowVehicleDetector(min_duration_s=15), 20, cruising))
