"""CPU cost of the scene's update (tracking filter included) per vehicle-update.

    PYTHONPATH=src python benchmarks/scene_update.py [--vehicles 1000] [--frames 40]

The synthetic Manhattan grid of ``benchmarks/apps.py`` (every vehicle a BSM per 0.1 s): each
frame's reports are queued, then ``Scene.update`` applies them (fusion, the per-participant
Kalman filter of ``twin/_track.py``, expiry, the view). Prints the median CPU time of the
update divided by the reports it applied (this process's ``time.process_time``). Compare
two trees by running it with each on ``PYTHONPATH`` in turn, twice (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import apps as grid
from v2xcloud.twin import Scene
from v2xcloud.twin.testing import TEST_FRAME


def main() -> int:
    """Time ``Scene.update`` over the frames and print µs per vehicle-update."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vehicles", type=int, default=1000)
    p.add_argument("--frames", type=int, default=40)
    args = p.parse_args()
    fleet = grid.manhattan(args.vehicles, 0, 7)
    batches = []
    for f in range(args.frames + 2):
        batches.append(grid.reports(fleet, grid.T0_MS + 100 * f))
        fleet.advance(0.1)
    scene = Scene(TEST_FRAME)
    per_update = []
    for f, batch in enumerate(batches):
        for state in batch:
            scene.ingest(state, received_at_ms=grid.T0_MS + 100 * f + 20, source="gw")
        c0 = time.process_time()
        scene.update(grid.T0_MS + 100 * f + 40)
        c1 = time.process_time()
        if f >= 2:  # the first frames allocate the rows
            per_update.append((c1 - c0) * 1e6 / len(batch))
    print(
        f"scene.update: {statistics.median(per_update):.2f} us per vehicle-update "
        f"(median of {len(per_update)} frames, {len(batches[0])} vehicles)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
