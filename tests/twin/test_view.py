"""SceneView lifetime and the row caches behind it."""

from __future__ import annotations

import gc
import weakref

from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME, state_at


def _scene_with_traffic() -> Scene:
    scene = Scene(TEST_FRAME)
    for k in range(6):
        scene.ingest(
            state_at(f"v{k}", x_m=3.5 * (k % 2), y_m=8.0 * k, t_ms=0, speed_mps=10.0),
            received_at_ms=5,
            source="gw",
        )
    return scene


def test_next_update_frees_the_previous_views_pair_tables_without_the_cyclic_gc() -> None:
    scene = _scene_with_traffic()
    view = scene.update(0)
    table = view.unordered_pairs(70.0)
    subset = table.subset("ahead", lambda t: t.along_m > 0)
    assert subset.dist_m.size == len(subset)
    view.shared("x", lambda kept=subset: (kept, 1))
    assert len(table) == 15
    refs = [weakref.ref(table), weakref.ref(subset)]
    del table, subset
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        scene.update(100)  # releases the caches of ``view``: no cycle keeps them alive
        assert [r() for r in refs] == [None, None]
    finally:
        if was_enabled:
            gc.enable()
    assert len(view.unordered_pairs(70.0)) == 15  # a released view still answers


def test_view_ids_follow_rows_that_come_and_go() -> None:
    scene = _scene_with_traffic()
    first = scene.update(0)
    assert first.ids == [f"v{k}" for k in range(6)]
    scene.ingest(state_at("v9", x_m=0.0, y_m=90.0, t_ms=900), received_at_ms=905, source="gw")
    second = scene.update(1100)  # v0..v5 are stale (> 1000 ms), v9 is new
    assert second.ids == ["v9"]
    assert second.row_of("v9") == 0 and second.row_of("v0") is None
    assert first.row_of("v0") == 0  # an older view keeps its own rows
    third = scene.update(1150)
    assert third.ids == ["v9"] and third.x_m.size == 1
