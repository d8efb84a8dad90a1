"""What misbehaviour detection costs per report, and the runtime's intake with and without it,
in the same run.

    .venv/bin/python benchmarks/misbehaviour.py [--vehicles 1000] [--seconds 5] [--rounds 3]

Synthetic honest traffic: ``--vehicles`` cars on a 1 km grid of lanes, 10 Hz BSMs with
GNSS-like noise, ``--seconds`` of it (every check runs; neighbours share cells of the spatial
hash like real traffic does). Prints:
  detector us/report   ``MisbehaviourDetector.screen`` alone
  ingest us/report     ``Runtime.ingest`` + the tick's share (scene, apps off), without and
                       with the screen; the ratio of the two (same run, interleaved rounds)
Times are the minimum over ``--rounds`` of this thread's CPU time (``time.thread_time``).
The detection figures of the attack classes come from ``v2xcloud evaluate --attacks all``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from v2xcloud.model import Bsm
from v2xcloud.runtime import Runtime
from v2xcloud.security import MisbehaviourDetector
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


def traffic(vehicles: int, seconds: int, seed: int = 1) -> list[list[Bsm]]:
    """One list of BSMs per 100 ms step: lanes 3.5 m apart, 40 cars a lane 15 m apart, each
    lane at its own speed (nobody drives through anybody), east- or northbound."""
    rng = np.random.default_rng(seed)
    lane = np.arange(vehicles) // 40
    slot = np.arange(vehicles) % 40
    is_east = lane % 2 == 0
    speed = rng.uniform(5, 17, lane.max() + 1)[lane]
    steps = []
    for k in range(seconds * 10):
        t = k * 100
        along = -600 + 15.0 * slot + speed * t / 1000
        noise = rng.normal(0, 0.3, (vehicles, 2))
        step = []
        for i in range(vehicles):
            road = 3.5 * lane[i] + (0.0 if is_east[i] else 2000.0)  # the two directions apart
            x, y = (along[i], road) if is_east[i] else (road, along[i])
            step.append(bsm_at(f"{i:016x}", x_m=float(x + noise[i, 0]), y_m=float(y + noise[i, 1]),
                               t_ms=t, speed_mps=float(speed[i] + rng.normal(0, 0.1)),
                               heading_deg=90.0 if is_east[i] else 0.0))  # fmt: skip
        steps.append(step)
    return steps


def _detector(steps: list[list[Bsm]]) -> float:
    det = MisbehaviourDetector()
    n = 0
    t0 = time.thread_time()
    for k, step in enumerate(steps):
        for bsm in step:
            det.screen(bsm, received_at_ms=k * 100, source="obu")
            n += 1
    used = time.thread_time() - t0
    if det.counts["flagged"]:
        print(f"note: {det.counts['flagged']} honest senders flagged: {dict(det.counts)}")
    return used / n * 1e6


def _runtime(steps: list[list[Bsm]], *, with_screen: bool) -> float:
    screen = MisbehaviourDetector() if with_screen else None
    rt = Runtime(frame=TEST_FRAME, apps=[], detectors=(), screen=screen)
    n = 0
    t0 = time.thread_time()
    for k, step in enumerate(steps):
        for bsm in step:
            rt.ingest(bsm, received_at_ms=k * 100, source="obu")
            n += 1
        rt.tick(k * 100)
    return (time.thread_time() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vehicles", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    steps = traffic(args.vehicles, args.seconds)
    reports = sum(len(s) for s in steps)
    best = {"detector": math.inf, "without": math.inf, "with": math.inf}
    for _ in range(args.rounds):  # interleaved: load on the machine hits all alike
        best["detector"] = min(best["detector"], _detector(steps))
        best["without"] = min(best["without"], _runtime(steps, with_screen=False))
        best["with"] = min(best["with"], _runtime(steps, with_screen=True))
    print(f"{args.vehicles} vehicles x {args.seconds} s at 10 Hz = {reports:,} honest reports, "
          f"min of {args.rounds} rounds (thread CPU)")  # fmt: skip
    print(f"detector alone        {best['detector']:7.1f} us/report "
          f"({1e6 / best['detector']:,.0f} reports/s on one core)")  # fmt: skip
    print(f"runtime ingest+tick   {best['without']:7.1f} us/report without screen, "
          f"{best['with']:.1f} with: x{best['with'] / best['without']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
