"""A junction joins MAP and SPAT: phase timing ages with the SPAT, lanes keep their limits."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))

from _roadside_scene import FRAME, junction_map, spat

from v2xcloud.model import LightState
from v2xcloud.twin.junction import Junction, PhaseTiming

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def test_phase_timing_counts_down_from_the_spat_stamp() -> None:
    j = Junction(junction_map().nodes[0], FRAME)
    assert j.phase(1, 0) is None and not j.has_signals
    j.update_signals(spat(1000, phase1=(RED, 10.0, GREEN, 40.0)).intersections[0], received_ms=0)
    timing = j.phase(1, 4000)
    assert timing is not None and timing.light is RED
    assert timing.remaining_s == 7.0 and timing.next_end_s == 37.0
    assert j.phase(9, 4000) is None
    assert timing.green_windows(120.0) == [(7.0, 37.0)]


def test_green_windows_and_lane_facts() -> None:
    now = PhaseTiming(light=GREEN, remaining_s=None)
    assert now.green_windows(60.0) == [(0.0, 60.0)]
    j = Junction(junction_map(limit_mps=10.0).nodes[0], FRAME)
    assert [lane.lane_id for lane in j.lanes] == [1, 2]
    assert j.speed_limit_mps == [10.0, 10.0]
    assert j.main_movement(0).phase_id == 1
    assert j.length_m.round().tolist() == [300.0, 300.0]
