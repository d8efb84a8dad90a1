"""TJW: a queue of slow vehicles ahead in the same direction, or an RSI congestion event."""

from __future__ import annotations

import numpy as np
import pytest
from _roadside_scene import FRAME, junction_map, latlon, vehicle, view_of

from v2xcloud.apps import tjw
from v2xcloud.apps.tjw import TrafficJamWarning, beyond_turns, queue_ahead
from v2xcloud.model import ParticipantState, RoadEvent, Rsi
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import state_at


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
    advs = TrafficJamWarning().on_tick(
        view_of(rsi, vehicle("v", 0, 0, 14.0), vehicle("crawling", 3.5, 150, 1.2)), 0
    )
    # the one crawling in the congestion is part of it: only the approaching one is warned
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


def test_a_turning_vehicle_is_warned_only_of_the_queue_before_its_stop_line() -> None:
    """Lane 1 (x = 0) goes straight on, lane 2 (x = 3.5) only turns right, stop line y = 0: a
    queue straight on past the junction is on a turner's path no more."""

    def car(x: float, lights: frozenset[str] = frozenset()) -> ParticipantState:
        return state_at(
            "ego", x_m=x, y_m=-100, t_ms=0, speed_mps=14.0, frame=FRAME, exterior_lights=lights
        )

    beyond = [vehicle(f"q{k}", 0.0, 30 + 7 * k, 0.5) for k in range(4)]
    before = [vehicle(f"b{k}", 3.5, -40 + 7 * k, 0.5) for k in range(3)]
    app = TrafficJamWarning()
    straight = app.on_tick(view_of(junction_map(), *beyond, car(0.0)), 0)
    assert [a.ego_id for a in straight] == ["ego"]  # going straight on: its queue
    signalling = view_of(junction_map(), *beyond, car(0.0, frozenset({"rightTurnSignalOn"})))
    assert TrafficJamWarning().on_tick(signalling, 0) == []
    assert TrafficJamWarning().on_tick(view_of(junction_map(), *beyond, car(3.5)), 0) == []
    (own,) = TrafficJamWarning().on_tick(view_of(junction_map(), *before, car(3.5)), 0)
    assert own.ego_id == "ego" and own.values["queue_count"] == 3.0


def test_a_turner_is_warned_of_the_queue_on_the_road_its_turn_enters() -> None:
    """Lane 2 (x = 3.5) only turns right at y = 0 (its egress runs east): a queue standing
    east of the junction is on the turner's path, not on the straight-on car's; the same queue
    north of the junction is on the straight-on car's path only."""
    east = [vehicle(f"e{k}", 25 + 7 * k, 5.0, 0.5, 90.0) for k in range(3)]
    north = [vehicle(f"n{k}", 0.0, 30 + 7 * k, 0.5) for k in range(3)]
    turner, straight = vehicle("turner", 3.5, -120, 14.0), vehicle("straight", 0.0, -120, 14.0)
    (adv,) = TrafficJamWarning().on_tick(view_of(junction_map(), *east, turner, straight), 0)
    assert adv.ego_id == "turner" and adv.values["queue_count"] == 3.0
    assert 140.0 < adv.values["distance_m"] < 160.0  # 120 m to the line, the turn, ~25 m on
    (adv,) = TrafficJamWarning().on_tick(view_of(junction_map(), *north, turner, straight), 0)
    assert adv.ego_id == "straight"
    # a queue of 1 before the line and 2 on the egress is one queue of 3 on its path
    mixed = [vehicle("b0", 3.5, -30, 0.5), *east[:2]]
    (adv,) = TrafficJamWarning().on_tick(view_of(junction_map(), *mixed, turner), 0)
    assert adv.ego_id == "turner" and adv.values["queue_count"] == 3.0
    assert abs(adv.values["distance_m"] - 90.0) < 0.5


def _beyond_one(x, y, h, speed, exit_, left_m):
    """One exit at a time, written out: the reference ``beyond_turns`` must match."""
    ex, ey, out_deg, _, _ = exit_
    slow = np.flatnonzero(speed < tjw.SLOW_MPS)
    dx, dy = x[slow] - ex, y[slow] - ey
    dist = np.hypot(dx, dy)
    along = dx * np.sin(np.radians(out_deg)) + dy * np.cos(np.radians(out_deg))
    same = np.abs((h[slow] - out_deg + 180.0) % 360.0 - 180.0) <= 30.0
    on = same & (dist <= left_m) & ((along >= dist * np.cos(np.radians(15.0))) | (dist <= 3.0))
    return int(on.sum()), float(dist[on].min()) if on.any() else np.inf


