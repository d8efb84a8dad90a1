"""Simulated vehicles per second through the whole chain, and where the time goes.

SUMO (libsumo) → BSM models → UPER encode → channel → decode → live scene → all apps, on a
generated signalised grid filled to about 500 and about 5,000 vehicles, every vehicle
connected (a BSM per vehicle per 0.1 s step). Ground truth (SSM device, harness) is off:
it is the bench's own cost, not the platform's. Each size runs in its own process (libsumo
allows one simulation per process).

Usage: .venv/bin/python benchmarks/sim.py [--sizes 500 5000] [--sim-s 60]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

import msgspec

from v2xcloud.sim.evaluate import run_in_process
from v2xcloud.sim.result import RunConfig
from v2xcloud.sim.scenario import BackgroundSpec, NetworkSpec, Scenario


def _scenario(target: int, sim_s: float) -> Scenario:
    # ``target`` vehicles start on the road; a flow of about target/90 s replaces those that
    # leave (trips last ~1.5 min); the grid grows with the target so density stays moderate.
    size = 6 if target <= 1000 else 14
    return Scenario(
        name=f"bench_{target}",
        description="benchmark grid",
        seed=7,
        duration_s=sim_s,
        network=NetworkSpec(
            kind="grid", grid_size=size, arm_length_m=200.0, lanes=2, is_signalised=True
        ),
        background=BackgroundSpec(
            vehicles_per_hour=target * 3600.0 / 90.0, initial_vehicles=target
        ),
        is_short=False,
    )


def _run(target: int, sim_s: float) -> bytes:
    config = RunConfig(has_ground_truth=False)
    t0 = time.perf_counter()
    result = run_in_process(_scenario(target, sim_s), config)
    wall = time.perf_counter() - t0
    return msgspec.msgpack.encode({"result": msgspec.to_builtins(result), "wall": wall})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--sim-s", type=float, default=10.0)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    for target in args.sizes:
        with ctx.Pool(1) as pool:
            doc = msgspec.msgpack.decode(pool.apply(_run, (target, args.sim_s)))
        r, wall = doc["result"], doc["wall"]
        steps = args.sim_s / 0.1
        mean_vehicles = r["vehicle_steps"] / steps
        stages = r["stage_s"]
        total = sum(stages.values())
        print(
            f"\n~{target} vehicles target: mean {mean_vehicles:.0f} vehicles over {args.sim_s:.0f} s simulated"
        )
        print(f"  wall {wall:.1f} s (stages {total:.1f} s) → {r['vehicle_steps'] / total:,.0f} vehicle-updates/s "
              f"through the chain, {args.sim_s / total:.2f}× real time")  # fmt: skip
        print(f"  frames delivered: {r['frames']}, encode errors: {r['encode_errors'] or 'none'}")
        for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            per_vehicle_us = seconds / max(1, r["vehicle_steps"]) * 1e6
            print(
                f"    {stage:17s} {seconds:7.2f} s  {100 * seconds / total:5.1f} %  {per_vehicle_us:7.1f} µs/vehicle-update"
            )


if __name__ == "__main__":
    main()
