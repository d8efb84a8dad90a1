"""Score advisories against ground-truth episodes, per application family.

Advisories are first grouped into *warnings*: consecutive advisories of one app to one ego
about one other, less than ``WARNING_GAP_S`` apart or issued while the previous one is still in
force (before it expires: a receiver shows an advisory until then, so a refresh inside its
validity is the same warning on the driver's screen). A warning matches an episode of the same
family and ego whose window ``[start - EARLY_S, end + LATE_S]`` contains the warning's onset.
Recall counts required, observable episodes only (``Episode.is_required``,
``is_observable``: a non-connected ego cannot be warned, an other that is neither connected
nor ever seen by a roadside sensor cannot be known); a warning inside a grey-zone
episode, or on a real conflict of a related family (ICW/LTA, FCW/EBW), is not a false alarm.
A warning about a lasting state (``STATE_FAMILIES``: speeding) matches every episode it is
active in, not only the one its onset falls in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from v2xcloud.sim.episodes import Episode

__all__ = [
    "EARLY_S",
    "INFO_FAMILIES",
    "LATE_S",
    "SCORED_FAMILIES",
    "STATE_FAMILIES",
    "WARNING_GAP_S",
    "AdvisoryRecord",
    "Alert",
    "AppScore",
    "family_of",
    "group_warnings",
    "score",
]

WARNING_GAP_S = 1.0

#: one scored advisory: (app, ego, other, time_s, latency_ms, in force until s)
AdvisoryRecord = tuple[str, str, str | None, float, float | None, float | None]
EARLY_S = 3.0  # a warning up to this long before the formal onset is early, not false
LATE_S = 1.0
# The families the bench has ground truth for (every app the platform runs); GLOSA is judged
# by its advice's content (``sim.v2i_truth``), the others here against episodes.
SCORED_FAMILIES = frozenset(
    {"FCW", "ICW", "LTA", "BSW/LCW", "DNPW", "EBW", "AVW", "CLW", "EVW", "VRUCW", "RLVW", "SLW",
     "HLW", "TJW", "IVS", "GLOSA"}
)  # fmt: skip
# Families whose only level is INFO (a sign shown, a speed advised): scored at that level.
INFO_FAMILIES = frozenset({"IVS", "GLOSA"})
COLLISION_FAMILY = frozenset({"FCW", "ICW", "LTA", "BSW/LCW", "DNPW", "VRUCW", "EBW"})
_FAMILIES = {"BSW": "BSW/LCW", "LCW": "BSW/LCW"}
# Families that warn about a lasting state (speeding; a hazard, a queue or a sign ahead), not
# an approaching event: a warning still active when an episode begins (e.g. the same overspeed
# carried through a junction, where the ground truth has no limit and splits the episode)
# detects it too.
STATE_FAMILIES = frozenset({"SLW", "HLW", "TJW", "IVS"})
# A warning of a related family on a real conflict is not a false alarm (but earns no recall).
_RELATED = {"ICW": ("LTA",), "LTA": ("ICW",), "EBW": ("FCW",), "FCW": ("EBW",)}


def family_of(app: str) -> str:
    """The ground-truth family an app code is scored in (BSW and LCW share one)."""
    return _FAMILIES.get(app, app)


@dataclass(frozen=True)
class Alert:
    """A warning: a run of advisories of one family to one ego about one other (SUMO ids)."""

    app: str
    ego: str
    other: str | None
    onset_s: float
    end_s: float
    latency_ms: float | None  # state generation -> advisory emitted, at the onset


class AppScore(msgspec.Struct, kw_only=True):
    """The figures of one application family over a set of scenarios."""

    app: str
    episodes: int = 0
    detected: int = 0
    warnings: int = 0
    matched_warnings: int = 0
    vehicle_hours: float = 0.0
    lead_times_s: list[float] = msgspec.field(default_factory=list)
    ttc_at_onset_s: list[float] = msgspec.field(default_factory=list)
    latencies_ms: list[float] = msgspec.field(default_factory=list)
    flicker: int = 0
    unobservable: int = 0  # required episodes the platform could not see or address

    @property
    def recall(self) -> float | None:
        return self.detected / self.episodes if self.episodes else None

    @property
    def precision(self) -> float | None:
        return self.matched_warnings / self.warnings if self.warnings else None

    @property
    def false_alarms_per_vehicle_hour(self) -> float | None:
        return (
            (self.warnings - self.matched_warnings) / self.vehicle_hours
            if self.vehicle_hours
            else None
        )

    def summary(self) -> dict[str, float | int | str | None]:
        """The table row: counts, ratios and lead-time/latency percentiles."""
        lead = sorted(self.lead_times_s)
        return {
            "app": self.app, "episodes": self.episodes, "detected": self.detected,
            "warnings": self.warnings, "false_alarms": self.warnings - self.matched_warnings,
            "recall": self.recall, "precision": self.precision,
            "false_alarms_per_vehicle_hour": self.false_alarms_per_vehicle_hour,
            "lead_time_median_s": statistics.median(lead) if lead else None,
            "lead_time_p10_s": float(np.percentile(lead, 10)) if lead else None,
            "ttc_at_onset_median_s": statistics.median(self.ttc_at_onset_s) if self.ttc_at_onset_s else None,
            "flicker": self.flicker,
            "unobservable": self.unobservable,
            "latency_median_ms": statistics.median(self.latencies_ms) if self.latencies_ms else None,
            "latency_max_ms": max(self.latencies_ms) if self.latencies_ms else None,
        }  # fmt: skip


def group_warnings(
    advisories: Sequence[AdvisoryRecord | tuple[str, str, str | None, float, float | None]],
) -> list[Alert]:
    """Group advisories (``AdvisoryRecord``; the in-force time may be left off) into warnings:
    a run goes on while each advisory comes less than ``WARNING_GAP_S`` after the previous
    one or before the run's advisories have expired."""
    open_: dict[tuple[str, str, str | None], list[float | None]] = {}
    out: list[Alert] = []
    for rec in sorted(advisories, key=lambda a: a[3]):
        app, ego, other, t, lat = rec[:5]
        until = rec[5] if len(rec) > 5 else None
        key = (family_of(app), ego, other)
        run = open_.get(key)
        if run is not None and (
            t - float(run[1] or 0.0) <= WARNING_GAP_S or (run[3] is not None and t <= run[3])
        ):
            run[1] = t
            run[3] = until if run[3] is None or (until is not None and until > run[3]) else run[3]
            continue
        if run is not None:
            out.append(
                Alert(key[0], ego, other, float(run[0] or 0.0), float(run[1] or 0.0), run[2])
            )
        open_[key] = [t, t, lat, until]
    out += [
        Alert(k[0], k[1], k[2], float(r[0] or 0.0), float(r[1] or 0.0), r[2])
        for k, r in open_.items()
    ]
    return sorted(out, key=lambda w: w.onset_s)


