"""Run a detector over a scripted timeline (one view per second)."""

from __future__ import annotations

from collections.abc import Callable

from _roadside_scene import FRAME

from v2xcloud.model import RoadEvent
from v2xcloud.twin import Scene


def run(
    detector: object, steps: int, frame_at: Callable[[int], list[object]], *, dt_ms: int = 1000
) -> list[list[RoadEvent]]:
    """Ingest ``frame_at(t_ms)`` each step and collect the detector's output per step."""
    scene = Scene(FRAME, stale_after_ms=dt_ms * 2)
    out = []
    for k in range(steps):
        t = k * dt_ms
        for item in frame_at(t):
            scene.ingest(item, received_at_ms=t, source="rsu")  # type: ignore[arg-type]
        out.append(detector.on_tick(scene.update(t), t))  # type: ignore[attr-defined]
    return out
