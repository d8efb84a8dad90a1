"""GLOSA's effect in SUMO: connected vehicles following the platform's GLOSA advice against
the same traffic with nobody following (``sim.glosa_effect``), over several seeds.

Usage::

    .venv/bin/python benchmarks/glosa_effect.py                 # glosa_arterial, 3 seeds
    .venv/bin/python benchmarks/glosa_effect.py --seeds 5 --scenario path/to/other.toml

Each seed runs the scenario twice in a fresh process (``evaluate``): with the advice
followed, and again without (the baseline). Printed per seed and as the mean over seeds with
a 95 % Student-t interval: stops, travel time, fuel and CO2 per advised vehicle (the vehicles
that received advice, compared with themselves in the baseline) and per vehicle of the run,
with and without, and the change. Figures come from SUMO's trip records (tripinfo with the
emissions device; SUMO's default emission class, named in the outcome line).
"""

from __future__ import annotations

import argparse
import time

from v2xcloud.cli.evaluate_commands import resolve_scenarios
from v2xcloud.sim.evaluate import evaluate
from v2xcloud.sim.replicates import interval, with_seeds
from v2xcloud.sim.result import RunConfig


def main() -> None:
    """Run the scenario with N seeds and print GLOSA's figures with and without."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="glosa_arterial", help="library name or .toml")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    scenarios = with_seeds(resolve_scenarios([args.scenario]), args.seeds)
    started = time.perf_counter()
    results = evaluate(scenarios, config=RunConfig(), jobs=args.jobs)
    wall = time.perf_counter() - started
    rows: dict[str, list[tuple[float, float]]] = {}
    for r in results:
        (glosa,) = [c for c in r.cooperation if c.app == "GLOSA"]
        print(f"\n{r.name} (seed {next(s.seed for s in scenarios if s.name == r.name)}): "
              f"{glosa.outcome}")  # fmt: skip
        for f in glosa.figures:
            if f.value is None or f.baseline is None:
                print(f"  {f.name:34s} -")
                continue
            rows.setdefault(f"{f.name} ({f.unit or 'count'})", []).append((f.value, f.baseline))
            change = (f.value - f.baseline) / f.baseline * 100 if f.baseline else 0.0
            print(
                f"  {f.name:34s} {f.value:9.2f} with  {f.baseline:9.2f} without  {change:+6.1f} %"
            )
    print(f"\nmean over {len(results)} seeds (95 % interval), with GLOSA followed vs without:")
    for name, pairs in rows.items():
        with_ = interval([a for a, _ in pairs])
        without = interval([b for _, b in pairs])
        change = interval([(a - b) / b * 100 for a, b in pairs if b])
        if with_ is None or without is None or change is None:
            continue
        print(f"  {name:40s} {with_.format('{:.2f}'):>18s}  {without.format('{:.2f}'):>18s}"
              f"  change {change.mean:+.1f} % ± {change.half_width or 0.0:.1f}")  # fmt: skip
    print(f"{len(results)} seeds x 2 runs in {wall:.0f} s")


if __name__ == "__main__":
    main()
