"""Fusing roadside objects that carry no BSM id with the self-reporting participant they are.

An RSM object without ``reported_id`` is matched by gating: the nearest fresh self-reporting
participant of its kind (vehicle, cyclist, pedestrian; an unknown kind matches any) within
``gate_m`` of it at the object's report time (the self-reporter moved there at its velocity;
plus ``speed_gate_mps`` times the time between the two reports), with a speed within
``speed_gate_mps`` and, when both move, a heading within ``heading_gate_deg``. Each self-reporter takes at most one object per update (the nearest).
The object's id then becomes an alias of the participant: its later reports are
cross-checks, and carry the participant on if its self-reports stop. A roadside unit reports
each road user once: while an object of one unit is fused into a participant and still
reported, no other object of that unit is fused into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.geo import SpatialGrid
from v2xcloud.model.thresholds import MOVING_MPS
from v2xcloud.twin.flags import Flag, Kind

if TYPE_CHECKING:
    from v2xcloud.twin.scene import Scene

__all__ = ["fuse_unlabelled"]

_PERCEPTION_ONLY, _PERCEIVED = int(Flag.PERCEPTION_ONLY), int(Flag.PERCEIVED)
_UNKNOWN = int(Kind.UNKNOWN)


def fuse_unlabelled(
    scene: Scene, *, gate_m: float, speed_gate_mps: float, heading_gate_deg: float
) -> int:
    """Alias gated roadside objects to self-reporters; returns how many were fused."""
    cols = scene._cols
    used = cols.used
    alive, flags = cols.alive[:used], cols.flags[:used]
    ever_self = cols.self_ms[:used] >= 0  # a self-reporter carried on by perception stays itself
    perceived = alive & ((flags & _PERCEPTION_ONLY) != 0) & ~ever_self
    reporters = alive & ((flags & _PERCEPTION_ONLY) == 0) & ever_self
    if not perceived.any() or not reporters.any():
        return 0
    p_rows = np.array(
        [r for r in perceived.nonzero()[0].tolist() if _unlabelled(scene, r)], dtype=np.int64
    )
    if p_rows.size == 0:
        return 0
    s_rows = reporters.nonzero()[0]
    both = np.concatenate([p_rows, s_rows])
    speed = np.nan_to_num(cols.speed_mps[both])
    t_ms = cols.t_ms[both]
    span_s = min(float(t_ms.max() - t_ms.min()), scene.stale_after_ms) / 1000.0
    slack = gate_m + float(speed.max(initial=0.0)) * span_s + speed_gate_mps * span_s
    grid = SpatialGrid(cols.x_m[both], cols.y_m[both], cell_m=max(slack, 1.0))
    q, j = grid.neighbours(np.arange(p_rows.size), slack)
    keep = j >= p_rows.size  # object → self-reporter only
    q, j = q[keep], j[keep]
    a, b = both[q], both[j]
    # compared at one time: the self-reporter moved on (or back) to the object's report time
    # at its velocity, within what the speed gate allows over that time (the raw positions
    # of reports up to a second apart, with a second's travel as slack, matched a car to the
    # one following it 10 m behind: demo_district, 23 wrong fusions in one run)
    dt_s = (cols.t_ms[a] - cols.t_ms[b]) / 1000.0
    v_b = np.nan_to_num(cols.speed_mps[b])
    h_b = np.radians(np.nan_to_num(cols.heading_deg[b]))
    x_b = cols.x_m[b] + v_b * np.sin(h_b) * dt_s
    y_b = cols.y_m[b] + v_b * np.cos(h_b) * dt_s
    dist = np.hypot(cols.x_m[a] - x_b, cols.y_m[a] - y_b)
    dv = np.abs(np.nan_to_num(cols.speed_mps[a]) - v_b)
    dh = np.abs((cols.heading_deg[a] - cols.heading_deg[b] + 180.0) % 360.0 - 180.0)
    slowest = np.minimum(np.nan_to_num(cols.speed_mps[a]), v_b)
    moving = slowest >= MOVING_MPS  # headings compared only when both move
    ok = (dist <= gate_m + np.abs(dt_s) * speed_gate_mps) & (dv <= speed_gate_mps)
    ok &= ~(moving & (dh > heading_gate_deg))
    # a pedestrian is not a car: kinds must agree where both are known (demo_district: a
    # pedestrian walking past a car that stood at the end of its trip was fused into the
    # car's BSM track, which walked on as a pedestrian under the car's id for seconds)
    ka, kb = cols.kind[a], cols.kind[b]
    ok &= (ka == kb) | (ka == _UNKNOWN) | (kb == _UNKNOWN)
    a, b, dist = a[ok], b[ok], dist[ok]
    fused = 0
    taken: set[int] = set()
    for k in np.argsort(dist, kind="stable").tolist():
        obj, reporter = int(a[k]), int(b[k])
        if obj in taken or reporter in taken or _sensed_already(scene, obj, reporter):
            continue
        taken.update((obj, reporter))
        _alias(scene, obj, reporter)
        fused += 1
    return fused


def _sensor(object_id: str) -> str:
    """The roadside unit an object id names (``"<rsu>/<ptcId>"``, as the codec names them)."""
    return object_id.rpartition("/")[0]


def _sensed_already(scene: Scene, obj: int, reporter: int) -> bool:
    """Whether the sensor of object ``obj`` still reports another object fused into
    ``reporter`` (within ``stale_after_ms`` of ``obj``'s report): a roadside unit reports each
    road user once, so this object is someone else (demo_district: a car driving beside a
    connected one, 3-4 m apart at its speed, was fused into it the tick after the connected
    car's own object; it vanished from the scene, and carried the connected car's id on for
    seconds after that car had gone)."""
    aliases = scene._aliases.get(reporter)
    if not aliases:
        return False
    sensor = _sensor(scene._ids[obj])
    since = int(scene._cols.t_ms[obj]) - scene.stale_after_ms
    seen = scene._alias_ms
    return any(_sensor(a) == sensor and seen.get(a, -1) >= since for a in aliases)


def _unlabelled(scene: Scene, row: int) -> bool:
    state = scene._states[row]
    return state is not None and state.reported_id is None


def _alias(scene: Scene, obj: int, reporter: int) -> None:
    cols = scene._cols
    object_id = scene._ids[obj]
    scene._row_of[object_id] = reporter
    scene._aliases.setdefault(reporter, []).append(object_id)
    scene._alias_ms[object_id] = int(cols.t_ms[obj])
    cols.rsm_x_m[reporter], cols.rsm_y_m[reporter] = cols.x_m[obj], cols.y_m[obj]
    cols.rsm_ms[reporter] = cols.t_ms[obj]
    cols.flags[reporter] |= _PERCEIVED
    scene._states[obj] = None
    cols.release(obj)
