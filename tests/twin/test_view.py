"""SceneView lifetime and the row caches behind it."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

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


def _report(scene: Scene, pid: str, x_m: float, y_m: float, t_ms: int) -> None:
    scene.ingest(
        state_at(pid, x_m=x_m, y_m=y_m, t_ms=t_ms, speed_mps=5.0),
        received_at_ms=t_ms + 5,
        source="gw",
    )


def test_focus_keeps_the_pairs_touching_updated_rows_each_once() -> None:
    full, focused = Scene(TEST_FRAME), Scene(TEST_FRAME, focus_refresh_ms=100)
    spots = [(0.0, 0.0), (3.5, 10.0), (0.0, 20.0), (3.5, 30.0), (0.0, 200.0), (0.0, 205.0)]
    for scene in (full, focused):
        for k, (x, y) in enumerate(spots):
            _report(scene, f"v{k}", x, y, 0)
        scene.update(10)
    assert len(full.update(20).unordered_pairs(50.0)) == 7  # 6 near the origin, 1 far away
    _report(focused, "v1", 3.5, 10.0, 20)
    _report(focused, "v4", 0.0, 200.0, 20)
    view = focused.update(30)  # v1 and v4 have news; nobody is overdue yet
    assert view.focus is not None and view.focus.nonzero()[0].tolist() == [1, 4]
    pairs = view.unordered_pairs(50.0)
    found = sorted(
        tuple(sorted((view.ids[a], view.ids[b])))
        for a, b in zip(pairs.ego, pairs.other, strict=True)
    )
    assert found == [("v0", "v1"), ("v1", "v2"), ("v1", "v3"), ("v4", "v5")]
    near = view.neighbours([0], 25.0)  # v0 is not focused: only its pair with v1
    assert [view.ids[j] for j in near.other] == ["v1"]
    assert len(view.neighbours([0], 25.0, focused=False)) == 2
    with pytest.raises(TypeError, match="not a boolean mask"):  # False, True: rows 0 and 1
        view.neighbours(np.array([False, True]), 25.0)


def test_focus_refresh_brings_silent_rows_back_into_focus() -> None:
    scene = Scene(TEST_FRAME, focus_refresh_ms=100)
    _report(scene, "a", 0.0, 0.0, 0)
    _report(scene, "b", 3.5, 0.0, 0)
    assert scene.update(0).focus.tolist() == [True, True]  # type: ignore[union-attr]
    assert scene.update(25).focus.tolist() == [False, False]  # type: ignore[union-attr]
    assert len(scene.update(50).unordered_pairs(50.0)) == 0
    assert scene.update(100).focus.tolist() == [True, True]  # type: ignore[union-attr]
    assert Scene(TEST_FRAME).update(0).focus is None  # default: every pair every tick
