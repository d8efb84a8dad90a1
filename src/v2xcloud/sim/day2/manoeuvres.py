"""Scoring the coordinated manoeuvres (CLC, CVM) from ground truth.

``LaneChangeProbe`` watches the vehicles that must leave a lane that ends (the network says
which: ``network.ending_lanes``): for CVM those that came from an on-ramp
(``network.ramp_edges``), for CLC the others. A vehicle's manoeuvre starts when it is first seen on such a
lane within ``HORIZON_M`` of the lane's end (as far ahead as a vehicle states the intention,
``sim.actuation``) and completes when it is first seen on another lane of the road. Figures:

- ``success``: share of those vehicles that completed their lane change within the run
  (higher better), ``stopped``: share that came to a standstill in the ending lane;
- ``time to complete`` (s, mean over the completed), from the start to the change;
- ``min gap at change`` (m, bumper to bumper to the new leader or follower, the smallest over
  every change; higher better);
- ``min TTC`` during the manoeuvres (s): from the start to 2 s after the change, the
  smallest time to collision between a manoeuvring vehicle and the vehicle ahead of it or
  behind it in its lane (closing speeds only); also ``CooperationScore.min_ttc_s``;
- the others' disturbance: ``others' hard braking`` (vehicle-steps below -3 m/s² among the
  vehicles never in the ending lane) and ``others' mean speed`` (m/s, higher better).

Collisions count those involving a manoeuvring vehicle or a vehicle a coordination reached.
All positions are the network plane's (SUMO ids, simulation seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.actuation import HORIZON_M
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts
from v2xcloud.sim.network import ending_lanes, lane_end_x, ramp_edges
from v2xcloud.sim.snapshot import edge_of_lane

if TYPE_CHECKING:
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["LaneChangeProbe"]

_AFTER_S = 2.0  # a manoeuvre's TTC window extends this long after the change
_HARD_BRAKE_MPS2 = -3.0
_STOPPED_MPS = 0.3


@dataclass
class _Track:
    start_s: float
    lane: str
    changed_s: float | None = None
    stopped: bool = False


@dataclass
class _Tally:
    min_ttc_s: float = math.inf
    min_gap_m: float = math.inf
    others_speed_sum: float = 0.0
    others_steps: int = 0
    others_hard: int = 0
    coordinated: set[str] = field(default_factory=set)
    slowed: set[str] = field(default_factory=set)  # asked to slow down (to open a gap)


class LaneChangeProbe:
    """Scores one lane-change application (``app``: "CLC" or "CVM"); see the module
    docstring. Works the same whether the application ran or not (the baseline run)."""

    def __init__(self, setup: ProbeSetup, app: str) -> None:
        self._app = app
        self.setup = setup
        self.ending = ending_lanes(setup.scenario.network)
        end_x = lane_end_x(setup.scenario.network)
        self.start_x = -math.inf if end_x is None else end_x - HORIZON_M
        self.ramps = ramp_edges(setup.scenario.network)
        self.is_merge = app == "CVM"
        self.from_ramp: set[str] = set()  # vehicles seen on a ramp (bounded by the scenario)
        self.theirs: set[str] = set()
        self.movers: dict[str, _Track] = {}
        self.tally = _Tally()
        self.received_count = 0

    @property
    def app(self) -> str:
        """The application code it scores."""
        return self._app

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Follow the manoeuvring vehicles and the others at one step."""
        t = snap.time_s
        lanes = snap.lane_ids
        edges = [edge_of_lane(ln) for ln in lanes]
        for k, vid in enumerate(snap.ids):
            if snap.is_pedestrian[k]:
                continue
            lane = lanes[k]
            if edges[k] in self.ramps:
                self.from_ramp.add(vid)
            track = self.movers.get(vid)
            if track is None and lane in self.ending and snap.x_m[k] >= self.start_x:
                if (vid in self.from_ramp) == self.is_merge:
                    track = self.movers[vid] = _Track(start_s=t, lane=lane)
                else:
                    self.theirs.add(vid)  # the other app's manoeuvre: neither mine nor other
            if vid in self.theirs:
                continue
            if track is None:
                self.tally.others_speed_sum += float(snap.speed_mps[k])
                self.tally.others_steps += 1
                a = float(snap.accel_mps2[k])
                if math.isfinite(a) and a < _HARD_BRAKE_MPS2:
                    self.tally.others_hard += 1
                continue
            if track.changed_s is None:
                if lane in self.ending:
                    if float(snap.speed_mps[k]) < _STOPPED_MPS:
                        track.stopped = True
                elif lane and not lane.startswith(":"):
                    track.changed_s = t
                    self._gap_at_change(snap, k, edges)
            if track.changed_s is None or t <= track.changed_s + _AFTER_S:
                self._ttc(snap, k, edges)

    def _same_lane(self, snap: Snapshot, k: int) -> np.ndarray:
        lane = snap.lane_ids[k]
        return np.array([ln == lane for ln in snap.lane_ids]) & ~snap.is_pedestrian

    def _along(self, snap: Snapshot, k: int) -> np.ndarray:
        h = math.radians(float(snap.heading_deg[k]))
        return (snap.x_m - snap.x_m[k]) * math.sin(h) + (snap.y_m - snap.y_m[k]) * math.cos(h)

    def _neighbours(self, snap: Snapshot, k: int) -> tuple[int | None, int | None]:
        """(the vehicle ahead, the vehicle behind) ``k`` in its lane."""
        same = self._same_lane(snap, k)
        same[k] = False
        if not same.any():
            return None, None
        s = self._along(snap, k)
        rows = np.flatnonzero(same)
        ahead = rows[s[rows] > 0]
        behind = rows[s[rows] <= 0]
        lead = int(ahead[np.argmin(s[ahead])]) if ahead.size else None
        back = int(behind[np.argmax(s[behind])]) if behind.size else None
        return lead, back

    def _gap(self, snap: Snapshot, front: int, rear: int, s: np.ndarray) -> float:
        return float(s[front] - s[rear]) - float(snap.length_m[front] + snap.length_m[rear]) / 2

    def _gap_at_change(self, snap: Snapshot, k: int, edges: list[str]) -> None:
        lead, back = self._neighbours(snap, k)
        s = self._along(snap, k)
        for front, rear in ((lead, k), (k, back)):
            if front is not None and rear is not None:
                self.tally.min_gap_m = min(self.tally.min_gap_m, self._gap(snap, front, rear, s))

    def _ttc(self, snap: Snapshot, k: int, edges: list[str]) -> None:
        lead, back = self._neighbours(snap, k)
        s = self._along(snap, k)
        v = snap.speed_mps
        for front, rear in ((lead, k), (k, back)):
            if front is None or rear is None:
                continue
            closing = float(v[rear] - v[front])
            if closing > 0:
                gap = max(0.0, self._gap(snap, front, rear, s))
                self.tally.min_ttc_s = min(self.tally.min_ttc_s, gap / closing)

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """A coordination reached ``to``: it is one of the coordinated vehicles."""
        self.received_count += 1
        self.tally.coordinated.add(to)
        mine = self.setup.ids.bsm_id(to)
        for c in getattr(sent.message, "coordinations", ()):
            if c.vehicle_id == mine and "slow-down" in c.suggestion:
                self.tally.slowed.add(to)

    def score(self, facts: RunFacts) -> CooperationScore:
        """This run's figures (the baseline is filled in by pairing with the run without
        the application, ``sim.day2.baseline``)."""
        movers = self.movers
        n = len(movers)
        done = [m for m in movers.values() if m.changed_s is not None]
        involved = set(movers) | self.tally.coordinated
        collisions = sum(1 for a, b, _ in facts.collisions if a in involved or b in involved)
        t = self.tally
        figures = (
            Figure(name="vehicles to change", unit="veh", value=float(n), is_lower_better=False),
            Figure(name="success", unit="%", value=_share(len(done), n), is_lower_better=False),
            Figure(name="stopped in ending lane", unit="%",
                   value=_share(sum(m.stopped for m in movers.values()), n)),
            Figure(name="time to complete", unit="s",
                   value=_mean([m.changed_s - m.start_s for m in done if m.changed_s is not None])),
            Figure(name="min gap at change", unit="m", value=_finite(t.min_gap_m),
                   is_lower_better=False),
            Figure(name="min TTC", unit="s", value=_finite(t.min_ttc_s), is_lower_better=False),
            Figure(name="others' hard braking", unit="veh-steps", value=float(t.others_hard)),
            Figure(name="others' mean speed", unit="m/s",
                   value=t.others_speed_sum / t.others_steps if t.others_steps else None,
                   is_lower_better=False),
        )  # fmt: skip
        if n == 0:
            outcome = "no action: no vehicle had to leave an ending lane"
        elif self.received_count == 0:
            outcome = f"{len(done)} of {n} lane changes without coordination"
        else:
            outcome = (
                f"{len(done)} of {n} lane changes completed with {len(t.coordinated)} vehicles "
                f"coordinated, {len(t.slowed)} of them asked to slow down to open a gap"
            )
        return CooperationScore(
            app=self._app,
            scenario=self.setup.scenario.name,
            outcome=outcome,
            figures=figures,
            collisions=collisions,
            min_ttc_s=_finite(t.min_ttc_s),
        )


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
