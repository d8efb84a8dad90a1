"""How long ``evaluate`` takes over a set of library scenarios: a fresh process per run against
worker processes that run several scenarios each, serial and with two jobs, in one run.

Times are wall seconds and CPU seconds of the worker processes (``RUSAGE_CHILDREN``, counted
when the pool has reaped them): on a machine shared with other work the CPU figure is the one
to compare. A fresh process spends its first seconds importing SUMO and compiling the ASN.1 schemas
(the message set, and with ``--reference`` the published Day-2 reference schema) before its
first step; for the short scripted scenarios that is most of their time. Every mode runs the
same scenarios with the same seeds; the script checks that their scores, episodes and warnings
are identical (it raises if not) and prints seconds per scenario and the ratios of this run.

Usage: .venv/bin/python benchmarks/evaluate_speed.py [--scenario NAME ...] [--short]
       [--reference ../shared/reference/asn1/csae53-2020-day2] [--modes fresh,reuse]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from v2xcloud.sim.evaluate import RUNS_PER_PROCESS, evaluate
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import Scenario, load_library

#: mode -> (jobs, runs per worker process)
MODES = {
    "fresh": (1, 1),
    "reuse": (1, RUNS_PER_PROCESS),
    "fresh2": (2, 1),
    "reuse2": (2, RUNS_PER_PROCESS),
}


def _outcome(r: ScenarioResult) -> tuple[object, ...]:
    """What must not depend on the process a run shares (wall-clock figures left out)."""
    scores = {a: (s.episodes, s.detected, s.warnings, s.matched_warnings, s.lead_times_s)
              for a, s in r.scores.items()}  # fmt: skip
    return (scores, r.episodes, r.warnings, r.frames, round(r.vehicle_hours, 9))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _scenarios(args: argparse.Namespace) -> list[Scenario]:
    library = load_library("all")
    if args.scenario:
        return [s for s in library if s.name in set(args.scenario)]
    if args.short:
        return [s for s in library if s.is_short]
    return [s for s in library if s.is_short][:8]


def main() -> None:
    """Run each mode over the scenarios and print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", action="append", default=None)
    p.add_argument("--short", action="store_true", help="every short library scenario")
    p.add_argument("--reference", type=Path, default=None, help="Day-2 reference ASN.1 dir")
    p.add_argument("--modes", default="fresh,reuse")
    args = p.parse_args()
    scenarios = _scenarios(args)
    ref = str(args.reference) if args.reference else None
    config = RunConfig(reference_asn1_dir=ref)
    print(f"{len(scenarios)} scenarios: {', '.join(s.name for s in scenarios)}")
    totals: dict[str, float] = {}
    outcomes: dict[str, list[tuple[object, ...]]] = {}
    for mode in args.modes.split(","):
        jobs, per = MODES[mode]
        t0 = time.perf_counter()
        c0 = _children_cpu()
        results = evaluate(scenarios, config=config, jobs=jobs, runs_per_process=per)
        wall = time.perf_counter() - t0
        totals[mode] = _children_cpu() - c0
        outcomes[mode] = [_outcome(r) for r in results]
        inside = sum(r.wall_s for r in results)
        n = len(scenarios)
        print(
            f"{mode:7s} jobs={jobs} runs/process={per:2d}: CPU {totals[mode]:7.1f} s "
            f"({totals[mode] / n:5.2f} s per scenario), wall {wall:7.1f} s "
            f"({wall / n:5.2f} s per scenario; inside the runs {inside / n:5.2f} s)",
            flush=True,
        )
    first = next(iter(outcomes))
    for mode, out in outcomes.items():
        if out != outcomes[first]:
            bad = [
                s.name for s, a, b in zip(scenarios, out, outcomes[first], strict=True) if a != b
            ]
            raise SystemExit(f"{mode} differs from {first} on {bad}")
    print(f"results identical across modes: {', '.join(outcomes)}")
    base = totals[first]
    print(
        "CPU ratios: "
        + "  ".join(f"{first}/{m} = {base / t:.2f}x" for m, t in totals.items() if m != first)
    )


if __name__ == "__main__":
    main()
