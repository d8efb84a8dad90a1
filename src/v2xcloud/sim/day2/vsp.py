"""The probe of VSP (VRU safe passage): how close vehicles came to the persons who sent PSMs,
and how long those persons waited, from SUMO's ground truth.

Each step, for every PSM-sending pedestrian of the scenario and every vehicle: when the person
is in the vehicle's path (within half its width plus ``corridor_m`` of its heading line,
ahead of its front), the time to collision is the gap over the vehicle's speed. A conflict is
a vehicle–person pair whose time to collision fell below ``conflict_ttc_s`` at some step.
The hardest braking is the largest deceleration of a vehicle within ``near_m`` of such a
person; waiting is the time a person stood still (below 0.1 m/s). The figures are the same
with and without the app, so the run without it is the baseline.
"""

from __future__ import annotations

import math

import numpy as np

from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.snapshot import Snapshot

__all__ = ["VruPassageProbe"]


class VruPassageProbe:
    """Scores VSP in one run (see the module docstring)."""

    app = "VSP"
    conflict_ttc_s = 1.5
    corridor_m = 1.0
    near_m = 50.0

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.carriers = frozenset(p.id for p in setup.scenario.pedestrians if p.has_psm)
        self.min_ttc_s = math.inf
        self.min_distance_m = math.inf
        self.conflicts: set[tuple[str, str]] = set()
        self.hardest_braking_mps2 = 0.0
        self.waiting_s = 0.0
        self.told: set[str] = set()
        self.seen = False

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Vehicle–person gaps, braking near the persons and their waiting at one step."""
        persons = [
            k for k in np.flatnonzero(snap.is_pedestrian).tolist() if snap.ids[k] in self.carriers
        ]
        if not persons:
            return
        self.seen = True
        vehicles = np.flatnonzero(~snap.is_pedestrian).tolist()
        for p in persons:
            if snap.speed_mps[p] < 0.1:
                self.waiting_s += self.setup.scenario.step_s
            for v in vehicles:
                self._pair(snap, v, p)

    def _pair(self, snap: Snapshot, v: int, p: int) -> None:
        rad = math.radians(snap.heading_deg[v])
        ux, uy = math.sin(rad), math.cos(rad)
        dx, dy = snap.x_m[p] - snap.x_m[v], snap.y_m[p] - snap.y_m[v]  # from the front bumper
        along, across = dx * ux + dy * uy, -dx * uy + dy * ux
        distance = float(math.hypot(dx, dy))
        self.min_distance_m = min(self.min_distance_m, distance)
        if distance <= self.near_m and math.isfinite(snap.accel_mps2[v]):
            self.hardest_braking_mps2 = max(self.hardest_braking_mps2, -float(snap.accel_mps2[v]))
        if along <= 0.0 or abs(across) > snap.width_m[v] / 2.0 + self.corridor_m:
            return
        speed = float(snap.speed_mps[v])
        if speed <= 0.1:
            return
        ttc = float(along / speed)
        self.min_ttc_s = min(self.min_ttc_s, ttc)
        if ttc < self.conflict_ttc_s:
            self.conflicts.add((snap.ids[v], snap.ids[p]))

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """An RSC reached a vehicle: it was held for a person."""
        self.told.add(to)

    def score(self, facts: RunFacts) -> CooperationScore:
        """VSP's figures for this run."""
        ttc = round(self.min_ttc_s, 3) if math.isfinite(self.min_ttc_s) else None
        figures = (
            Figure(name="conflicts (TTC < 1.5 s)", unit="", value=float(len(self.conflicts))),
            Figure(name="min TTC vehicle→VRU", unit="s", value=ttc, is_lower_better=False),
            Figure(
                name="min distance vehicle→VRU",
                unit="m",
                value=round(self.min_distance_m, 2) if math.isfinite(self.min_distance_m) else None,
                is_lower_better=False,
            ),
            Figure(
                name="hardest braking near VRU",
                unit="m/s²",
                value=round(self.hardest_braking_mps2, 2),
            ),
            Figure(name="VRU waiting", unit="s", value=round(self.waiting_s, 1)),
        )
        involved = [c for c in facts.collisions if {c[0], c[1]} & self.carriers]
        if not self.seen:
            outcome = "no action (no person sends PSM)"
        elif self.told:
            outcome = f"{len(self.told)} vehicle(s) held for a crossing person by RSC"
        else:
            outcome = "no action"
        return CooperationScore(
            app=self.app,
            scenario=self.setup.scenario.name,
            outcome=outcome,
            figures=figures,
            collisions=len(involved),
            min_ttc_s=ttc if self.told else None,
        )