@pytest.mark.parametrize("chunk", [1, 7, 500_000])
def test_beyond_turns_counts_the_slow_vehicles_past_each_exit_in_any_chunking(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    rng = np.random.default_rng(3)
    n = 60
    x, y = rng.uniform(-80, 80, n), rng.uniform(-80, 80, n)
    h = rng.uniform(0, 360, n)
    speed = rng.uniform(0, 5, n)
    speed[::9] = np.nan  # not a vehicle
    exits = []
    for deg in rng.uniform(0, 360, 25):
        r = np.radians(deg)
        exits.append((float(rng.uniform(-20, 20)), float(rng.uniform(-20, 20)), float(deg),
                      float(np.sin(r)), float(np.cos(r))))  # fmt: skip
    left = rng.uniform(5, 90, len(exits))
    monkeypatch.setattr(tjw, "_CHUNK_PAIRS", chunk)
    count, nearest = beyond_turns(x, y, h, speed, exits, left)
    want = [_beyond_one(x, y, h, speed, e, m) for e, m in zip(exits, left, strict=True)]
    assert [(int(c), float(d)) for c, d in zip(count, nearest, strict=True)] == want
    assert sum(w[0] for w in want) > 0  # some exits do have a queue beyond


def test_beyond_turns_on_a_city_sized_scene_tests_only_the_pairs_within_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 4,000 vehicles and 300 exits spread over 4 km: the spatial grid (never an exits x
    # vehicles matrix) must find exactly what the one-exit-at-a-time reference finds
    rng = np.random.default_rng(5)
    n = 4000
    x, y = rng.uniform(0, 4000, n), rng.uniform(0, 4000, n)
    h = rng.uniform(0, 360, n)
    speed = rng.uniform(0, 5, n)
    exits = []
    for deg in rng.uniform(0, 360, 300):
        r = np.radians(deg)
        exits.append((float(rng.uniform(0, 4000)), float(rng.uniform(0, 4000)), float(deg),
                      float(np.sin(r)), float(np.cos(r))))  # fmt: skip
    left = rng.uniform(20, 300, len(exits))
    tested: list[int] = []
    pairs_within = tjw._pairs_within

    def counted(*args):  # type: ignore[no-untyped-def]
        for e, s in pairs_within(*args):
            tested.append(e.size)
            yield e, s

    monkeypatch.setattr(tjw, "_pairs_within", counted)
    count, nearest = beyond_turns(x, y, h, speed, exits, left)
    want = [_beyond_one(x, y, h, speed, e, m) for e, m in zip(exits, left, strict=True)]
    assert [(int(c), float(d)) for c, d in zip(count, nearest, strict=True)] == want
    assert sum(w[0] for w in want) > 20
    assert sum(tested) < 0.1 * len(exits) * int((speed < tjw.SLOW_MPS).sum())


def test_a_new_map_replaces_the_movements_remembered_for_its_lanes() -> None:
    """TJW remembers each lane's turns between ticks; a MAP that makes lane 2 straight-on
    (it turned right only) must make its vehicle's path straight on at once."""
    import msgspec

    old = junction_map()
    node = old.nodes[0]
    (link,) = node.in_links
    turned = link.lanes[1]
    straight_conn = msgspec.structs.replace(
        turned.connections[0], maneuvers=frozenset({"maneuverStraightAllowed"})
    )
    lanes = (link.lanes[0], msgspec.structs.replace(turned, connections=(straight_conn,)))
    new_node = msgspec.structs.replace(node, in_links=(msgspec.structs.replace(link, lanes=lanes),))
    new = msgspec.structs.replace(old, msg_count=2, nodes=(new_node,))
    beyond = [vehicle(f"q{k}", 3.5, 30 + 7 * k, 0.5) for k in range(4)]
    app = TrafficJamWarning()
    assert app.on_tick(view_of(old, *beyond, vehicle("ego", 3.5, -100, 14.0)), 0) == []
    advs = app.on_tick(view_of(new, *beyond, vehicle("ego", 3.5, -100, 14.0)), 100)
    assert [a.ego_id for a in advs] == ["ego"]


def test_a_vehicle_turning_is_not_judged_by_its_sweeping_heading() -> None:
    """A car turning through a junction (yaw rate ≥ ``TURNING_DPS``) points its heading across
    roads it does not take: demo_district's cars turning left in a junction box were warned of
    queues 220-260 m along their momentary heading. Its road ahead is judged once it has
    turned."""
    queue = _queue(200)

    def car(yaw_dps: float) -> ParticipantState:
        return state_at(
            "ego", x_m=0.0, y_m=0.0, t_ms=0, speed_mps=10.0, heading_deg=0.0,
            yaw_rate_dps=yaw_dps, frame=FRAME,
        )  # fmt: skip

    assert [a.ego_id for a in TrafficJamWarning().on_tick(view_of(*queue, car(0.0)), 0)] == ["ego"]
    assert TrafficJamWarning().on_tick(view_of(*queue, car(-30.0)), 0) == []


def test_a_vehicle_silent_for_longer_than_max_silent_is_no_party() -> None:
    """Every road-side app (``RoadApp.on_tick``), as the V2V apps: a track no report has come
    from for 0.8 s is the scene's extrapolation, not a vehicle the platform sees."""
    scene = Scene(FRAME)
    for item in _queue(100):
        scene.ingest(item, received_at_ms=800, source="rsu")  # type: ignore[arg-type]
    for pid, t_ms in (("silent", 0), ("fresh", 500)):
        y = -14.0 * (800 - t_ms) / 1000.0  # at y = 0 by now
        scene.ingest(vehicle(pid, 0, y, 14.0, t_ms=t_ms), received_at_ms=t_ms, source="rsu")
    advisories = TrafficJamWarning().on_tick(scene.update(800), 800)
    assert [a.ego_id for a in advisories] == ["fresh"]
