"""SLW: over the lane's limit from MAP or an RSI sign's limit, with a tolerance."""

from __future__ import annotations

from _roadside_scene import junction_map, latlon, vehicle, view_of

from v2xcloud.apps.slw import SpeedLimitWarning
from v2xcloud.model import RoadSign, Rsi
from v2xcloud.model.road import ReferencePath


def test_over_the_map_limit_warns_and_within_tolerance_does_not() -> None:
    view = view_of(
        junction_map(limit_mps=50 / 3.6),
        vehicle("fast", 0, -100, 70 / 3.6),
        vehicle("ok", 3.5, -100, 53 / 3.6),
    )
    advs = SpeedLimitWarning().on_tick(view, 0)
    assert [a.ego_id for a in advs] == ["fast"]
    assert advs[0].values["limit_mps"] == 50 / 3.6


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
