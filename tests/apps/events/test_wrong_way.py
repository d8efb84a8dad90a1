"""Wrong-way: driving against the approach lane for a sustained time, nothing else."""

from __future__ import annotations

from _roadside_scene import junction_map, vehicle
from _script import run

from v2xcloud.apps.events import WrongWayDetector
from v2xcloud.model import ParticipantKind


def _driving(pid: str, heading: float, *, x: float = 0.0, kind=ParticipantKind.VEHICLE):
    sign = 1 if heading == 0.0 else -1
    return lambda t: [
        junction_map(),
        vehicle(pid, x, -200 + sign * 10 * t / 1000, 10.0, heading, t_ms=t, kind=kind),
    ]


def test_vehicle_against_the_lane_is_reported_after_the_minimum_duration() -> None:
    out = run(WrongWayDetector(min_duration_s=1.5), 10, _driving("ghost", 180.0), dt_ms=500)
    first = next(k for k, events in enumerate(out) if events)
    assert first == 3  # 1.5 s at 0.5 s steps
    assert out[first][0].kind == "wrong_way" and out[first][0].start_ms == 0


def test_right_way_other_lanes_cyclists_and_brief_glitches_are_not_reported() -> None:
    assert all(e == [] for e in run(WrongWayDetector(), 10, _driving("ok", 0.0), dt_ms=500))
    off_map = _driving("elsewhere", 180.0, x=30.0)
    assert all(e == [] for e in run(WrongWayDetector(), 10, off_map, dt_ms=500))
    bike = _driving("bike", 180.0, kind=ParticipantKind.CYCLIST)
    assert all(e == [] for e in run(WrongWayDetector(), 10, bike, dt_ms=500))

    def glitch(t: int) -> list[object]:  # a heading flip of one sample
        heading = 180.0 if t == 1000 else 0.0
        return [junction_map(), vehicle("g", 0, -200 + t / 100, 10.0, heading, t_ms=t)]

    assert all(e == [] for e in run(WrongWayDetector(), 10, glitch, dt_ms=500))
