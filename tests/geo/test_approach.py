"""Lane matching to approach lanes: lane, distance to the stop line, lateral offset, heading."""

from __future__ import annotations

import numpy as np

from v2xcloud.geo.approach import ApproachLanes

LANES = ApproachLanes(
    [
        np.array([[0.0, -100.0], [0.0, 0.0]]),  # north-bound, stop line y=0
        np.array([[3.5, -100.0], [3.5, -50.0], [3.5, 0.0]]),
    ]
)


def test_match_gives_lane_distance_offset_and_direction() -> None:
    m = LANES.match(
        np.array([0.3, 3.4, 0.0]), np.array([-50.0, -20.0, 5.0]), np.array([0.0, 10.0, np.nan])
    )
    assert m.lane.tolist() == [0, 1, 0]
    assert np.allclose(m.to_stop_m, [50.0, 20.0, -5.0])  # past the line: negative
    assert np.allclose(m.lateral_m, [0.3, -0.1, 0.0])  # right of the centre line is positive
    assert np.allclose(m.lane_heading_deg, 0.0)


def test_no_match_off_lane_against_direction_or_far_past_the_line() -> None:
    m = LANES.match(
        np.array([10.0, 0.0, 0.0]), np.array([-50.0, -50.0, 30.0]), np.array([0.0, 180.0, 0.0])
    )
    assert m.lane.tolist() == [-1, -1, -1] and np.isnan(m.to_stop_m).all()
    assert LANES.match(np.zeros(0), np.zeros(0)).lane.size == 0


def test_near_lists_every_lane_a_position_cannot_rule_out() -> None:
    near = LANES.near(
        np.array([1.75, 0.0]), np.array([-30.0, -30.0]), np.array([0.0, 0.0]), within_m=2.0
    )
    assert near.tolist() == [[True, True], [True, False]]
