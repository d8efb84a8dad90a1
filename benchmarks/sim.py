"""Simulated vehicles per second through the whole chain, and where the time goes.

SUMO (libsumo) → BSM models → UPER encode → channel → decode → live scene → all apps, on a
generated signalised grid filled to about 500 and about 5,000 vehicles, every vehicle
connected (a BSM per vehicle per 0.1 s step). Ground truth (SSM device, harness) is off:
it is the bench's own cost, not the platform's. Each size runs in its own process (libsumo
allows one simulation per process).

``--clock cpu`` times the stages in this process's CPU time instead of wall time: on a machine
shared with other work, wall time counts the waits for a core too, CPU time does not.
From decode + scene and the apps it prints how many connected vehicles one process carries at
10 Hz (one update per vehicle per 0.1 s).

Usage: .venv/bin/python benchmarks/sim.py [--sizes 500 5000] [--sim-s 60] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import types

import msgspec

from v2xcloud.sim import runner
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


#: stands in for the ``time`` module the runner reads its stage clock from (all else as is)
_CPU_TIME = types.SimpleNamespace(
    **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
)
_CPU_TIME.perf_counter = time.process_time


#: the platform's share of the chain: what one worker process does per vehicle-update
PLATFORM_STAGES = ("decode_and_scene", "tick_apps")


def _run(target: int, sim_s: float, clock: str = "wall") -> bytes:
    config = RunConfig(has_ground_truth=False)
    if clock == "cpu":  # this worker process only: the stage timings in CPU seconds
        runner.time = _CPU_TIME  # type: ignore[assignment]
    t0 = time.perf_counter()
    result = run_in_process(_scenario(target, sim_s), config)
    wall = time.perf_counter() - t0
    return msgspec.msgpack.encode({"result": msgspec.to_builtins(result), "wall": wall})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--sim-s", type=float, default=10.0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    for target in args.sizes:
        with ctx.Pool(1) as pool:
            doc = msgspec.msgpack.decode(pool.apply(_run, (target, args.sim_s, args.clock)))
        r, wall = doc["result"], doc["wall"]
        steps = args.sim_s / 0.1
        mean_vehicles = r["vehicle_steps"] / steps
        stages = r["stage_s"]
        total = sum(stages.values())
        print(
            f"\n~{target} vehicles target: mean {mean_vehicles:.0f} vehicles over {args.sim_s:.0f} s simulated"
            f" (stage clock: {args.clock})"
        )
        print(f"  wall {wall:.1f} s (stages {total:.1f} s) → {r['vehicle_steps'] / total:,.0f} vehicle-updates/s "
              f"through the chain, {args.sim_s / total:.2f}× real time")  # fmt: skip
        print(f"  frames delivered: {r['frames']}, encode errors: {r['encode_errors'] or 'none'}")
        for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            per_vehicle_us = seconds / max(1, r["vehicle_steps"]) * 1e6
            print(
                f"    {stage:17s} {seconds:7.2f} s  {100 * seconds / total:5.1f} %  {per_vehicle_us:7.1f} µs/vehicle-update"
            )
        platform_us = (
            sum(stages.get(s, 0.0) for s in PLATFORM_STAGES) / max(1, r["vehicle_steps"]) * 1e6
        )
        print(f"  platform (decode + scene + apps) {platform_us:.1f} µs/vehicle-update → one process "
              f"carries {1e6 / (10.0 * platform_us):,.0f} connected vehicles at 10 Hz")  # fmt: skip


if __name__ == "__main__":
    main()
