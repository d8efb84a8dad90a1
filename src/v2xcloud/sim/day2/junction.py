"""Scoring cooperative intersection passing (CIP) from ground truth.

``JunctionProbe`` watches every vehicle that drives through the scenario's central junction
(node ``C``: into it on an edge ending at C, out on one starting there). Figures, with and
without the application (the same traffic under SUMO's own priority rules):

- ``crossing conflicts``: SUMO's SSM crossing encounters (the ``ICW``/``LTA`` episodes: TTC
  under 3 s or PET under 2 s) and ``serious conflicts`` (those a warning app would have to
  warn: TTC ≤ 2 s or PET ≤ 0.5 s) — both must be zero for a sound plan;
- ``mean delay``: SUMO's time loss per vehicle through the junction (s);
- ``through the junction``: vehicles that left it within the run, and ``last through at``
  (s, when the last of them left: lower is a higher throughput);
- ``stops``: vehicles that came to a standstill before the junction.

Collisions count those of a vehicle given a slot (a run where nobody was coordinated caused
none: vrucw_pedestrian's scripted car-pedestrian collision is not CIP's); ``min_ttc_s`` is
the smallest TTC of the crossing episodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.snapshot import edge_of_lane

if TYPE_CHECKING:
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["JunctionProbe"]

_JUNCTION = "C"
_STOPPED_MPS = 0.3
_CROSSING_APPS = frozenset({"ICW", "LTA"})


class JunctionProbe:
    """Scores CIP in one run (see the module docstring)."""

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.time_loss: dict[str, float] = {}
        self.entered: set[str] = set()
        self.left_at: dict[str, float] = {}
        self.stopped: set[str] = set()
        self.coordinated: set[str] = set()

    @property
    def app(self) -> str:
        """The application code it scores."""
        return "CIP"

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Who is on an approach, who has left the junction, time losses."""
        for k, vid in enumerate(snap.ids):
            if snap.is_pedestrian[k]:
                continue
            edge = edge_of_lane(snap.lane_ids[k])
            if edge.endswith(_JUNCTION) and not edge.startswith(":"):
                self.entered.add(vid)
                if float(snap.speed_mps[k]) < _STOPPED_MPS:
                    self.stopped.add(vid)
            elif edge.startswith(_JUNCTION) and vid in self.entered and vid not in self.left_at:
                self.left_at[vid] = snap.time_s
            if vid in self.entered and snap.time_loss_s is not None:
                self.time_loss[vid] = float(snap.time_loss_s[k])

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """A slot reached ``to``."""
        self.coordinated.add(to)

    def score(self, facts: RunFacts) -> CooperationScore:
        """This run's figures (baselines from the run without the app)."""
        crossing = [e for e in facts.episodes if e.app in _CROSSING_APPS]
        serious = [e for e in crossing if e.is_required]
        ttcs = [e.min_ttc_s for e in crossing if e.min_ttc_s is not None]
        losses = [self.time_loss[v] for v in self.entered if v in self.time_loss]
        figures = (
            Figure(name="crossing conflicts", unit="", value=float(len(crossing))),
            Figure(name="serious conflicts", unit="", value=float(len(serious))),
            Figure(name="mean delay", unit="s",
                   value=sum(losses) / len(losses) if losses else None),
            Figure(name="through the junction", unit="veh", value=float(len(self.left_at)),
                   is_lower_better=False),
            Figure(name="last through at", unit="s",
                   value=max(self.left_at.values()) if self.left_at else None),
            Figure(name="stops", unit="veh", value=float(len(self.stopped))),
        )  # fmt: skip
        if not self.entered:
            outcome = "no action: no vehicle through the junction"
        elif not self.coordinated:
            outcome = f"{len(self.left_at)} vehicles through under the junction's own rules"
        else:
            outcome = f"{len(self.left_at)} vehicles through, {len(self.coordinated)} given slots"
        return CooperationScore(
            app="CIP",
            scenario=self.setup.scenario.name,
            outcome=outcome,
            figures=figures,
            collisions=sum(
                1 for a, b, _ in facts.collisions if a in self.coordinated or b in self.coordinated
            ),
            min_ttc_s=min(ttcs) if ttcs else None,
        )
