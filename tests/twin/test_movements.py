"""Movements from the MAP (ingress lane → junction box → egress lane), their conflict zones,
and which movement a vehicle is on: on a small four-arm junction and on the real K733 map."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest
from _cross_junction import EGRESS, FRAME, cross_map, latlon

from v2xcloud.geo import LocalFrame
from v2xcloud.model import Lane, ParticipantSource
from v2xcloud.replay.recording import load_recording
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.movements import (
    LEFT,
    RIGHT,
    SLOWED,
    STEADY,
    STRAIGHT,
    LaneMemory,
    Movements,
    MovementsMemo,
    MovementWeights,
    movements_of,
)
from v2xcloud.twin.testing import state_at

ARMS = {"S": 0, "W": 1, "N": 2, "E": 3}  # LaneMap order of the ingress lanes


def _view(*items: object, frame: LocalFrame = FRAME, now_ms: int = 0) -> SceneView:
    scene = Scene(frame)
    for item in items:
        scene.ingest(item, received_at_ms=now_ms, source="rsu")  # type: ignore[arg-type]
    return scene.update(now_ms)


def _car(pid: str, x: float, y: float, heading: float, speed: float = 10.0, **kw: object):
    return state_at(
        pid, x_m=x, y_m=y, t_ms=0, speed_mps=speed, heading_deg=heading, frame=FRAME,
        source=ParticipantSource.RSM, **kw,
    )  # fmt: skip


def _movement(m: Movements, arm: str, turn: int) -> int:
    return next(p.index for p in m.lane_movements(ARMS[arm]) if p.turn == turn)


def _meets(m: Movements, a: int, b: int) -> bool:
    sa, sb = m.conflict_s(np.array([a]), np.array([b]))
    return bool(np.isfinite(sa[0]) and np.isfinite(sb[0]))


def test_movement_paths_follow_the_lane_the_box_and_the_exit() -> None:
    m = movements_of(_view(cross_map()))
    assert m is not None
    paths = m.junction(0)
    assert len(paths) == 12 and all(p.egress_known for p in paths)
    left = m.paths[_movement(m, "S", LEFT)]  # north-bound, turning into the west exit
    assert left.point_at(0.0) == pytest.approx((1.75, -8.0), abs=0.01)  # the stop line
    end = left.point_at(left.box_end_s)
    assert end == pytest.approx(EGRESS["west"][1], abs=0.01)  # the exit lane's first point
    assert left.point_at(-30.0) == pytest.approx((1.75, -38.0), abs=0.01)  # on the lane
    mid = np.array(left.point_at(left.box_end_s / 2))
    assert np.hypot(*mid) < 6.0  # the arc stays in the box, no straight line across


def test_conflict_zones_where_movement_paths_meet() -> None:
    m = movements_of(_view(cross_map()))
    assert m is not None
    m.junction(0)
    s_straight, w_straight = _movement(m, "S", STRAIGHT), _movement(m, "W", STRAIGHT)
    sa, sb = m.conflict_s(np.array([s_straight]), np.array([w_straight]))
    # they cross at (1.75, -1.75): 6.25 m past S's stop line, 9.75 m past W's; the zone opens
    # where the paths come within 2 m (two half widths), up to 2 m before
    assert 4.25 <= sa[0] < 6.25 and 7.75 <= sb[0] < 9.75
    assert _meets(m, _movement(m, "S", RIGHT), w_straight)  # merging into the east exit
    assert _meets(m, _movement(m, "S", LEFT), _movement(m, "N", STRAIGHT))  # across oncoming
    assert not _meets(m, s_straight, _movement(m, "N", STRAIGHT))  # opposite lanes
    assert not _meets(m, _movement(m, "S", RIGHT), _movement(m, "N", RIGHT))  # both corners
    assert not _meets(m, _movement(m, "S", RIGHT), _movement(m, "E", STRAIGHT))
    assert not _meets(m, s_straight, _movement(m, "S", LEFT))  # one lane: a queue, no zone


def test_an_exit_lane_missing_from_the_map_is_built_from_the_manoeuvre() -> None:
    m = movements_of(_view(cross_map(exits=False)))
    assert m is not None
    paths = m.junction(0)
    assert len(paths) == 12 and not any(p.egress_known for p in paths)
    for turn, direction in ((STRAIGHT, "north"), (LEFT, "west"), (RIGHT, "east")):
        p = m.paths[_movement(m, "S", turn)]
        assert p.point_at(p.box_end_s) == pytest.approx(EGRESS[direction][1], abs=0.01)
    assert _meets(m, _movement(m, "S", STRAIGHT), _movement(m, "W", STRAIGHT))
    assert not _meets(m, _movement(m, "S", RIGHT), _movement(m, "N", RIGHT))


def test_vehicles_are_located_on_their_lane_movements_and_in_the_box() -> None:
    view = _view(
        cross_map(),
        _car("lane", 1.75, -30.0, 0.0),
        _car("box", -2.0, -1.75, 90.0),  # on the west arm's straight path, in the box
        _car("away", 1.75, 60.0, 0.0),  # on an exit lane: no movement ahead here
    )
    m = movements_of(view)
    assert m is not None
    rows = np.array([view.row_of(p) for p in ("lane", "box", "away")], dtype=np.int64)
    cand = m.locate(view, rows)
    on_lane = cand.query == 0
    assert sorted(m.paths[p].turn for p in cand.path[on_lane]) == [STRAIGHT, LEFT, RIGHT]
    assert np.allclose(cand.s_m[on_lane], -22.0)
    in_box = cand.query == 1
    assert cand.path[in_box].tolist() == [_movement(m, "W", STRAIGHT)]
    assert cand.s_m[in_box][0] == pytest.approx(6.0, abs=0.1)
    assert not (cand.query == 2).any()


def test_the_lane_a_vehicle_came_from_decides_its_box_movements() -> None:
    # tick 1: "v" on the S lane 2 m before its line; tick 2: in the box, 1.7 m beside the S
    # straight path (a track that drifts): an unknown origin would need 1.5 m
    def box_view(seen_on_lane: bool) -> tuple[SceneView, Movements, LaneMemory]:
        scene = Scene(FRAME)
        scene.ingest(cross_map(), received_at_ms=0, source="rsu")
        memory = LaneMemory()
        if seen_on_lane:
            scene.ingest(_car("v", 1.75, -10.0, 0.0), received_at_ms=0, source="rsu")
            first = scene.update(0)
            found = movements_of(first)
            assert found is not None
            memory.observe(first, found)
        late = state_at(
            "v", x_m=1.75 + 1.7, y_m=0.0, t_ms=500, speed_mps=10.0, heading_deg=0.0,
            frame=FRAME, source=ParticipantSource.RSM,
        )  # fmt: skip
        scene.ingest(late, received_at_ms=500, source="rsu")
        view = scene.update(500)
        m = movements_of(view)
        assert m is not None
        memory.observe(view, m)
        return view, m, memory

    view, m, memory = box_view(seen_on_lane=False)
    row = np.array([view.row_of("v")], dtype=np.int64)
    assert view.lane[row[0]] < 0 and m.locate(view, row, memory).path.size == 0
    view, m, memory = box_view(seen_on_lane=True)
    found = m.locate(view, row, memory)
    assert found.path.size >= 1 and {m.paths[p].lane for p in found.path} == {ARMS["S"]}
    assert _movement(m, "S", STRAIGHT) in found.path.tolist()


def test_turn_signal_speed_and_position_weigh_the_movements() -> None:
    w = MovementWeights()
    cars = (
        _car("plain", 1.75, -30.0, 0.0),
        _car("left", 1.75, -31.0, 0.0, exterior_lights=frozenset({"leftTurnSignalOn"})),
        _car("fast", 1.75, -32.0, 0.0, speed=16.0, exterior_lights=frozenset({"leftTurnSignalOn"})),
    )
    view = _view(cross_map(), *cars)
    m = movements_of(view)
    assert m is not None
    rows = np.array([view.row_of(c.id) for c in cars], dtype=np.int64)
    cand = m.locate(view, rows)
    p = m.weigh(view, rows, cand, w)
    turn = m.turns(cand.path)

    def prob(q: int, t: int) -> float:
        return float(p[(cand.query == q) & (turn == t)][0])

    assert prob(0, STRAIGHT) == pytest.approx(0.6)  # no signal: straight 3 to 1 per turn
    assert prob(1, LEFT) == pytest.approx(0.8)  # signals left: left 8 to 1
    # 16 m/s 32 m before the line cannot slow to 8 m/s at 3 m/s² (needs 32 m): less likely
    assert prob(2, LEFT) < prob(1, LEFT)
    for q in range(3):
        assert p[cand.query == q].sum() == pytest.approx(1.0)


def test_a_lane_fanning_out_into_two_exit_lanes_is_not_twice_as_likely_to_go_that_way() -> None:
    """The S lane goes straight on into either of two north lanes (two connections, as SUMO
    gives an inner lane at a border T-junction): straight on is still one choice of the
    driver's, split between them. Counted per connection, a car signalling right at speed
    was taken as going straight (unseen_grid4_dense seed 4: 2 straight connections + a
    right turn too fast to make comfortably, 2 against 1.6, straight 0.56)."""
    base = cross_map()
    node = base.nodes[0]
    links = list(node.in_links)
    s_lane = links[0].lanes[0]
    straight = s_lane.connections[0]
    wide = msgspec.structs.replace(straight, remote_lane_id=15)
    links[0] = msgspec.structs.replace(
        links[0], lanes=(msgspec.structs.replace(s_lane, connections=(*s_lane.connections, wide)),)
    )
    outer = Lane(lane_id=15, lane_type="vehicle", points=(latlon(5.25, 8.0), latlon(5.25, 200.0)))
    egress = links[-1]
    links[-1] = msgspec.structs.replace(egress, lanes=(*egress.lanes, outer))
    fanned = msgspec.structs.replace(
        base, nodes=(msgspec.structs.replace(node, in_links=tuple(links)),)
    )
    right_on = frozenset({"rightTurnSignalOn"})
    cars = (_car("plain", 1.75, -30.0, 0.0), _car("r", 1.75, -31.0, 0.0, exterior_lights=right_on))
    for mapped in (base, fanned):  # the same odds, fanned out or not
        view = _view(mapped, *cars)
        m = movements_of(view)
        assert m is not None
        rows = np.array([view.row_of(c.id) for c in cars], dtype=np.int64)
        cand = m.locate(view, rows)
        p = m.weigh(view, rows, cand, MovementWeights())
        turn = m.turns(cand.path)
        assert p[(cand.query == 0) & (turn == STRAIGHT)].sum() == pytest.approx(0.6)
        assert p[(cand.query == 1) & (turn == STRAIGHT)].sum() == pytest.approx(1 / 10)


def test_k733_movements_conflict_only_where_the_signal_program_separates_them(
    reference_dir: Path,
) -> None:
    # the real junction: 24 movements of 16 approach lanes; over the whole recording no two
    # movements whose paths meet show green at once, except the cycle lane 65 that merges
    # into lane 61's path on the same signal group (10)
    d = reference_dir / "trajectories/taf-bw-k733-2020"
    rec = load_recording(
        tracks=d / "vehicle_tracks_000.csv",
        signals=d / "signal_phases_000.csv",
        map_path=d / "k733_map.kml",
    )
    assert rec.map is not None and rec.signals is not None
    node = rec.map.nodes[0]
    view = _view(
        rec.map, frame=LocalFrame(origin_lat_deg=node.lat_deg, origin_lon_deg=node.lon_deg)
    )
    m = movements_of(view)
    assert m is not None
    paths = m.junction(0)
    assert len(paths) == 24 and all(p.egress_known for p in paths)
    n = len(paths)
    a, b = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    meets = np.isfinite(m.conflict_s(a, b)[0]).reshape(n, n)
    assert 100 <= meets.sum() // 2 <= 140  # crossing and merging movement pairs
    lane_id = [m.lanes.lanes[p.lane].lane.lane_id for p in paths]
    sig = rec.signals
    together = set()
    for t in sig.timestamps_ms[::10]:
        green = {g for g in sig.group_ids if sig.light_at(g, t).is_green}
        on = [p.phase_id in green for p in paths]
        for i, j in zip(*np.nonzero(np.triu(meets)), strict=True):
            if on[i] and on[j]:
                together.add((lane_id[i], lane_id[j]))
    assert together == {(61, 65)}


def test_a_vehicle_just_past_its_stop_line_is_on_its_lanes_box_paths() -> None:
    """The live lane match clamps a vehicle that has passed its stop line to the line
    (``to_stop_m`` 0): it is in the box, on the box paths of that lane (it was on none, and
    its pairs fell back to straight lines)."""
    view = _view(cross_map(), _car("a", 1.75, -6.5, 0.0, 6.0))
    assert view.lane[0] >= 0 and view.to_stop_m[0] == 0.0
    m = movements_of(view)
    assert m is not None
    found = m.locate(view, np.arange(1))
    assert sorted(found.path.tolist()) == sorted(p.index for p in m.lane_movements(ARMS["S"]))
    assert np.allclose(found.s_m, 1.5, atol=0.05)  # 1.5 m past the line


def test_a_movements_memo_keeps_values_for_one_map_revision_only() -> None:
    first = movements_of(_view(cross_map()))
    second = movements_of(_view(cross_map()))  # the same MAP again: a new revision
    assert first is not None and second is not None and first is not second
    memo: MovementsMemo[int, str] = MovementsMemo()
    memo.table(first)[7] = "left"
    assert memo.table(first) == {7: "left"}  # remembered across ticks of one revision
    assert memo.table(second) == {}  # a new revision starts empty
    assert memo.table(first) == {}  # and the old one is not brought back
    memo.table(None)[1] = "no map"
    assert memo.table(None) == {1: "no map"} and memo.table(second) == {}


def test_a_track_only_roadside_perception_reports_has_unknown_indicators() -> None:
    """An RSM carries no indicators: with ``perceived_straight`` 1 (ICW) such a track's
    movements are equally likely, while a BSM's missing signal still says straight on (3 to
    1 per turn). By default (LTA) a perceived track counts as one without a signal."""
    perceived = _car("seen", 1.75, -30.0, 0.0)  # a roadside unit's report only
    reported = state_at(
        "told", x_m=1.75, y_m=-40.0, t_ms=0, speed_mps=10.0, heading_deg=0.0, frame=FRAME,
        source=ParticipantSource.BSM,
    )  # fmt: skip
    view = _view(cross_map(), perceived, reported)
    m = movements_of(view)
    assert m is not None
    rows = np.array([view.row_of("seen"), view.row_of("told")], dtype=np.int64)
    cand = m.locate(view, rows)
    turn = m.turns(cand.path)

    def straight(w: MovementWeights) -> list[float]:
        p = m.weigh(view, rows, cand, w)
        return [float(p[(cand.query == q) & (turn == STRAIGHT)][0]) for q in range(2)]

    assert straight(MovementWeights(perceived_straight=1.0)) == pytest.approx([1 / 3, 0.6])
    assert straight(MovementWeights()) == pytest.approx([0.6, 0.6])


def test_a_car_partway_into_its_turn_is_not_on_the_straight_path_it_is_still_near() -> None:
    """In the box the track's turning weighs its candidates: a car 4-6 m into a right turn
    (turned 20-40 degrees, yawing) is still within the straight path's reach, but its
    heading and yaw rate say it turns (demo_district: oncoming cars partway into a turn were
    predicted straight on); a car going straight through the box keeps its odds."""
    m0 = movements_of(_view(cross_map()))
    assert m0 is not None

    def along(path_turn: int, s: float, v: float = 6.0) -> tuple[float, float, float, float]:
        path = m0.paths[_movement(m0, "S", path_turn)]
        x, y = path.point_at(s)
        x1, y1 = path.point_at(s - 0.3)
        x2, y2 = path.point_at(s + 0.3)
        h1 = float(np.degrees(np.arctan2(x - x1, y - y1)))
        h2 = float(np.degrees(np.arctan2(x2 - x, y2 - y)))
        yaw = ((h2 - h1 + 180.0) % 360.0 - 180.0) / 0.3 * v
        return x, y, float(np.degrees(np.arctan2(x2 - x1, y2 - y1)) % 360.0), yaw

    def straight_odds(path_turn: int, s_end: float) -> tuple[float, float]:
        scene = Scene(FRAME)
        scene.ingest(cross_map(), received_at_ms=0, source="rsu")
        for k in range(10):  # 10 Hz at 6 m/s along the path, each a round of the tracker
            t = k * 100
            x, y, heading, yaw = along(path_turn, s_end - 0.6 * (9 - k))
            car = state_at(
                "c", x_m=x, y_m=y, t_ms=t, speed_mps=6.0, heading_deg=heading, frame=FRAME,
                yaw_rate_dps=yaw, position_accuracy_m=0.5,
            )  # fmt: skip
            scene.ingest(car, received_at_ms=t, source="obu")
            view = scene.update(t)
        m = movements_of(view)
        assert m is not None
        rows = np.arange(1, dtype=np.int64)
        cand = m.locate(view, rows, None)
        turn = m.turns(cand.path)
        assert STRAIGHT in turn.tolist(), "the straight path is still a candidate"
        blind = MovementWeights(box_heading_sigma_deg=1e6, box_yaw_sigma_dps=1e6)  # position
        return tuple(  # type: ignore[return-value]
            float(m.weigh(view, rows, cand, w)[turn == STRAIGHT].sum())
            for w in (blind, MovementWeights())
        )

    for s_end in (4.0, 6.0):
        blind, weighed = straight_odds(RIGHT, s_end)
        assert blind >= 0.5 and weighed < 0.2, (s_end, blind, weighed)
    blind, weighed = straight_odds(STRAIGHT, 4.0)
    assert weighed == pytest.approx(blind, rel=0.05), (blind, weighed)


def test_the_movements_a_lanes_traffic_takes_set_a_perceived_cars_odds() -> None:
    """Cars seen driving the S lane's right turn through the box are counted once each
    (``LaneMemory.taken``); a car on that lane known only from roadside perception (no
    indicator) then takes the odds the traffic showed, its prior (straight 3 to 1 per turn)
    counting as ``observed_prior_n`` cars; a connected car without a signal keeps its own."""
    scene = Scene(FRAME)
    scene.ingest(cross_map(), received_at_ms=0, source="rsu")
    memory = LaneMemory()
    m0 = movements_of(scene.update(0))
    assert m0 is not None
    right = m0.paths[_movement(m0, "S", RIGHT)]
    t = 0
    for k in range(20):  # 20 cars one after another, 1 m per 100 ms
        for s in np.arange(-15.0, right.box_end_s + 1.0, 1.0):
            t += 100
            x, y = right.point_at(float(s))
            x2, y2 = right.point_at(float(s) + 0.5)
            heading = float(np.degrees(np.arctan2(x2 - x, y2 - y)) % 360.0)
            car = state_at(
                f"r{k}", x_m=x, y_m=y, t_ms=t, speed_mps=10.0, heading_deg=heading,
                frame=FRAME, source=ParticipantSource.RSM,
            )  # fmt: skip
            scene.ingest(car, received_at_ms=t, source="rsu")
            view = scene.update(t)
            m = movements_of(view)
            assert m is m0, "one MAP revision throughout"
            memory.observe(view, m)
            m.lane_memory.observe(view, m)  # the apps' shared memory: each app calls it,
            m.lane_memory.observe(view, m)  # a second call in one tick counts nothing
        t += 3000  # the car leaves the scene before the next comes
    taken, left = memory.taken(m0, right.index)
    assert (taken, left) == (20, 20)
    assert m0.lane_memory.taken(m0, right.index) == (20, 20)
    assert memory.taken(m0, _movement(m0, "S", STRAIGHT)) == (0, 20)

    def odds(view: SceneView, memory: LaneMemory | None) -> list[float]:
        """(straight, right) of "seen" then of "told"."""
        m = movements_of(view)
        assert m is not None
        rows = np.array([view.row_of("seen"), view.row_of("told")], dtype=np.int64)
        cand = m.locate(view, rows)
        turn = m.turns(cand.path)
        p = m.weigh(view, rows, cand, MovementWeights(), memory)
        return [float(p[(cand.query == q) & (turn == w)][0]) for q in (0, 1) for w in (0, 2)]

    def cars(t_ms: int) -> tuple[object, object]:
        seen = state_at(  # perceived only
            "seen", x_m=1.75, y_m=-30.0, t_ms=t_ms, speed_mps=10.0, heading_deg=0.0,
            frame=FRAME, source=ParticipantSource.RSM,
        )  # fmt: skip
        told = state_at(
            "told", x_m=1.75, y_m=-40.0, t_ms=t_ms, speed_mps=10.0, heading_deg=0.0,
            frame=FRAME, source=ParticipantSource.BSM,
        )  # fmt: skip
        return seen, told

    t += 100
    for item in cars(t):
        scene.ingest(item, received_at_ms=t, source="rsu")  # type: ignore[arg-type]
    view = scene.update(t)
    assert movements_of(view) is m0
    assert odds(view, None) == pytest.approx([0.6, 0.2, 0.6, 0.2])
    # (0 + 4 x 0.6) / 24 straight, (20 + 4 x 0.2) / 24 right; the BSM's keeps its own
    assert odds(view, memory) == pytest.approx([2.4 / 24, 20.8 / 24, 0.6, 0.2])
    # another MAP revision (the same MAP sent anew): nothing learned applies there
    assert odds(_view(cross_map(), *cars(0)), memory) == pytest.approx([0.6, 0.2, 0.6, 0.2])


def test_a_perceived_car_that_slowed_into_the_box_takes_the_odds_of_those_that_did() -> None:
    """Ten cars slow from 13 to 5 m/s into the box and turn right; ten keep 13 m/s and go
    straight on. Over the lane, either is about as likely for a car known only from roadside
    perception; in the box, one that slowed on its way in takes the odds of the cars that
    slowed (right), one that came in at its approach speed those of the cars that did not
    (straight on), ``LaneMemory.entry``. demo_district: perceived oncoming cars that had
    slowed into the box and turned right were predicted straight on (LTA's false warnings)."""
    scene = Scene(FRAME)
    scene.ingest(cross_map(), received_at_ms=0, source="rsu")
    m0 = movements_of(scene.update(0))
    assert m0 is not None
    right = m0.paths[_movement(m0, "S", RIGHT)]
    straight = m0.paths[_movement(m0, "S", STRAIGHT)]
    t = 0

    def speed_at(s: float, slows: bool) -> float:
        return max(5.0, 13.0 - max(s + 25.0, 0.0) * 0.4) if slows else 13.0

    def drive(pid: str, path: object, slows: bool, until_s: float) -> SceneView:
        nonlocal t
        s, view = -55.0, None
        while s < until_s:
            t += 100
            v = speed_at(s, slows)
            x, y = path.point_at(s)  # type: ignore[attr-defined]
            x2, y2 = path.point_at(s + 0.5)  # type: ignore[attr-defined]
            heading = float(np.degrees(np.arctan2(x2 - x, y2 - y)) % 360.0)
            car = state_at(
                pid, x_m=x, y_m=y, t_ms=t, speed_mps=v, heading_deg=heading, frame=FRAME,
                source=ParticipantSource.RSM,
            )  # fmt: skip
            scene.ingest(car, received_at_ms=t, source="rsu")
            view = scene.update(t)
            m0.lane_memory.observe(view, m0)
            s += v * 0.1
        assert view is not None
        return view

    for k in range(10):
        drive(f"r{k}", right, True, right.box_end_s + 1.0)
        t += 3000  # gone before the next one comes
        drive(f"s{k}", straight, False, straight.box_end_s + 1.0)
        t += 3000
    memory = m0.lane_memory
    assert memory.taken(m0, right.index) == (10, 20)
    assert memory.taken(m0, right.index, SLOWED) == (10, 10)
    assert memory.taken(m0, straight.index, STEADY) == (10, 10)

    def odds(view: SceneView, pid: str) -> tuple[float, float]:
        """(straight, right) of ``pid``, 1 m into the box."""
        row = np.array([view.row_of(pid)], dtype=np.int64)
        cand = m0.locate(view, row, memory)
        p = m0.weigh(view, row, cand, MovementWeights(), memory)
        turn = m0.turns(cand.path)
        return float(p[turn == STRAIGHT].sum()), float(p[turn == RIGHT].sum())

    slowed = odds(drive("slowed", right, True, 1.0), "slowed")
    steady = odds(drive("steady", straight, False, 1.0), "steady")
    assert slowed[1] > 0.7 > slowed[0], slowed
    assert steady[0] > 0.7 > steady[1], steady
