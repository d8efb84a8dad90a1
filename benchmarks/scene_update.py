"""CPU cost of the scene's update (tracking filter included) per vehicle-update.

    PYTHONPATH=src python benchmarks/scene_update.py [--vehicles 1000] [--frames 40]

The synthetic Manhattan grid of ``benchmarks/apps.py`` (every vehicle a BSM per 0.1 s): each
frame's reports are queued, then ``Scene.update`` applies them (fusion, the per-participant
Kalman filter of ``twin/_track.py``, expiry, the view). Prints the median CPU time of the
update divided by the reports it applied (this process's ``time.process_time``). Compare
two trees by running it with each on ``PYTHONPATH`` in turn, twice (the machine is shared).

``--roadside`` runs the same frames a second time with every vehicle also seen by a roadside
unit: one RSM per frame carries an object without a BSM id for each vehicle (0.3 m off its
BSM position, same report time). The first frame fuses each object into its vehicle
(``twin/_fusion.py``); every later one is a cross-check (``twin/_apply.py``: the RSU's
position beside the BSM's, and each fused object's latest report time for the same-RSU
rule). Prints that run's µs per report (BSMs and RSM objects) beside the first, and the
ratio of their CPU per frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).parent))

import apps as grid
from v2xcloud.model import ParticipantSource, ParticipantState, Rsm
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME


def _seen_by_rsu(batch: list[ParticipantState], t_ms: int) -> Rsm:
    """The frame's vehicles as one roadside unit's objects: no BSM id, 0.3 m off."""
    objects = tuple(
        msgspec.structs.replace(
            state,
            id=f"r1/{k}",
            source=ParticipantSource.RSM,
            lat_deg=state.lat_deg + 0.3 / 111_320.0,
        )
        for k, state in enumerate(batch)
        if state.source is ParticipantSource.BSM
    )
    return Rsm(
        msg_count=t_ms // 100 % 128,
        rsu_id="r1",
        ref_lat_deg=TEST_FRAME.origin_lat_deg,
        ref_lon_deg=TEST_FRAME.origin_lon_deg,
        participants=objects,
    )


def _run(batches: list[list[ParticipantState]], *, roadside: bool) -> tuple[list[float], int]:
    """CPU µs of each frame's update (after the first two) and the reports one frame has."""
    scene = Scene(TEST_FRAME)
    frame_us = []
    reports = len(batches[0])
    for f, batch in enumerate(batches):
        t_ms = grid.T0_MS + 100 * f
        for state in batch:
            scene.ingest(state, received_at_ms=t_ms + 20, source="gw")
        if roadside:
            rsm = _seen_by_rsu(batch, t_ms)
            reports = len(batch) + len(rsm.participants)
            scene.ingest(rsm, received_at_ms=t_ms + 30, source="rsu")
        c0 = time.process_time()
        scene.update(t_ms + 40)
        c1 = time.process_time()
        if f >= 2:  # the first frames allocate the rows (and, with the RSU, fuse)
            frame_us.append((c1 - c0) * 1e6)
    if roadside and scene.stats.fused == 0:
        raise SystemExit("no roadside object was fused: the benchmark measures nothing")
    return frame_us, reports


def main() -> int:
    """Time ``Scene.update`` over the frames and print µs per vehicle-update."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vehicles", type=int, default=1000)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--roadside", action="store_true", help="a second run with RSM objects too")
    args = p.parse_args()
    fleet = grid.manhattan(args.vehicles, 0, 7)
    batches = []
    for f in range(args.frames + 2):
        batches.append(grid.reports(fleet, grid.T0_MS + 100 * f))
        fleet.advance(0.1)
    frame_us, reports = _run(batches, roadside=False)
    base = statistics.median(frame_us)
    print(
        f"scene.update: {base / reports:.2f} us per vehicle-update "
        f"(median of {len(frame_us)} frames, {reports} vehicles)"
    )
    if args.roadside:
        frame_us, reports = _run(batches, roadside=True)
        seen = statistics.median(frame_us)
        print(
            f"with every vehicle also an RSM object: {seen / reports:.2f} us per report "
            f"({reports} reports a frame), {seen / 1000:.2f} ms a frame, "
            f"{seen / base:.2f}x the BSM-only frame"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