def _matches(w: Alert, e: Episode, *, is_related_ok: bool = False) -> bool:
    if w.ego != e.ego or not (
        w.app == e.app or (is_related_ok and e.app in _RELATED.get(w.app, ()))
    ):
        return False
    if e.other is not None and w.other is not None and w.other != e.other:
        return False
    last_s = max(e.end_s, e.critical_s or e.end_s) + LATE_S
    if w.app in STATE_FAMILIES:  # active at any time of the episode's window
        return w.onset_s <= last_s and w.end_s >= e.start_s - EARLY_S
    return e.start_s - EARLY_S <= w.onset_s <= last_s


def score(
    episodes: list[Episode], warnings: list[Alert], *, vehicle_hours: float, apps: set[str]
) -> dict[str, AppScore]:
    """Per family in ``apps``: recall, precision, false alarms, lead time, TTC, flicker, latency."""
    scores = {a: AppScore(app=a, vehicle_hours=vehicle_hours) for a in sorted(apps)}
    by_ep: dict[int, list[Alert]] = defaultdict(list)
    for w in warnings:
        if w.app not in scores:
            continue
        s = scores[w.app]
        s.warnings += 1
        hits = [k for k, e in enumerate(episodes) if _matches(w, e)]
        s.matched_warnings += bool(hits) or any(
            _matches(w, e, is_related_ok=True) for e in episodes
        )
        for k in hits:
            by_ep[k].append(w)
        if w.latency_ms is not None:
            s.latencies_ms.append(w.latency_ms)
    for k, e in enumerate(episodes):
        if e.app not in scores or not e.is_required:
            continue
        s = scores[e.app]
        if not e.is_observable:
            s.unobservable += 1
            continue
        s.episodes += 1
        found = by_ep.get(k, [])
        if not found:
            continue
        s.detected += 1
        s.flicker += len(found) - 1
        first = min(w.onset_s for w in found)
        if e.critical_s is not None and e.app in COLLISION_FAMILY:
            s.lead_times_s.append(e.critical_s - first)
        ttc = e.ttc_at(first)
        if ttc is not None:
            s.ttc_at_onset_s.append(ttc)
    return scores
