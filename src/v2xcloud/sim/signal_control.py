"""The bench's signal controllers: priority timing changes applied to SUMO's programmes, and
every phase's realised duration checked against the safe limits.

A ``TimingChange`` gives some phases of one traffic light a new duration for one pass from the
phase running when it was planned. ``SignalControl.step`` (once per simulation step) tracks
when each phase began and sets the remaining time of a changed phase (``setPhaseDuration``)
as it runs; SUMO keeps the order of phases. ``PhaseLog`` records what each phase really lasted,
so a run proves the limits held in SUMO itself, not only in the plan: clearance phases
(yellow, all red, pedestrian clearance) as programmed, greens never cut below the minimum green
(or their programmed length if shorter) and never stretched past the maximum extension.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from v2xcloud.model import NodeId
from v2xcloud.model.signal_plan import SignalPlan, TimingChange

__all__ = ["PhaseLog", "PhaseRun", "SignalControl"]

logger = logging.getLogger(__name__)

_EPS_S = 1e-6


class PhaseRun(msgspec.Struct, frozen=True, kw_only=True):
    """One phase as it ran: traffic light, phase index, start (s) and realised length (s)."""

    tls_id: str
    phase: int
    start_s: float
    duration_s: float


class PhaseLog:
    """The phases every traffic light ran, with their realised durations."""

    def __init__(self) -> None:
        self.runs: list[PhaseRun] = []

    def violations(
        self,
        plans: dict[str, SignalPlan],
        *,
        min_green_s: float,
        max_extension_s: float,
        step_s: float,
    ) -> list[str]:
        """The phases whose realised duration broke a limit (one line each; empty: none)."""
        out = []
        for run in self.runs:
            plan = plans.get(run.tls_id)
            if plan is None:
                continue
            programmed = plan.stages[run.phase].duration_s
            tol = step_s + _EPS_S
            if plan.is_clearance(run.phase):
                bad = abs(run.duration_s - programmed) > tol
            else:
                bad = (
                    run.duration_s < min(min_green_s, programmed) - tol
                    or run.duration_s > programmed + max_extension_s + tol
                )
            if bad:
                out.append(
                    f"{run.tls_id} phase {run.phase} at {run.start_s:.1f} s ran "
                    f"{run.duration_s:.1f} s (programmed {programmed:.1f} s)"
                )
        return out


class SignalControl:
    """Applies priority ``TimingChange``s to SUMO's traffic lights and logs their phases.

    ``plans`` by SUMO traffic-light id (``SignalEncoder.signal_plans``); a change names its
    junction by MAP node id, mapped back through ``plans``.
    """

    def __init__(self, plans: dict[str, SignalPlan]) -> None:
        self.plans = plans
        self._tls_of: dict[NodeId, str] = {p.node: tls for tls, p in plans.items()}
        self._pending: dict[str, dict[int, float]] = {}
        self._phase: dict[str, tuple[int, float]] = {}  # tls -> (phase, began at s)
        self.log = PhaseLog()
        self.applied: list[TimingChange] = []
        self.refused = 0  # changes for a junction with no known traffic light

    def apply(self, change: TimingChange) -> bool:
        """Take a change (replacing one still pending at its junction); False, counted and
        logged, when the junction is not a traffic light of this run."""
        tls = self._tls_of.get(change.node)
        if tls is None:
            self.refused += 1
            logger.warning("timing change for unknown junction %s refused", change.node)
            return False
        self._pending[tls] = dict(change.durations)
        self.applied.append(change)
        return True

    def take(self, outbound: list[Any]) -> list[Any]:
        """Apply the timing changes among the platform's outbound messages (the controllers'
        wired link: at once); return the others, for the down-link."""
        rest = []
        for o in outbound:
            if isinstance(o.message, TimingChange):
                self.apply(o.message)
            else:
                rest.append(o)
        return rest

    @property
    def pending(self) -> dict[str, dict[int, float]]:
        """Per traffic light, the phases whose changed duration is still to run or running."""
        return {t: d for t, d in self._pending.items() if d}

    def step(self, traci: Any, time_s: float) -> None:
        """Once per simulation step, after SUMO advanced to ``time_s``: log phase changes and
        set the remaining time of a changed phase that is running."""
        for tls in self.plans:
            phase = traci.trafficlight.getPhase(tls)
            seen = self._phase.get(tls)
            if seen is None or seen[0] != phase:
                if seen is not None:
                    self.log.runs.append(
                        PhaseRun(tls_id=tls, phase=seen[0], start_s=seen[1],
                                 duration_s=time_s - seen[1])
                    )  # fmt: skip
                    self._pending.get(tls, {}).pop(seen[0], None)  # that pass is over
                began = 0.0 if seen is None else time_s
                self._phase[tls] = (phase, began)
                seen = self._phase[tls]
            new = self._pending.get(tls, {}).get(phase)
            if new is not None:
                traci.trafficlight.setPhaseDuration(tls, max(0.0, new - (time_s - seen[1])))
