"""A SUMO ``Snapshot`` written out by hand, for the ground-truth tests."""

from __future__ import annotations

import numpy as np

from v2xcloud.sim.snapshot import Snapshot

Car = tuple[str, float, float, float, float, int, str, str]


def snapshot(
    t: float, cars: list[tuple[str, float, float, float, float, int, str, str]]
) -> Snapshot:
    """cars: (id, x, y = front bumper, speed, heading, signals, lane, vtype)."""
    n = len(cars)
    return Snapshot(
        time_s=t,
        ids=[c[0] for c in cars],
        is_pedestrian=np.zeros(n, dtype=bool),
        x_m=np.array([c[1] for c in cars]),
        y_m=np.array([c[2] for c in cars]),
        speed_mps=np.array([c[3] for c in cars]),
        heading_deg=np.array([c[4] for c in cars]),
        accel_mps2=np.zeros(n),
        length_m=np.full(n, 4.5),
        width_m=np.full(n, 1.8),
        signals=np.array([c[5] for c in cars], dtype=np.int64),
        lane_ids=[c[6] for c in cars],
        vtypes=[c[7] for c in cars],
    )
