"""VSP (VRU safe passage) per tick: CPU per tick against the number of connected vehicles
and of persons sending PSMs, and the conflict test over all vehicles at once (numpy, as the
app runs it) against one Python call per vehicle (as it was first written), same run.

Usage::

    .venv/bin/python benchmarks/day2_vru.py
    .venv/bin/python benchmarks/day2_vru.py --vehicles 100 1000 5000 --persons 1 20 --ticks 20

The scene: vehicles on east-west streets 30 m apart, 20 m apart along each, at 8-14 m/s
(seeded); persons crossing the streets northwards at 1.4 m/s at random places. Each tick
every person's PSM is fresh (a request); nothing is remembered between ticks (a new app per
tick), so every tick does the whole work. Figures are CPU time of this process
(``time.process_time``); the machine is shared, so compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from v2xcloud.apps.day2 import Request
from v2xcloud.apps.day2.vru_passage import VruSafePassage
from v2xcloud.model import ParticipantKind, ParticipantSource
from v2xcloud.model.day2 import Psm
from v2xcloud.twin import Scene, SceneView
from v2xcloud.twin.testing import TEST_FRAME, bsm_at, state_at

T_MS = 1_700_000_000_000


def _scene(n_vehicles: int, rng: np.random.Generator) -> SceneView:
    scene = Scene(TEST_FRAME)
    per_street = max(1, int(math.sqrt(n_vehicles)))
    for k in range(n_vehicles):
        street, slot = divmod(k, per_street)
        bsm = bsm_at(
            f"{k + 1:016x}", x_m=slot * 20.0 - 500.0, y_m=street * 30.0 - 500.0, t_ms=T_MS,
            speed_mps=float(rng.uniform(8.0, 14.0)), heading_deg=90.0,
        )  # fmt: skip
        scene.ingest(bsm, received_at_ms=T_MS, source="obu")
    return scene.update(T_MS)


def _psms(n: int, rng: np.random.Generator) -> list[Request]:
    out = []
    for k in range(n):
        person = state_at(
            f"{0xD000000000000000 + k:016x}", x_m=float(rng.uniform(-500, 500)),
            y_m=float(rng.uniform(-500, 500)), t_ms=T_MS, speed_mps=1.4, heading_deg=0.0,
            kind=ParticipantKind.PEDESTRIAN, source=ParticipantSource.PSM,
        )  # fmt: skip
        psm = Psm(msg_count=1, participant=person, user_type="aPEDESTRIAN", overall_radius_m=0.5)
        out.append(Request(message=psm, source="psm", received_at_ms=T_MS))
    return out


class _PerVehicle(VruSafePassage):
    """The same test with one Python call per vehicle row, in floats (the first version)."""

    def _conflicts(self, view, rows, px, py, pvx, pvy, p_speed, radius_m):  # type: ignore[no-untyped-def]
        cfg = self.config
        out = []
        for r in rows.tolist():
            vx, vy = float(view.x_m[r]), float(view.y_m[r])
            sin_h, cos_h = float(view.sin_heading[r]), float(view.cos_heading[r])
            if math.hypot(px - vx, py - vy) > cfg.range_m:
                continue
            ux, uy = pvx / p_speed, pvy / p_speed
            det = cos_h * ux - sin_h * uy
            if abs(det) < 0.2:
                continue
            dx, dy = px - vx, py - vy
            a = (dy * ux - dx * uy) / det
            b = (sin_h * dy - cos_h * dx) / det
            front = a - float(view.length_m[r]) / 2.0
            reach = radius_m + cfg.margin_m + float(view.width_m[r]) / 2.0
            if front <= 0.0 or b + reach < 0.0 or b - reach > p_speed * cfg.horizon_s:
                continue
            enter = max(0.0, (b - reach) / p_speed)
            leave = (b + reach) / p_speed
            arrive = front / float(view.speed_mps[r])
            if enter - cfg.gap_s <= arrive <= leave + cfg.gap_s:
                out.append((r, vx + a * sin_h, vy + a * cos_h, front, leave + cfg.gap_s))
        return out


def _cpu_ms(
    app_type: type[VruSafePassage], view: SceneView, psms: list[Request], ticks: int
) -> tuple[float, int]:
    held = 0
    t0 = time.process_time()
    for _ in range(ticks):
        held = len(app_type().on_tick(view, psms, T_MS))
    return (time.process_time() - t0) * 1000.0 / ticks, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--persons", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--ticks", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(
        f"{'vehicles':>8} {'persons':>7} {'held':>5} {'numpy ms/tick':>14} {'per-vehicle ms/tick':>20} {'ratio':>6}"
    )
    for n in args.vehicles:
        view = _scene(n, rng)
        for p in args.persons:
            psms = _psms(p, rng)
            fast, held = _cpu_ms(VruSafePassage, view, psms, args.ticks)
            slow, held_slow = _cpu_ms(_PerVehicle, view, psms, max(1, args.ticks // 5))
            assert held == held_slow, (held, held_slow)  # the same answer both ways
            print(f"{n:>8} {p:>7} {held:>5} {fast:>14.2f} {slow:>20.2f} {slow / fast:>6.1f}")


if __name__ == "__main__":
    main()
