"""The probe of PVP (priority vehicle passage): what priority cost and gained, from SUMO.

Priority vehicles are the emergency vehicles of the scenario (vehicle types ``emergency`` and
``bg_emergency``: on a call, their BSMs say so) and its buses (``bus``: they ask by VIR). Delay is SUMO's own time loss (time lost
against driving at the desired speed), as the vehicle last had it in the run: the priority
vehicles' mean and the other vehicles' mean and total. A vehicle still waiting when the run
ends counts only what it lost so far, so a run without priority that ends before its
priority vehicle passes understates that vehicle's delay (the gain shown is a lower bound). Safety: collisions in the run, the
smallest time to collision of a priority vehicle with the vehicle ahead in its lane (from the
ground truth each step) and with any road user (SUMO's SSM device's conflicts, not the
harness's EVW "time to reach"; ``None`` when it never closed on anyone), and the phases whose
realised length broke a limit (``SignalControl``'s phase log; must be none). The figures are
the same with and without the app, so the run without it is the baseline.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.model.signal_plan import PriorityLimits, TimingChange
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.episodes import SSM_FAMILIES
from v2xcloud.sim.snapshot import Snapshot

__all__ = ["PRIORITY_VTYPES", "PriorityProbe"]

#: SUMO vehicle types that get priority: emergency vehicles on a call, buses asking by VIR
PRIORITY_VTYPES = frozenset({"emergency", "bg_emergency", "bus"})


class PriorityProbe:
    """Scores PVP in one run (see the module docstring)."""

    app = "PVP"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.limits = PriorityLimits()
        self.time_loss: dict[str, float] = {}  # vehicle -> SUMO time loss, last seen (s)
        self.priority: set[str] = set()
        self.min_ttc_s = math.inf
        self.told: dict[str, int] = {}  # priority vehicle -> first RSC received (UTC ms)

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Time losses and the priority vehicles' gap to their leader at one step."""
        if snap.time_loss_s is None:
            return
        vehicles = np.flatnonzero(~snap.is_pedestrian)
        for k in vehicles.tolist():
            self.time_loss[snap.ids[k]] = float(snap.time_loss_s[k])
            if snap.vtypes[k] in PRIORITY_VTYPES:
                self.priority.add(snap.ids[k])
                self.min_ttc_s = min(self.min_ttc_s, _leader_ttc(snap, k, vehicles))

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """An RSC reached a vehicle: note when its priority was first confirmed to it."""
        self.told.setdefault(to, arrive_ms)

    def score(self, facts: RunFacts) -> CooperationScore:
        """PVP's figures for this run."""
        control = self.setup.signal_control
        changes = control.applied if control is not None else []
        violations = (
            control.log.violations(
                control.plans,
                min_green_s=self.limits.min_green_s,
                max_extension_s=self.limits.max_extension_s,
                step_s=self.setup.scenario.step_s,
            )
            if control is not None
            else []
        )
        prio = [self.time_loss[v] for v in sorted(self.priority)]
        others = [t for v, t in self.time_loss.items() if v not in self.priority]
        # SSM conflicts only: the harness's EVW episodes name the priority vehicle too, but
        # their min_ttc_s is its time to reach a car's crossing point (0.01 s past a car
        # waiting at its red stop line), not a time to collision
        ssm = [
            e.min_ttc_s
            for e in facts.episodes
            if e.app in SSM_FAMILIES
            and e.min_ttc_s is not None
            and ({e.ego, e.other} & self.priority)
        ]
        ttc = min([self.min_ttc_s, *ssm])
        figures = (
            Figure(name="priority vehicle delay", unit="s", value=_mean(prio)),
            Figure(name="others' mean delay", unit="s", value=_mean(others)),
            Figure(name="others' total delay", unit="veh·s", value=float(sum(others))),
            Figure(
                name="priority vehicle min TTC",
                unit="s",
                value=round(ttc, 3) if self.priority and math.isfinite(ttc) else None,
                is_lower_better=False,
            ),
            Figure(
                name="timing changes", unit="", value=float(len(changes)), is_lower_better=False
            ),
            Figure(name="phase limit violations", unit="", value=float(len(violations))),
        )
        return CooperationScore(
            app=self.app,
            scenario=self.setup.scenario.name,
            outcome=_outcome(changes, prio, violations, len(self.told)),
            figures=figures,
            # a timing change concerns every road user at the junction: every collision of a run
            # where the app acted counts; a run where it did nothing caused none
            collisions=len(facts.collisions) if changes or self.told else 0,
            min_ttc_s=round(ttc, 3) if self.priority and math.isfinite(ttc) else None,
        )


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


def _outcome(
    changes: list[TimingChange], prio: list[float], violations: list[str], told: int
) -> str:
    if not changes:
        return "no action" if not prio else f"no timing change; {len(prio)} priority vehicle(s)"
    kinds = ", ".join(f"{c.kind} {c.gain_s:.1f} s" for c in changes)
    text = f"{len(changes)} timing change(s) ({kinds}); {told} vehicle(s) told by RSC"
    if violations:
        text += f"; LIMITS BROKEN: {'; '.join(violations)}"
    return text


def _leader_ttc(snap: Snapshot, k: int, vehicles: npt.NDArray[np.int64]) -> float:
    """Time to collision of row ``k`` with the nearest vehicle ahead in its lane (inf: none,
    or not closing)."""
    lane = snap.lane_ids[k]
    same = [j for j in vehicles.tolist() if j != k and snap.lane_ids[j] == lane]
    if not same:
        return math.inf
    rad = math.radians(snap.heading_deg[k])
    ux, uy = math.sin(rad), math.cos(rad)
    best = math.inf
    for j in same:
        along = (snap.x_m[j] - snap.x_m[k]) * ux + (snap.y_m[j] - snap.y_m[k]) * uy
        if along <= 0.0:
            continue
        gap = along - snap.length_m[j]  # SUMO positions are front bumpers
        closing = snap.speed_mps[k] - snap.speed_mps[j]
        if closing > 0.0:
            best = min(best, float(max(gap, 0.0) / closing))
    return best
