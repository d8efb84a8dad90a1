"""The V2I apps run inside the real Runtime on the live SceneView; junctions are joined to the
scene's lane match once per MAP and carry the latest SPAT."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))

from _roadside_scene import FRAME, junction_map, spat, vehicle

from v2xcloud.apps import V2I_APPS
from v2xcloud.model import LightState
from v2xcloud.runtime import Runtime
from v2xcloud.twin.junction import junctions_of

RED, GREEN = LightState.RED, LightState.PROTECTED_GREEN


def test_rlvw_and_glosa_fire_through_the_runtime() -> None:
    runtime = Runtime(frame=FRAME, apps=[app() for app in V2I_APPS])
    runtime.ingest(junction_map(), received_at_ms=0, source="rsu")
    advisories = []
    for t in range(0, 1000, 100):
        runtime.ingest(spat(t, phase1=(RED, 20.0, GREEN, 50.0)), received_at_ms=t, source="rsu")
        runtime.ingest(
            vehicle("runner", 0, -20 + 1.4 * t / 100, 14.0, t_ms=t), received_at_ms=t, source="rsu"
        )
        runtime.ingest(
            vehicle("far", 0, -200 + 1.5 * t / 100, 15.0, t_ms=t), received_at_ms=t, source="rsu"
        )
        advisories += runtime.tick(t)
    by_app = {(a.app, a.ego_id) for a in advisories}
    assert ("RLVW", "runner") in by_app and ("GLOSA", "far") in by_app
    assert ("RLVW", "far") not in by_app
    assert not runtime.host.errors  # no app raised


def test_junctions_are_reused_and_follow_the_spat() -> None:
    runtime = Runtime(frame=FRAME, apps=[])
    runtime.ingest(junction_map(), received_at_ms=0, source="rsu")
    runtime.ingest(spat(0, phase1=(RED, 20.0, GREEN, 50.0)), received_at_ms=0, source="rsu")
    runtime.ingest(vehicle("a", 0, -50, 10.0), received_at_ms=0, source="rsu")
    runtime.tick(0)
    assert runtime.view is not None
    first = junctions_of(runtime.view)
    assert junctions_of(runtime.view) is first  # once per tick
    (junction,) = first.junctions
    timing = junction.phase(1, 0)
    assert timing is not None and timing.light is RED
    row = runtime.view.row_of("a")
    assert row is not None
    lane = int(runtime.view.lane[row])  # the scene's lane match, joined to the junction
    assert first.junction_of_lane[lane] == 0
    assert junction.lanes[first.local_lane[lane]].lane_id == 1
    runtime.ingest(spat(100, phase1=(GREEN, 30.0, RED, 60.0)), received_at_ms=100, source="rsu")
    runtime.tick(100)
    assert runtime.view is not None
    (again,) = junctions_of(runtime.view).junctions
    timing = again.phase(1, 100)
    assert again is junction and timing is not None and timing.light is GREEN
