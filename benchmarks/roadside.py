"""Road-side apps, event detectors and the K733 replay: CPU per tick and replay speed.

Usage::

    .venv/bin/python benchmarks/roadside.py                 # sizes 100, 1000, 3000 + K733
    .venv/bin/python benchmarks/roadside.py --sizes 500 --ticks 20

Synthetic part: one signalised junction with four approaches of three 300 m lanes, vehicles
spread along every lane (seeded), half the approaches red; each tick every vehicle reports
once and the six V2I apps (RLVW, GLOSA, SLW, IVS, HLW, TJW) plus the four event detectors
run on the live scene view (scene update and lane matching included). Figures are CPU time of this process (``time.process_time``); the
machine is shared, so they vary. K733 part: the real 157 s recording (when ../shared is
present) through the full Runtime (V2V + V2I apps, detectors, dissemination).
"""

from __future__ import annotations

import argparse
import io
import math
import time
from pathlib import Path

import numpy as np

from v2xcloud.apps import V2I_APPS
from v2xcloud.apps.events import DETECTORS
from v2xcloud.geo import LocalFrame
from v2xcloud.model import (
    Connection,
    IntersectionState,
    Lane,
    LightState,
    MapData,
    MapLink,
    MapNode,
    NodeId,
    PhaseState,
    SignalPhase,
    Spat,
)
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import state_at

FRAME = LocalFrame(origin_lat_deg=49.0, origin_lon_deg=8.4)
NODE = NodeId(region=None, id=1)
REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference/trajectories/taf-bw-k733-2020"


def _ll(x: float, y: float) -> tuple[float, float]:
    lat, lon = FRAME.to_wgs84(x, y)
    return float(lat), float(lon)


def _junction() -> tuple[MapData, list[tuple[float, float, float]]]:
    """Four approaches (from S, W, N, E), three lanes each; returns map and lane (x0, y0, h)."""
    links, lanes_xy = [], []
    for k, heading in enumerate((0.0, 90.0, 180.0, 270.0)):
        ux, uy = math.sin(math.radians(heading)), math.cos(math.radians(heading))
        lanes = []
        for j in range(3):
            off = 2.0 + 3.5 * j  # right-hand side of the road
            sx, sy = -ux * 12 + uy * off, -uy * 12 - ux * off  # stop line 12 m before centre
            lanes.append(
                Lane(
                    lane_id=10 * k + j,
                    lane_type="vehicle",
                    points=(_ll(sx - ux * 300, sy - uy * 300), _ll(sx, sy)),
                    connections=(
                        Connection(
                            remote_node=NODE,
                            phase_id=k % 2 + 1,
                            maneuvers=frozenset({"maneuverStraightAllowed"}),
                        ),
                    ),
                )
            )
            lanes_xy.append((sx, sy, heading))
        links.append(MapLink(upstream_node=NodeId(region=None, id=k + 2), lanes=tuple(lanes)))
    node = MapNode(id=NODE, lat_deg=49.0, lon_deg=8.4, in_links=tuple(links))
    return MapData(msg_count=0, nodes=(node,)), lanes_xy


def _spat(t_ms: int) -> Spat:
    phases = (
        SignalPhase(
            phase_id=1,
            states=(
                PhaseState(light=LightState.RED, likely_end_s=20.0),
                PhaseState(light=LightState.PROTECTED_GREEN, likely_end_s=50.0),
            ),
        ),
        SignalPhase(
            phase_id=2, states=(PhaseState(light=LightState.PROTECTED_GREEN, likely_end_s=20.0),)
        ),
    )
    return Spat(
        msg_count=0,
        timestamp_ms=t_ms,
        intersections=(IntersectionState(node=NODE, timestamp_ms=t_ms, phases=phases),),
    )


def synthetic(n: int, ticks: int) -> float:
    """Mean CPU ms per tick for ``n`` vehicles."""
    map_data, lanes = _junction()
    rng = np.random.default_rng(7)
    lane = rng.integers(0, len(lanes), n)
    back = rng.uniform(5, 300, n)
    speed = rng.uniform(0, 14, n)
    scene = Scene(FRAME)
    scene.ingest(map_data, received_at_ms=0, source="bench")
    apps = [a() for a in V2I_APPS]
    detectors = [d() for d in DETECTORS]
    spent = 0.0
    for k in range(ticks):
        t = k * 100
        scene.ingest(_spat(t), received_at_ms=t, source="bench")
        for i in range(n):
            sx, sy, h = lanes[lane[i]]
            d = back[i] - speed[i] * t / 1000
            x = sx - math.sin(math.radians(h)) * d
            y = sy - math.cos(math.radians(h)) * d
            scene.ingest(
                state_at(
                    f"v{i}",
                    x_m=x,
                    y_m=y,
                    t_ms=t,
                    speed_mps=float(speed[i]),
                    heading_deg=h,
                    frame=FRAME,
                ),
                received_at_ms=t,
                source="bench",
            )
        started = time.process_time()
        view = scene.update(t)  # applies the reports and matches lanes (part of the cost)
        for app in apps:
            app.on_tick(view, t)
        for det in detectors:
            det.on_tick(view, t)
        spent += time.process_time() - started
    return spent / ticks * 1000


def k733() -> None:
    """Replay the real recording through the full runtime and print its speed."""
    from v2xcloud.replay.recording import load_recording
    from v2xcloud.replay.runner import run_replay

    if not REFERENCE.is_dir():
        print("K733 replay: skipped (../shared/reference not found)")
        return
    rec = load_recording(
        tracks=REFERENCE / "vehicle_tracks_000.csv",
        signals=REFERENCE / "signal_phases_000.csv",
        map_path=REFERENCE / "k733_map.kml",
    )
    cpu = time.process_time()
    summary = run_replay(rec, io.StringIO())
    cpu = time.process_time() - cpu
    print(
        f"K733 replay: {summary.duration_s:.1f} s of traffic, {summary.instants} ticks, "
        f"wall {summary.wall_s:.2f} s ({summary.duration_s / summary.wall_s:.0f}x real time), "
        f"CPU {cpu:.2f} s = {cpu / summary.instants * 1000:.2f} ms/tick (all apps + detectors)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--ticks", type=int, default=10)
    args = parser.parse_args()
    for n in args.sizes:
        print(
            f"V2I apps + detectors, {n:5d} vehicles at one junction: "
            f"{synthetic(n, args.ticks):7.2f} ms CPU per tick"
        )
    k733()


if __name__ == "__main__":
    main()
