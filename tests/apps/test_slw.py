"""SLW: over the lane's limit from MAP or an RSI sign's limit, with a tolerance."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import msgspec
import numpy as np
from _roadside_scene import FRAME, junction_map, latlon, vehicle, view_of

from v2xcloud.apps.base import Advisory
from v2xcloud.apps.slw import SpeedLimitWarning
from v2xcloud.model import EmergencyState, ParticipantSource, RoadSign, Rsi
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin import Scene


def _after_a_second(items: Callable[[int], tuple[object, ...]]) -> list[Advisory]:
    """The advisories of a new SLW that has seen the scene of ``items(t_ms)`` at 0 ms and
    again at 1 s (``vehicle`` is a roadside track, whose overspeed must last ``sustain_ms``,
    1 s, before a new warning): none at 0."""
    app = SpeedLimitWarning()
    assert app.on_tick(view_of(*items(0)), 0) == []
    return app.on_tick(view_of(*items(1000), now_ms=1000), 1000)


def test_over_the_map_limit_warns_and_within_tolerance_does_not() -> None:
    advs = _after_a_second(
        lambda t: (
            junction_map(limit_mps=50 / 3.6),
            vehicle("fast", 0, -100, 70 / 3.6, t_ms=t),
            vehicle("ok", 3.5, -100, 53 / 3.6, t_ms=t),
        )
    )
    assert [a.ego_id for a in advs] == ["fast"]
    assert advs[0].values["limit_mps"] == 50 / 3.6


def test_an_emergency_vehicle_on_a_call_is_exempt() -> None:
    """evw_through_crossing: the ambulance at 18 m/s on a 14 m/s road was warned (false)."""
    siren = EmergencyState(response_type="emergency", siren="inUse", lights="inUse")

    def items(t: int) -> tuple[object, ...]:
        on_call = msgspec.structs.replace(
            vehicle("ambulance", 0, -100, 70 / 3.6, t_ms=t), emergency=siren
        )
        return (
            junction_map(limit_mps=50 / 3.6),
            on_call,
            vehicle("car", 3.5, -100, 70 / 3.6, t_ms=t),
        )

    assert [a.ego_id for a in _after_a_second(items)] == ["car"]


def test_rsi_sign_limit_applies_only_on_its_path() -> None:
    path = ReferencePath(points=(latlon(100, -500), latlon(100, 0)), radius_m=5.0)
    sign = RoadSign(sign_id=1, sign_type=38, speed_limit_mps=30 / 3.6, reference_paths=(path,))
    rsi = Rsi(msg_count=1, rsu_id="r1", ref_lat_deg=49.0, ref_lon_deg=8.4, signs=(sign,))
    advs = _after_a_second(
        lambda t: (
            rsi,
            vehicle("in", 100, -100, 45 / 3.6, t_ms=t),
            vehicle("off", 200, -100, 45 / 3.6, t_ms=t),
            vehicle("back", 100, -100, 45 / 3.6, heading_deg=180.0, t_ms=t),
        )
    )
    assert [a.ego_id for a in advs] == ["in"]


def test_no_limit_known_no_warning() -> None:
    assert (
        _after_a_second(
            lambda t: (junction_map(limit_mps=None), vehicle("x", 0, -100, 40.0, t_ms=t))
        )
        == []
    )


def test_hovering_near_the_threshold_keeps_one_advisory_alive() -> None:
    # limit 50 km/h, warn above 55: the driver goes 57 km/h for 1.5 s, then 53, 57, 53 ...
    # km/h, then 48
    scene = Scene(FRAME)
    scene.ingest(junction_map(limit_mps=50 / 3.6), received_at_ms=0, source="rsu")
    app = SpeedLimitWarning()
    warned_at, cleared = [], False
    for k in range(40):
        t_ms = k * 100
        kmh = 48.0 if k >= 30 else (57.0 if k < 15 or (k // 5) % 2 == 0 else 53.0)
        car = vehicle("v", 0, -200 + k * 1.5, kmh / 3.6, t_ms=t_ms)
        scene.ingest(car, received_at_ms=t_ms, source="rsu")
        view = scene.update(t_ms)
        over = app._over(view, np.array([50 / 3.6]), t_ms)
        warned_at += [t_ms] if over[0] else []
        cleared = not over[0]
    # warned once 57 km/h has lasted 1 s, and throughout the 53 km/h dips; the drop to 48 km/h within one report (-25 m/s²) is a
    # jump the scene's tracker takes from its second report on (issue 15: one sample is noise)
    assert warned_at == list(range(1000, 3100, 100))
    assert cleared  # 48 km/h is under the limit itself


def test_a_warned_vehicle_keeps_its_limit_through_a_stretch_without_one() -> None:
    app = SpeedLimitWarning()
    view = view_of(junction_map(limit_mps=50 / 3.6), vehicle("v", 0, -100, 60 / 3.6))
    assert not app._over(view, np.array([50 / 3.6]), 0)[0]
    assert app._over(view, np.array([50 / 3.6]), 1000)[0]
    unknown = np.array([np.inf])
    assert app._over(view, unknown.copy(), 3000)[0]  # e.g. crossing the junction
    assert not app._over(view, unknown.copy(), 9000)[0]  # carried 5 s only (from 1 s)
    assert not SpeedLimitWarning()._over(view, unknown.copy(), 0)[0]  # never warned: no limit


def test_a_lasting_overspeed_is_one_advisory_refreshed_within_a_second() -> None:
    scene = Scene(FRAME)
    scene.ingest(junction_map(limit_mps=50 / 3.6), received_at_ms=0, source="rsu")
    app = SpeedLimitWarning()
    issued = []
    for k in range(50):
        t_ms = k * 100
        scene.ingest(
            vehicle("v", 0, -250 + k * 2.0, 70 / 3.6, t_ms=t_ms), received_at_ms=t_ms, source="rsu"
        )
        issued += [t_ms for _ in app.on_tick(scene.update(t_ms), t_ms)]
    assert issued[0] == 1000 and len(issued) >= 4
    assert max(b - a for a, b in itertools.pairwise(issued)) <= 1000


def test_an_overspeed_shorter_than_a_second_is_no_warning() -> None:
    """K733 (issue 15, real recording at true speeds): a new roadside track's first speeds
    overshoot (track 60: 26 m/s for a car at 15, over 55 km/h for 0.9 s) and a roadside
    velocity swings by ±3 m/s within 2 s (track 60 again: 16.7 m/s for 0.3 s at 11-12 m/s
    by its positions): 8 of the 9 SLW warnings. A roadside track's spell over the limit
    plus the tolerance that has not lasted 1 s is no speeding."""
    scene = Scene(FRAME)
    scene.ingest(junction_map(limit_mps=50 / 3.6), received_at_ms=0, source="rsu")
    app = SpeedLimitWarning()
    issued = []
    for k in range(30):
        t_ms = k * 100
        kmh = 70.0 if 10 <= k < 18 else 45.0  # 0.8 s over 55 km/h
        car = vehicle("v", 0, -250 + k * 1.5, kmh / 3.6, t_ms=t_ms)
        scene.ingest(car, received_at_ms=t_ms, source="rsu")
        issued += [t_ms for _ in app.on_tick(scene.update(t_ms), t_ms)]
    assert issued == []


def test_a_run_over_the_limit_carries_its_limit_through_a_stretch_without_one() -> None:
    """K733's track 40 (15.5 m/s by its positions over 3 s on a 50 km/h road) is over 55 km/h
    for 0.4 s on its lane, then crosses the junction, where no lane gives a limit: its run
    keeps the lane's limit (``carry_ms``), as a warned vehicle's does, and is warned at 1 s."""
    app = SpeedLimitWarning()
    view = view_of(junction_map(limit_mps=50 / 3.6), vehicle("v", 0, -100, 60 / 3.6))
    lane, unknown = np.array([50 / 3.6]), np.array([np.inf])
    assert not app._over(view, lane.copy(), 0)[0]
    assert not app._over(view, unknown.copy(), 500)[0]  # in the junction: no limit known
    assert app._over(view, unknown.copy(), 1000)[0]
    fresh = SpeedLimitWarning()
    assert not fresh._over(view, unknown.copy(), 0)[0]
    assert not fresh._over(view, unknown.copy(), 1000)[0]  # no run under way: no limit


def test_a_vehicle_reporting_its_own_speed_is_warned_at_once() -> None:
    """The 1 s wait is for roadside tracks' estimates; a BSM's speed is the vehicle's own
    measurement. The bench's speeding episodes of connected cars hovering around the
    threshold often last under a second (demo_district: 17 of 101 would be missed)."""
    own = msgspec.structs.replace(vehicle("bsm", 0, -100, 70 / 3.6), source=ParticipantSource.BSM)
    scene = Scene(FRAME)
    scene.ingest(junction_map(limit_mps=50 / 3.6), received_at_ms=0, source="rsu")
    scene.ingest(own, received_at_ms=0, source="obu")
    scene.ingest(vehicle("rsm", 3.5, -100, 70 / 3.6), received_at_ms=0, source="rsu")
    assert [a.ego_id for a in SpeedLimitWarning().on_tick(scene.update(0), 0)] == ["bsm"]
