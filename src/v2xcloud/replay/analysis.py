"""What happened at the stop lines of a recording: who crossed which line on which light.

For every track, samples are matched to the junction's ingress lanes (``geo.LaneMap`` with the
last segment extended past the stop line); a crossing is the first
pair of consecutive samples on one lane that goes from before to past its stop line. The
movement is the lane connection whose exit lane the track is closest to afterwards, and the
light is the recorded state of that connection's signal group at the crossing.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import numpy as np

from v2xcloud.geo import LocalFrame
from v2xcloud.geo.lanes import LaneMap, polyline_distance_m
from v2xcloud.model import Connection, Lane, LightState, MapData, MapNode
from v2xcloud.replay.recording import Recording
from v2xcloud.replay.tracks import kind_of_agent
from v2xcloud.twin.junction import is_ingress_lane

__all__ = ["Crossing", "crossing_table", "stop_line_crossings"]


class Crossing(msgspec.Struct, frozen=True, kw_only=True):
    """One track crossing one stop line."""

    track_id: str
    kind: str
    lane_id: int
    maneuver: str
    phase_id: int | None
    light: str
    t_ms: int
    speed_mps: float


def _all_lanes(node: MapNode) -> dict[int, Lane]:
    return {lane.lane_id: lane for link in node.in_links for lane in link.lanes}


def _local(frame: LocalFrame, rec: Recording, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = rec.georef.to_wgs84(rec.tracks.x_m[idx], rec.tracks.y_m[idx])
    return frame.to_local(lat, lon)


def _movement(
    conns: tuple[Connection, ...],
    lanes: dict[int, Lane],
    frame: LocalFrame,
    x: np.ndarray,
    y: np.ndarray,
) -> Connection:
    """The connection whose exit lane passes closest to the positions after the crossing."""
    best, best_d = conns[0], np.inf
    for conn in conns:
        exit_lane = lanes.get(conn.remote_lane_id or -1)
        if exit_lane is None or len(exit_lane.points) < 2:
            continue
        ex, ey = frame.to_local(
            np.array([p[0] for p in exit_lane.points]), np.array([p[1] for p in exit_lane.points])
        )
        d = float(polyline_distance_m(x, y, np.column_stack([ex, ey])).min(initial=np.inf))
        if d < best_d:
            best, best_d = conn, d
    return best


def stop_line_crossings(rec: Recording) -> list[Crossing]:
    """Every stop-line crossing in the recording (needs its map; signals give the light)."""
    if rec.map is None:
        return []
    node = rec.map.nodes[0]
    frame = LocalFrame(
        origin_lat_deg=rec.georef.origin_lat_deg, origin_lon_deg=rec.georef.origin_lon_deg
    )
    ingress = LaneMap(
        [MapData(msg_count=0, nodes=(node,))],
        frame,
        default_width_m=3.0,  # ± 2 m with the tolerance
        overshoot_m=15.0,
        lane_filter=is_ingress_lane,
    )
    lanes, tr = _all_lanes(node), rec.tracks
    heading = (90.0 - np.degrees(np.arctan2(tr.vy_mps, tr.vx_mps))) % 360.0
    out = []
    for tid in np.unique(tr.track_id):
        idx = np.flatnonzero(tr.track_id == tid)
        idx = idx[np.argsort(tr.timestamp_ms[idx])]
        x, y = _local(frame, rec, idx)
        m = ingress.match(x, y, heading[idx])
        hit = np.flatnonzero(
            (m.lane[:-1] >= 0)
            & (m.lane[:-1] == m.lane[1:])
            & (m.to_stop_m[:-1] > 0)
            & (m.to_stop_m[1:] <= 0)
        )
        if hit.size == 0:
            continue
        k = int(hit[0])
        lane = ingress.lanes[int(m.lane[k])].lane
        conn = _movement(lane.connections, lanes, frame, x[k + 1 :], y[k + 1 :])
        t_rel = int(tr.timestamp_ms[idx[k + 1]])
        light = (
            rec.signals.light_at(conn.phase_id, t_rel)
            if rec.signals is not None and conn.phase_id in rec.signals.group_ids
            else LightState.UNAVAILABLE
        )
        out.append(
            Crossing(
                track_id=str(tid),
                kind=str(kind_of_agent(str(tr.agent_type[idx[0]]))),
                lane_id=lane.lane_id,
                maneuver=min(conn.maneuvers, default="unknown")
                .removeprefix("maneuver")
                .removesuffix("Allowed")
                .lower(),
                phase_id=conn.phase_id,
                light=str(light),
                t_ms=rec.base_ms + t_rel,
                speed_mps=float(np.hypot(tr.vx_mps[idx[k]], tr.vy_mps[idx[k]])),
            )
        )
    return out


def crossing_table(crossings: list[Crossing]) -> dict[str, int]:
    """Counts keyed ``"lane <id> <maneuver> (group <g>): <light>"``."""
    counts = Counter(
        f"lane {c.lane_id} {c.maneuver} (group {c.phase_id}): {c.light}" for c in crossings
    )
    return dict(sorted(counts.items()))
