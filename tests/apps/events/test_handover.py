"""Detector clocks handed over (an edge worker's successor on a tile): a detector that adopts
its predecessor's clocks goes on with the event (same id, same start) at its first round,
where a fresh one would wait its whole time again."""

from __future__ import annotations

from _roadside_scene import FRAME, junction_map, spat, vehicle

from v2xcloud.apps.events import SlowVehicleDetector, StoppedVehicleDetector
from v2xcloud.model import LightState, RoadEvent
from v2xcloud.twin import Scene

GREEN, RED = LightState.PROTECTED_GREEN, LightState.RED


def _stalled(t: int) -> list[object]:
    """A car standing on its approach while the light is green (an incident after 20 s)."""
    return [
        junction_map(),
        spat(t, phase1=(GREEN, 100.0, RED, 130.0)),
        vehicle("s", 0, -50, 0.0, t_ms=t),
        vehicle("far", 0, -150, 0.0, t_ms=t),  # not handed over: placed elsewhere
    ]


def _run(
    detector: StoppedVehicleDetector | SlowVehicleDetector,
    seconds: range,
    frames: object,
) -> dict[int, list[RoadEvent]]:
    scene = Scene(FRAME, stale_after_ms=2000)
    out = {}
    for k in seconds:
        t = k * 1000
        for item in frames(t):  # type: ignore[operator]
            scene.ingest(item, received_at_ms=t, source="rsu")
        out[k] = detector.on_tick(scene.update(t), t)
    return out


def test_a_successor_that_adopts_the_clocks_goes_on_with_the_stopped_vehicle() -> None:
    before = StoppedVehicleDetector(min_stopped_s=20)
    before.book.stable_ids = True
    seen = _run(before, range(0, 26), _stalled)
    (event,) = [e for e in seen[25] if "vehicle s " in (e.description or "")]
    handed = before.handover({"s"})
    assert set(handed) == {"s"} and handed["s"] >= 20_000

    # the successor sees the car from 27 s on (the takeover's missed window: 26 s)
    after = StoppedVehicleDetector(min_stopped_s=20)
    after.book.stable_ids = True
    _run(after, range(27, 28), _stalled)  # its first round: its own clock starts
    assert after.adopt(handed, 25_000) == 1
    went_on = _run(after, range(28, 29), _stalled)[28]
    (again,) = [e for e in went_on if "vehicle s " in (e.description or "")]
    assert again.event_id == event.event_id
    assert again.start_ms == event.start_ms  # the same standstill, not a new one
    fresh = StoppedVehicleDetector(min_stopped_s=20)  # without the clocks: 20 s more
    assert not _run(fresh, range(27, 29), _stalled)[28]


def test_clocks_handed_after_the_successors_last_round_keep_the_start() -> None:
    """The successor's last round came before the handover (a kill within one round): the
    clock is stepped back to that round, not counted twice (the start would move earlier)."""
    before = StoppedVehicleDetector(min_stopped_s=20)
    before.book.stable_ids = True
    seen = _run(before, range(0, 26), _stalled)
    (event,) = [e for e in seen[25] if "vehicle s " in (e.description or "")]
    handed = before.handover({"s"})  # true at 25 s
    after = StoppedVehicleDetector(min_stopped_s=20)
    after.book.stable_ids = True
    _run(after, range(24, 25), _stalled)  # its last round: 24 s, before the handover
    assert after.adopt(handed, 25_000) == 1
    (again,) = [
        e for e in _run(after, range(26, 27), _stalled)[26] if "vehicle s " in (e.description or "")
    ]
    assert again.start_ms == event.start_ms
    # a detector that never ran steps from the handover
    first = StoppedVehicleDetector(min_stopped_s=20)
    assert first.adopt(handed, 25_000) == 1
    (fresh,) = [
        e for e in _run(first, range(27, 28), _stalled)[27] if "vehicle s " in (e.description or "")
    ]
    assert fresh.start_ms == event.start_ms


def test_condition_starts_are_handed_over_and_the_earlier_one_wins() -> None:
    slow = SlowVehicleDetector()
    slow._since_ms = {"a": 5_000, "b": 9_000}
    assert slow.handover({"a", "c"}) == {"a": 5_000}
    successor = SlowVehicleDetector()
    successor._since_ms = {"a": 12_000}
    assert successor.adopt({"a": 5_000, "d": 7_000}, 14_000) == 2
    assert successor.handover({"a", "d"}) == {"a": 5_000, "d": 7_000}
