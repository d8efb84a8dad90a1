"""VRUCW: a path known only to within the tracker's heading and yaw-rate σ (off a MAP lane)
must surely reach a standing road user before she is warned of (issue 15, the real K733
recording: cars crossing the junction at 9-12 m/s were warned of bikes and pedestrians
standing 13-40 m ahead on their heading lines, and passed them 3-10 m away)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _v2v_scenario import Mover, first, run, straight

from v2xcloud.apps.vrucw import VruCollisionWarning, _path_sigma_m
from v2xcloud.model import ParticipantKind, ParticipantSource

PED = {
    "kind": ParticipantKind.PEDESTRIAN,
    "source": ParticipantSource.PSM,
    "length_m": 0.5,
    "width_m": 0.5,
}


def _gentle_curve(yaw_dps: float, speed: float):
    """North-bound from (0, 0), curving right at ``yaw_dps`` (below the turning threshold)."""
    w = math.radians(yaw_dps)
    r = speed / w

    def at(t: float) -> tuple[float, float, float, float]:
        a = w * t
        return r * (1.0 - math.cos(a)), r * math.sin(a), speed, math.degrees(a) % 360.0

    return at


@pytest.mark.parametrize("source", [ParticipantSource.RSM, ParticipantSource.BSM])
def test_a_standing_pedestrian_on_an_unsure_heading_line_is_not_warned(
    source: ParticipantSource,
) -> None:
    """A car at 10 m/s curving gently right (4 °/s, not a turn by ``TURNING_DPS``) starts
    with a pedestrian standing on its heading line 40 m ahead; it passes her 5.5 m away.
    Her offset from that line is far inside the path's 1σ lateral uncertainty there (the
    yaw rate's σ alone puts the path metres aside at 30-40 m), so the vehicle is not sure
    to drive to where she stands: no warning (the old rule warned at 0.6 s)."""
    car = Mover("car", _gentle_curve(4.0, 10.0), fields={"source": source})
    ped = Mover("ped", straight(0.0, 40.0, 0.0, 0.0), fields=PED)
    path = _gentle_curve(4.0, 10.0)
    closest = min(math.hypot(path(k / 10)[0], path(k / 10)[1] - 40.0) for k in range(80))
    assert closest > 5.0
    assert first(run(VruCollisionWarning(), [car, ped], seconds=4.0), "car", "ped") is None


def test_a_pedestrian_standing_in_the_cars_path_is_warned_once_the_path_is_sure() -> None:
    """Straight at 12 m/s towards a pedestrian standing in the road 60 m ahead (no MAP): she
    is warned once the path's lateral σ at her distance is inside the contact radius, more
    than a second before contact."""
    car = Mover("car", straight(0, 0, 12.0, 0.0))
    ped = Mover("ped", straight(0.0, 60.0, 0.0, 0.0), fields=PED)
    hit = first(run(VruCollisionWarning(), [car, ped], seconds=5.0), "car", "ped")
    assert hit is not None
    contact_s = (60.0 - 2.25 - 1.7) / 12.0  # front bumper within the contact radius
    assert contact_s - hit[0] >= 1.0


def test_a_pedestrian_walking_across_an_unsure_path_is_warned_in_time() -> None:
    """One surely walking toward the path (by more than her speed's σ) crosses it wherever it
    lies: the path's σ does not stop her warning (the curving car, as above, meets her where
    she crosses its arc 40 m on)."""
    car = Mover("car", _gentle_curve(4.0, 10.0), fields={"source": ParticipantSource.RSM})
    # crossing 40 m on, where the car's arc is (r = 143 m: about 5.6 m right of its start line)
    r = 10.0 / math.radians(4.0)
    a = 40.0 / r
    cx, cy = r * (1.0 - math.cos(a)), r * math.sin(a)
    ped = Mover("ped", straight(cx - 6.0, cy, 1.4, 90.0 - math.degrees(a)), fields=PED)
    hit = first(run(VruCollisionWarning(), [car, ped], seconds=4.0), "car", "ped")
    assert hit is not None


class _View:
    def __init__(self, heading_sd: float, yaw_sd: float, speed: float) -> None:
        self.heading_sd_deg = np.array([heading_sd])
        self.yaw_rate_sd_dps = np.array([yaw_sd])
        self.speed_mps = np.array([speed])


def test_the_paths_lateral_sigma_grows_with_distance() -> None:
    """σ_h × d from the heading, ½ σ_κ d² from the yaw rate (not on a turning arc)."""
    view = _View(2.0, 4.0, 10.0)
    e = np.array([0])
    straight_sd = _path_sigma_m(view, e, np.array([30.0]), np.array([False]))  # type: ignore[arg-type]
    arc_sd = _path_sigma_m(view, e, np.array([30.0]), np.array([True]))  # type: ignore[arg-type]
    lat_h = math.radians(2.0) * 30.0
    lat_k = 0.5 * math.radians(4.0) / 10.0 * 30.0**2
    assert straight_sd[0] == pytest.approx(math.hypot(lat_h, lat_k))
    assert arc_sd[0] == pytest.approx(lat_h)
    behind = _path_sigma_m(view, e, np.array([-5.0]), np.array([False]))  # type: ignore[arg-type]
    assert behind[0] == 0.0
