"""Fusing roadside objects that carry no BSM id with the self-reporting participant they are.

An RSM object without ``reported_id`` is matched by gating: the nearest fresh self-reporting
participant of its kind (vehicle, cyclist, pedestrian; an unknown kind matches any) within
``gate_m`` (plus the distance either could travel between the two report times), with a
speed within ``speed_gate_mps`` and, when both move, a heading within ``heading_gate_deg``. Each self-reporter takes at most one object per update (the nearest).
The object's id then becomes an alias of the participant: its later reports are
cross-checks, and carry the participant on if its self-reports stop.
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
    slack = gate_m + float(speed.max(initial=0.0)) * 0.5
    grid = SpatialGrid(cols.x_m[both], cols.y_m[both], cell_m=slack)
    q, j = grid.neighbours(np.arange(p_rows.size), slack)
    keep = j >= p_rows.size  # object → self-reporter only
    q, j = q[keep], j[keep]
    a, b = both[q], both[j]
    dt_s = np.abs(cols.t_ms[a] - cols.t_ms[b]) / 1000.0
    dist = np.hypot(cols.x_m[a] - cols.x_m[b], cols.y_m[a] - cols.y_m[b])
    dv = np.abs(np.nan_to_num(cols.speed_mps[a]) - np.nan_to_num(cols.speed_mps[b]))
    dh = np.abs((cols.heading_deg[a] - cols.heading_deg[b] + 180.0) % 360.0 - 180.0)
    slowest = np.minimum(np.nan_to_num(cols.speed_mps[a]), np.nan_to_num(cols.speed_mps[b]))
    moving = slowest >= MOVING_MPS  # headings compared only when both move
    ok = (dist <= gate_m + dt_s * np.maximum(speed[q], speed[j])) & (dv <= speed_gate_mps)
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
        if obj in taken or reporter in taken:
            continue
        taken.update((obj, reporter))
        _alias(scene, obj, reporter)
        fused += 1
    return fused


def _unlabelled(scene: Scene, row: int) -> bool:
    state = scene._states[row]
    return state is not None and state.reported_id is None


def _alias(scene: Scene, obj: int, reporter: int) -> None:
    cols = scene._cols
    object_id = scene._ids[obj]
    scene._row_of[object_id] = reporter
    scene._aliases.setdefault(reporter, []).append(object_id)
    cols.rsm_x_m[reporter], cols.rsm_y_m[reporter] = cols.x_m[obj], cols.y_m[obj]
    cols.rsm_ms[reporter] = cols.t_ms[obj]
    cols.flags[reporter] |= _PERCEIVED
    scene._states[obj] = None
    cols.release(obj)
