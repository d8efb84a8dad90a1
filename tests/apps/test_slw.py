"""SLW: over the lane's limit from MAP or an RSI sign's limit, with a tolerance."""

from __future__ import annotations

import itertools

import msgspec
import numpy as np
from _roadside_scene import FRAME, junction_map, latlon, vehicle, view_of

from v2xcloud.apps.slw import SpeedLimitWarning
from v2xcloud.model import EmergencyState, RoadSign, Rsi
from v2xcloud.model.road import ReferencePath
from v2xcloud.twin import Scene


def test_over_the_map_limit_warns_and_within_tolerance_does_not() -> None:
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        vehicle("fast", 0, -100, 70 / 3.6),
        vehicle("ok", 3.5, -100, 53 / 3.6),
    )
    advs = SpeedLimitWarning().on_tick(view, 0)
    assert [a.ego_id for a in advs] == ["fast"]
    assert advs[0].values["limit_mps"] == 50 / 3.6


def test_an_emergency_vehicle_on_a_call_is_exempt() -> None:
    """evw_through_crossing: the ambulance at 18 m/s on a 14 m/s road was warned (false)."""
    on_call = msgspec.structs.replace(
        vehicle("ambulance", 0, -100, 70 / 3.6),
        emergency=EmergencyState(response_type="emergency", siren="inUse", lights="inUse"),
    )
    view = view_of(junction_map(limit_mps=50 / 3.6), on_call, vehicle("car", 3.5, -100, 70 / 3.6))
    assert [a.ego_id for a in SpeedLimitWarning().on_tick(view, 0)] == ["car"]


def test_rsi_sign_limit_applies_only_on_its_path() -> None:
    path = ReferencePath(points=(latlon(100, -500), latlon(100, 0)), radius_m=5.0)
    sign = RoadSign(sign_id=1, sign_type=38, speed_limit_mps=30 / 3.6, reference_paths=(path,))
    rsi = Rsi(msg_count=1, rsu_id="r1", ref_lat_deg=49.0, ref_lon_deg=8.4, signs=(sign,))
    view = view_of(
        rsi,
        vehicle("in", 100, -100, 45 / 3.6),
        vehicle("off", 200, -100, 45 / 3.6),
        vehicle("back", 100, -100, 45 / 3.6, heading_deg=180.0),
    )
    assert [a.ego_id for a in SpeedLimitWarning().on_tick(view, 0)] == ["in"]


def test_no_limit_known_no_warning() -> None:
    view = view_of(junction_map(limit_mps=None), vehicle("x", 0, -100, 40.0))
    assert SpeedLimitWarning().on_tick(view, 0) == []


def test_hovering_near_the_threshold_keeps_one_advisory_alive() -> None:
    # limit 50 km/h, warn above 55: the driver goes 57, 53, 57, 53 ... km/h, then 48
    scene = Scene(FRAME)
    scene.ingest(junction_map(limit_mps=50 / 3.6), received_at_ms=0, source="rsu")
    app = SpeedLimitWarning()
    warned_at, cleared = [], False
    for k in range(40):
        t_ms = k * 100
        kmh = 48.0 if k >= 30 else (57.0 if (k // 5) % 2 == 0 else 53.0)
        car = vehicle("v", 0, -200 + k * 1.5, kmh / 3.6, t_ms=t_ms)
        scene.ingest(car, received_at_ms=t_ms, source="rsu")
        view = scene.update(t_ms)
        over = app._over(view, np.array([50 / 3.6]), t_ms)
        warned_at += [t_ms] if over[0] else []
        cleared = not over[0]
    # warned throughout 53 km/h dips; the drop to 48 km/h within one report (-25 m/s²) is a
    # jump the scene's tracker takes from its second report on (issue 15: one sample is noise)
    assert warned_at == list(range(0, 3100, 100))
    assert cleared  # 48 km/h is under the limit itself


def test_a_warned_vehicle_keeps_its_limit_through_a_stretch_without_one() -> None:
    app = SpeedLimitWarning()
    view = view_of(junction_map(limit_mps=50 / 3.6), vehicle("v", 0, -100, 60 / 3.6))
    assert app._over(view, np.array([50 / 3.6]), 0)[0]
    unknown = np.array([np.inf])
    assert app._over(view, unknown.copy(), 3000)[0]  # e.g. crossing the junction
    assert not app._over(view, unknown.copy(), 9000)[0]  # carried 5 s only
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
    assert issued[0] == 0 and len(issued) >= 5
    assert max(b - a for a, b in itertools.pairwise(issued)) <= 1000
