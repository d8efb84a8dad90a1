"""The coordination apps (CLC, CVM, CIP) through the closed-loop bench: their figures per
variant of the platform, all in one process and one run each (same scenario, same seed).

Usage::

    .venv/bin/python benchmarks/day2_coordination.py
    .venv/bin/python benchmarks/day2_coordination.py --scenarios cip_crossing

Variants: ``without`` (the platform without the scenario's coordination app: SUMO's own
lane changing and priority rules), ``with`` (the app as registered), and for CIP both slot
policies, ``fcfs`` (first come, first served: the baseline policy) and ``batch``
(platoon-aware batching: the registered one). Per variant it prints every figure of the
app's ``CooperationScore``, the collisions, the smallest TTC, the RSCs sent and the run's
wall time and the platform's Day-2 tick time (``stage_s``), which share the machine with
SUMO and vary from run to run: compare variants within one run of this script.
"""

from __future__ import annotations

import argparse
import time

from v2xcloud.apps.day2.intersection import CipConfig
from v2xcloud.sim.platform import runtime_platform
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.runner import model_encoder, run_scenario
from v2xcloud.sim.scenario import Scenario, load_library

_APPS = {"clc_lane_drop": "CLC", "cvm_on_ramp": "CVM", "cip_crossing": "CIP"}


def _run(scenario: Scenario, app: str, variant: str) -> tuple[ScenarioResult, float]:
    without = frozenset({app}) if variant == "without" else frozenset()
    platform, runtime = runtime_platform(
        message_set="csae2020",
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
        without_day2=without,
    )
    if variant in ("fcfs", "batch"):
        for each in runtime.day2.apps:
            if each.code == "CIP":
                each.config = CipConfig(policy=variant)
    t0 = time.perf_counter()
    result = run_scenario(
        scenario,
        config=RunConfig(latency_ms=20.0, loss=0.01),
        platform=platform,
        encode=model_encoder("csae2020"),
    )
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(_APPS))
    args = parser.parse_args()
    for name in args.scenarios:
        (scenario,) = load_library(name)
        app = _APPS[name]
        variants = ["without", "fcfs", "batch"] if app == "CIP" else ["without", "with"]
        rows = {}
        for variant in variants:
            result, wall = _run(scenario, app, variant)
            (score,) = [c for c in result.cooperation if c.app == app]
            rows[variant] = (score, wall, result.stage_s.get("tick_apps", 0.0))
        print(f"\n{name} ({app}, {scenario.duration_s:.0f} s simulated)")
        names = [f.name for f in rows[variants[0]][0].figures]
        print(f"  {'figure':<26}" + "".join(f"{v:>12}" for v in variants))
        for k, fname in enumerate(names):
            unit = rows[variants[0]][0].figures[k].unit
            cells = []
            for v in variants:
                value = rows[v][0].figures[k].value
                cells.append("—" if value is None else f"{value:.2f}")
            print(
                f"  {fname + (f' ({unit})' if unit else ''):<26}"
                + "".join(f"{c:>12}" for c in cells)
            )
        for label, get in (
            ("collisions", lambda r: str(r[0].collisions)),
            ("min TTC (s)", lambda r: "—" if r[0].min_ttc_s is None else f"{r[0].min_ttc_s:.2f}"),
            ("RSC sent", lambda r: str(r[0].messages_sent.get("RSC", 0))),
            ("wall (s)", lambda r: f"{r[1]:.1f}"),
            ("tick_apps (s)", lambda r: f"{r[2]:.2f}"),
        ):
            print(f"  {label:<26}" + "".join(f"{get(rows[v]):>12}" for v in variants))


if __name__ == "__main__":
    main()
