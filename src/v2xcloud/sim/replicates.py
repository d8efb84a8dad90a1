"""Seed replicates of a scenario set, and per-application figures with 95 % intervals.

``evaluate --seeds N`` runs every scenario N times: replicate 0 with the scenario's own seed,
replicate k > 0 with a seed derived from it (``derived_seed``). A replicate is the whole set of
scenarios run with one seed index; its per-application figures (recall, precision, false
alarms per vehicle-hour, median lead time) are those of ``aggregate`` over that replicate. The
table reports, per figure, the mean over the replicates that have the figure and a two-sided
95 % Student-t interval (``mean ± t(0.975, n-1) · s / sqrt(n)``): the replicates are
independent draws of the same set of scenarios, so the figure's spread between them is the
spread a new seed would show.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass

import msgspec

from v2xcloud.errors import ConfigError
from v2xcloud.sim.evaluate import aggregate
from v2xcloud.sim.result import ScenarioResult
from v2xcloud.sim.scenario import Scenario
from v2xcloud.sim.scorer import AppScore

__all__ = [
    "FIGURES",
    "Interval",
    "derived_seed",
    "format_interval_table",
    "interval",
    "intervals",
    "replicate_index",
    "split_replicates",
    "with_seeds",
]

#: the figures that get an interval: (column title, ``AppScore.summary`` key, format)
FIGURES = (
    ("recall", "recall", "{:.2f}"),
    ("precision", "precision", "{:.2f}"),
    ("FA/veh-h", "false_alarms_per_vehicle_hour", "{:.1f}"),
    ("lead med s", "lead_time_median_s", "{:.2f}"),
)
_SEP = "~s"  # replicate names: ``<scenario>~s<k>`` (k >= 1; replicate 0 keeps its name)
# two-sided 95 % quantiles of Student's t, by degrees of freedom (1..30); beyond: normal
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def derived_seed(seed: int, k: int) -> int:
    """Replicate ``k``'s seed: the scenario's own for 0, else a 31-bit hash of (seed, k)
    (SUMO takes a signed 32-bit seed)."""
    if k == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


def with_seeds(scenarios: list[Scenario], n: int) -> list[Scenario]:
    """Every scenario ``n`` times (replicate-major order), each copy with its derived seed and
    a distinct name (``name~sK``; replicate 0 keeps the scenario's name and seed)."""
    if n < 1:
        raise ConfigError(f"--seeds must be at least 1, got {n}")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ConfigError(f"scenario names must be distinct in one evaluation, got {names}")
    return [
        s
        if k == 0
        else msgspec.structs.replace(s, name=f"{s.name}{_SEP}{k}", seed=derived_seed(s.seed, k))
        for k in range(n)
        for s in scenarios
    ]


def replicate_index(name: str) -> int:
    """The replicate a result belongs to, from its name (0 when it has no suffix)."""
    base, sep, k = name.rpartition(_SEP)
    return int(k) if sep and base and k.isdigit() else 0


@dataclass(frozen=True)
class Interval:
    """A figure over the replicates: mean, 95 % half-width (``None`` with one value) and how
    many replicates had the figure (a recall needs an episode, a precision a warning)."""

    mean: float
    half_width: float | None
    n: int

    def format(self, fmt: str) -> str:
        """``mean±hw`` in the figure's format (``mean`` alone with a single value)."""
        if self.half_width is None:
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)}±{fmt.format(self.half_width)}"


def interval(values: list[float]) -> Interval | None:
    """Mean and 95 % Student-t half-width of ``values`` (``None`` when there are none)."""
    return _interval(values)


def _interval(values: list[float]) -> Interval | None:
    if not values:
        return None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Interval(mean, None, 1)
    df = len(values) - 1
    t = _T975[df - 1] if df <= len(_T975) else 1.96
    return Interval(mean, t * statistics.stdev(values) / math.sqrt(len(values)), len(values))


def intervals(
    per_replicate: list[dict[str, AppScore]],
) -> dict[str, dict[str, Interval | None]]:
    """Per app and figure (``FIGURES`` keys): the interval over the replicates' scores."""
    apps = sorted({a for scores in per_replicate for a in scores})
    out: dict[str, dict[str, Interval | None]] = {}
    for app in apps:
        rows = [scores[app].summary() for scores in per_replicate if app in scores]
        out[app] = {}
        for _, key, _ in FIGURES:
            values = [float(v) for r in rows if isinstance(v := r[key], int | float)]
            out[app][key] = _interval(values)
    return out


def split_replicates(results: list[ScenarioResult]) -> list[list[ScenarioResult]]:
    """The results grouped by replicate index, in index order."""
    by_k: dict[int, list[ScenarioResult]] = {}
    for r in results:
        by_k.setdefault(replicate_index(r.name), []).append(r)
    return [by_k[k] for k in sorted(by_k)]


def format_interval_table(
    results: list[ScenarioResult], *, implemented: set[str], title: str = ""
) -> str:
    """One row per implemented app: pooled counts over every replicate, then each figure as
    the mean over the replicates ± the 95 % t half-width (``-``: no replicate had it)."""
    reps = split_replicates(results)
    per_rep = [aggregate(rs) for rs in reps]
    pooled = aggregate(results)
    spans = intervals(per_rep)
    head = ["app", "episodes", "detected", "warnings", *(f[0] for f in FIGURES)]
    rows = [head]
    for app, score in pooled.items():
        if app not in implemented:
            continue
        cells = [app, str(score.episodes), str(score.detected), str(score.warnings)]
        for _, key, fmt in FIGURES:
            iv = spans.get(app, {}).get(key)
            cells.append("-" if iv is None else iv.format(fmt))
        rows.append(cells)
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines = [
        "  ".join(c.rjust(widths[k]) if k else c.ljust(widths[k]) for k, c in enumerate(r))
        for r in rows
    ]
    note = (
        f"{len(reps)} seed replicates; counts pooled, figures mean ± 95 % Student-t half-width "
        "over the replicates"
    )
    return "\n".join(([title] if title else []) + lines + [note])
