"""IVS: signs shown to the vehicles whose path they apply to, not to everybody."""

from __future__ import annotations

from _roadside_scene import latlon, vehicle, view_of

from v2xcloud.apps.ivs import InVehicleSignage
from v2xcloud.model import RoadSign, Rsi
from v2xcloud.model.road import ReferencePath


def _rsi(*signs: RoadSign) -> Rsi:
    return Rsi(msg_count=1, rsu_id="r1", ref_lat_deg=49.0, ref_lon_deg=8.4, signs=signs)


def test_sign_on_reference_path_reaches_only_vehicles_travelling_along_it() -> None:
    path = ReferencePath(points=(latlon(0, -400), latlon(0, 0)), radius_m=6.0)
    sign = RoadSign(sign_id=3, sign_type=2, description="school zone", reference_paths=(path,))
    view = view_of(
        _rsi(sign),
        vehicle("along", 1, -200, 12.0),
        vehicle("opposite", -1, -200, 12.0, heading_deg=180.0),
        vehicle("elsewhere", 80, -200, 12.0),
    )
    advs = InVehicleSignage().on_tick(view, 0)
    assert [(a.ego_id, a.other_id, a.detail) for a in advs] == [("along", "sign:3", "school zone")]
    assert abs(advs[0].values["distance_m"] - 200.0) < 0.01


def test_sign_without_path_reaches_vehicles_heading_for_it_within_range() -> None:
    lat, lon = latlon(0, 100)
    sign = RoadSign(sign_id=4, sign_type=9, lat_deg=lat, lon_deg=lon)
    view = view_of(
        _rsi(sign),
        vehicle("towards", 0, 0, 10.0),
        vehicle("away", 0, 0, 10.0, heading_deg=180.0),
        vehicle("far", 0, -400, 10.0),
    )
    assert [a.ego_id for a in InVehicleSignage().on_tick(view, 0)] == ["towards"]


def test_sign_not_yet_valid_or_expired_is_not_shown() -> None:
    lat, lon = latlon(0, 100)
    later = RoadSign(sign_id=5, sign_type=9, lat_deg=lat, lon_deg=lon, start_ms=5_000)
    over = RoadSign(sign_id=6, sign_type=9, lat_deg=lat, lon_deg=lon, end_ms=500)
    view = view_of(_rsi(later, over), vehicle("v", 0, 0, 10.0, t_ms=1000), now_ms=1000)
    assert InVehicleSignage().on_tick(view, 1000) == []
