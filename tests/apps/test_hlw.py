"""HLW: hazards from RSI events ahead on the path; not behind, not congestion, not unsure."""

from __future__ import annotations

from _roadside_scene import junction_map, latlon, vehicle, view_of

from v2xcloud.apps.hlw import HazardousLocationWarning
from v2xcloud.model import RoadEvent, Rsi


def _rsi(*events: RoadEvent) -> Rsi:
    return Rsi(msg_count=1, rsu_id="r1", ref_lat_deg=49.0, ref_lon_deg=8.4, events=events)


def _event(event_id: int, y_m: float, **kw: object) -> RoadEvent:
    lat, lon = latlon(0, y_m)
    return RoadEvent(
        event_id=event_id,
        event_type=100,
        source="detection",
        lat_deg=lat,
        lon_deg=lon,
        radius_m=10.0,
        **kw,
    )  # type: ignore[arg-type]


def test_hazard_ahead_warns_with_distance_and_time() -> None:
    view = view_of(
        _rsi(_event(1, 150, kind="stopped_vehicle", confidence=0.9)),
        vehicle("behind", 0, 0, 15.0),
        vehicle("passed", 0, 250, 15.0),
        vehicle("parked", 0, 150, 0.0),
    )
    (adv,) = HazardousLocationWarning().on_tick(view, 0)
    assert adv.ego_id == "behind" and adv.other_id == "event:1"
    assert abs(adv.values["distance_m"] - 150.0) < 0.5
    assert adv.ttc_s is not None and abs(adv.ttc_s - 10.0) < 0.1


def test_congestion_low_confidence_and_far_events_do_not_warn() -> None:
    events = (_event(2, 150, kind="congestion"), _event(3, 150, confidence=0.2), _event(4, 900))
    view = view_of(_rsi(*events), vehicle("v", 0, 0, 15.0))
    assert HazardousLocationWarning().on_tick(view, 0) == []


def _event_at(event_id: int, x_m: float, y_m: float) -> RoadEvent:
    lat, lon = latlon(x_m, y_m)
    return RoadEvent(
        event_id=event_id, event_type=100, source="detection", lat_deg=lat, lon_deg=lon,
        radius_m=10.0, kind="stopped_vehicle", confidence=0.9,
    )  # fmt: skip


def test_a_turner_is_warned_of_a_hazard_on_its_own_approach_or_the_road_its_turn_enters() -> None:
    """``junction_map``: lane 1 (x = 0) goes straight on, lane 2 (x = 3.5) only turns right
    (its egress runs east), stop line y = 0. A hazard straight on past the junction is on the
    straight-on car's road, not on the turner's (avw_after_junction: a car waiting to turn
    off the side road was warned of the broken-down car on the road it does not take)."""
    turner, straight = vehicle("turner", 3.5, -100, 14.0), vehicle("straight", 0.0, -100, 14.0)

    def warned(event: RoadEvent) -> set[str]:
        view = view_of(junction_map(), _rsi(event), turner, straight)
        return {a.ego_id for a in HazardousLocationWarning().on_tick(view, 0)}

    assert warned(_event_at(1, 0.0, 40.0)) == {"straight"}
    assert "turner" in warned(_event_at(2, 40.0, 5.0))  # on the road its turn enters
    assert warned(_event_at(3, 3.5, -40.0)) == {"turner", "straight"}  # before its stop line
    assert warned(_event_at(4, 3.5, -115.0)) == set()  # behind both: near, but not ahead


def test_a_hazard_is_ahead_within_the_road_ahead_cone_not_beside_it() -> None:
    """Without a MAP the road ahead is the 15° cone TJW's queues are sought in
    (``AHEAD_CONE_DEG``): avw_after_junction's side-road car, 100 m before a crossing, was
    warned of a broken-down car 22° to its right, on the road across its own."""
    near_line = _event_at(1, 40.0, 5.0)  # 22° right of a car at (0, -100) heading north
    on_road = _event_at(2, 15.0, 5.0)  # 8° right
    car = vehicle("car", 0.0, -100.0, 8.0)
    assert HazardousLocationWarning().on_tick(view_of(_rsi(near_line), car), 0) == []
    (adv,) = HazardousLocationWarning().on_tick(view_of(_rsi(on_road), car), 0)
    assert adv.ego_id == "car"
