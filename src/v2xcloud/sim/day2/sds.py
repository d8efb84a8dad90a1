"""The bench's scorer of sensor data sharing (SDS): awareness of hazards, and its cost.

Hazards are the run's ground-truth episodes (SUMO's SSM device and the harness: a stopped
car ahead, a pedestrian crossing, a rear-end conflict) of a connected ego with another road
user. A vehicle *knows* of the other from BSMs alone once the other is connected and within
``V2V_RANGE_M`` of it (its BSMs are heard, one channel latency later), and with the app also
when an SSM naming the other reached it. Figures, with the app against BSMs alone:

- hazards known before the episode's onset (%);
- median time known before the critical moment (the episode's most critical instant, or its
  end; 0 for a hazard never known in time);
- hazards learned of earlier than from BSMs alone (%) and the median gain (s);
- SSM bytes delivered per connected vehicle per second.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

import numpy as np

from v2xcloud.model.day2 import Ssm
from v2xcloud.model.day2_exchange import Outbound
from v2xcloud.sim.cooperation import CooperationScore, Figure
from v2xcloud.sim.day2.probe import ProbeSetup, RunFacts

if TYPE_CHECKING:
    from v2xcloud.sim.snapshot import Snapshot

__all__ = ["V2V_RANGE_M", "SdsProbe"]

V2V_RANGE_M = 300.0  # where a BSM is heard directly (PC5 sidelink, open road)


class SdsProbe:
    """Scores ``SDS`` in one run; see the module docstring."""

    app = "SDS"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.latency_ms = setup.latency_ms
        self.positions: list[tuple[int, dict[str, int], np.ndarray, np.ndarray]] = []
        self.learned: dict[tuple[str, str], int] = {}  # (recipient, other) -> first arrival ms
        self.bytes_in = 0
        self.connected_s = 0.0
        self.objects_shared = 0
        self.pedestrians: set[str] = set()  # they send no BSM (PSM is another app's)
        self._step_s = setup.scenario.step_s

    def observe(self, snap: Snapshot, now_ms: int) -> None:
        """Keep where everyone is (for the BSM-only baseline) and count connected time."""
        self.positions.append((now_ms, snap.index, snap.x_m.copy(), snap.y_m.copy()))
        self.pedestrians.update(snap.ids[i] for i in snap.is_pedestrian.nonzero()[0])
        ids = self.setup.ids
        self.connected_s += self._step_s * sum(
            1
            for i, sid in enumerate(snap.ids)
            if not snap.is_pedestrian[i] and ids.is_connected(sid)
        )

    def received(self, sent: Outbound, to: str, arrive_ms: int, size_bytes: int) -> None:
        """An SSM reached ``to``: it now knows of every road user the SSM names."""
        self.bytes_in += size_bytes
        if not isinstance(sent.message, Ssm):
            return
        for p in sent.message.participants:
            other = self.setup.ids.sumo_id(p.id)
            if other is not None:
                self.objects_shared += 1
                self.learned.setdefault((to, other), arrive_ms)

    def _bsm_known_ms(self, ego: str, other: str) -> int | None:
        """When ``ego`` first hears ``other``'s BSM: connected and within V2V range."""
        if other in self.pedestrians or not self.setup.ids.is_connected(other):
            return None
        for now_ms, index, x, y in self.positions:
            i, j = index.get(ego), index.get(other)
            if (
                i is not None
                and j is not None
                and np.hypot(x[i] - x[j], y[i] - y[j]) <= V2V_RANGE_M
            ):
                return now_ms + round(self.latency_ms)
        return None

    def score(self, facts: RunFacts) -> CooperationScore:
        """Awareness with the app vs BSMs alone, the gain, and the bytes it cost."""
        ids, epoch = self.setup.ids, self.setup.epoch_ms
        hazards = [
            e for e in facts.episodes
            if e.other is not None and e.is_required and ids.is_connected(e.ego)
        ]  # fmt: skip
        before_with = before_without = earlier = 0
        lead_with: list[float] = []
        lead_without: list[float] = []
        gains: list[float] = []
        for e in hazards:
            assert e.other is not None
            bsm = self._bsm_known_ms(e.ego, e.other)
            sds = self.learned.get((e.ego, e.other))
            heard = [t for t in (bsm, sds) if t is not None]
            known = min(heard) if heard else None
            onset_ms = epoch + round(e.start_s * 1000)
            critical_ms = epoch + round((e.critical_s or e.end_s) * 1000)
            before_with += known is not None and known <= onset_ms
            before_without += bsm is not None and bsm <= onset_ms
            lead_with.append(0.0 if known is None else max(0.0, (critical_ms - known) / 1000))
            lead_without.append(0.0 if bsm is None else max(0.0, (critical_ms - bsm) / 1000))
            if sds is not None and (bsm is None or sds < bsm):
                earlier += 1
                gains.append(((bsm if bsm is not None else critical_ms) - sds) / 1000)
        n = len(hazards)
        share = (lambda k: 100.0 * k / n) if n else (lambda k: None)
        figures = (
            Figure(name="hazards known before onset", unit="%", value=share(before_with),
                   baseline=share(before_without), is_lower_better=False),
            Figure(name="known before critical, median", unit="s",
                   value=statistics.median(lead_with) if n else None,
                   baseline=statistics.median(lead_without) if n else None,
                   is_lower_better=False),
            Figure(name="learned earlier than from BSMs", unit="%", value=share(earlier),
                   is_lower_better=False),
            Figure(name="gain over BSMs, median", unit="s",
                   value=statistics.median(gains) if gains else None, is_lower_better=False),
            Figure(name="SSM bytes per vehicle-second", unit="B",
                   value=self.bytes_in / self.connected_s if self.connected_s else 0.0),
        )  # fmt: skip
        return CooperationScore(
            app=self.app,
            scenario=self.setup.scenario.name,
            outcome=self._outcome(n, earlier, gains),
            figures=figures,
        )

    def _outcome(self, hazards: int, earlier: int, gains: list[float]) -> str:
        if not self.objects_shared:
            return f"no action: nothing perceived to share ({hazards} hazards to connected egos)"
        if not earlier:
            return (
                f"shared {self.objects_shared} object reports; none of {hazards} hazards "
                "was learned of earlier than from BSMs"
            )
        return (
            f"{earlier} of {hazards} hazards learned of earlier than from BSMs alone "
            f"(median {statistics.median(gains):.1f} s earlier) from roadside perception"
        )
