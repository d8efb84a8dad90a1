"""TJW: a queue of slow vehicles ahead in the same direction, or an RSI congestion event."""

from __future__ import annotations

import numpy as np
from _roadside_scene import latlon, vehicle, view_of

from v2xcloud.apps.tjw import TrafficJamWarning, queue_ahead
from v2xcloud.model import RoadEvent, Rsi


def _queue(y0: float, n: int = 4, heading: float = 0.0) -> list[object]:
    return [vehicle(f"q{k}", 0, y0 + 7 * k, 0.5, heading) for k in range(n)]


def test_fast_vehicle_behind_a_queue_is_warned_with_distance_to_tail() -> None:
    view = view_of(*_queue(100), vehicle("fast", 0, 0, 14.0))
    (adv,) = TrafficJamWarning().on_tick(view, 0)
    assert adv.ego_id == "fast" and adv.values["queue_count"] == 4.0
    assert abs(adv.values["distance_m"] - 100.0) < 0.5


def test_no_warning_for_short_queue_other_direction_slow_ego_or_queue_behind() -> None:
    app = TrafficJamWarning()
    assert app.on_tick(view_of(*_queue(100, n=2), vehicle("a", 0, 0, 14.0)), 0) == []
    assert app.on_tick(view_of(*_queue(100, heading=180.0), vehicle("b", 0, 0, 14.0)), 0) == []
    assert app.on_tick(view_of(*_queue(100), vehicle("c", 0, 0, 3.0)), 0) == []
    assert app.on_tick(view_of(*_queue(-200), vehicle("d", 0, 0, 14.0)), 0) == []
    # pedestrians standing ahead are not a traffic queue
    from v2xcloud.model import ParticipantKind

    peds = [vehicle(f"p{k}", 0, 100 + k, 0.0, kind=ParticipantKind.PEDESTRIAN) for k in range(5)]
    assert app.on_tick(view_of(*peds, vehicle("e", 0, 0, 14.0)), 0) == []


def test_rsi_congestion_event_ahead_warns() -> None:
    lat, lon = latlon(0, 200)
    event = RoadEvent(
        event_id=9,
        event_type=401,
        source="detection",
        lat_deg=lat,
        lon_deg=lon,
        radius_m=30.0,
        kind="congestion",
    )
    rsi = Rsi(msg_count=1, rsu_id="r", ref_lat_deg=49.0, ref_lon_deg=8.4, events=(event,))
    advs = TrafficJamWarning().on_tick(view_of(rsi, vehicle("v", 0, 0, 14.0)), 0)
    assert [(a.ego_id, a.other_id) for a in advs] == [("v", "event:9")]


def test_queue_ahead_is_vectorised_over_all_vehicles() -> None:
    x = np.zeros(6)
    y = np.array([0.0, 100, 107, 114, 121, -50])
    h = np.zeros(6)
    v = np.array([14.0, 0.0, 0.0, 0.0, 0.0, 14.0])
    warn, tail, count = queue_ahead(x, y, h, v)
    assert warn.tolist() == [True, False, False, False, False, True]
    assert tail[5] == 150.0 and count[0] == 4 and np.isnan(tail[1])


def test_city_sized_scene_uses_the_grid_and_finds_the_same_queues() -> None:
    rng = np.random.default_rng(3)
    n = 3000  # spread over 3 km: enough (fast, slow) pairs and span for the grid path
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    h, v = rng.choice([0.0, 90.0, 180.0, 270.0], n), rng.uniform(0, 15, n)
    warn, tail, count = queue_ahead(x, y, h, v)
    fast = np.flatnonzero(v >= 8.0)
    slow = np.flatnonzero(v < 2.5)
    assert fast.size * slow.size > 500_000
    dx, dy = x[slow][None, :] - x[fast][:, None], y[slow][None, :] - y[fast][:, None]
    dist = np.hypot(dx, dy)
    off = np.abs((np.degrees(np.arctan2(dx, dy)) - h[fast][:, None] + 180.0) % 360.0 - 180.0)
    same = np.abs((h[slow][None, :] - h[fast][:, None] + 180.0) % 360.0 - 180.0)
    in_queue = (off <= 15.0) & (same <= 30.0) & (dist >= 10.0) & (dist <= 300.0)
    assert count[fast].tolist() == in_queue.sum(axis=1).tolist()
    assert warn.sum() > 0 and warn[fast].tolist() == (in_queue.sum(axis=1) >= 3).tolist()
    nearest = np.where(in_queue, dist, np.inf).min(axis=1)
    assert np.allclose(tail[fast][warn[fast]], nearest[warn[fast]])
