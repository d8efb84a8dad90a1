"""The demo signed end to end against the same demo unsigned: tick time and CPU, same run.

``demo_district`` (the demo's scenario: a signalised 4x4 grid, ~100 connected vehicles, two
roadside sensors, 16 signal controllers) is cut to ``--sim-s`` simulated seconds and run flat
out, in-process, with the demo's channel (20 ms, no loss), ground truth off (the bench's own
cost). "signed" is ``demo --signed``: every device signs each frame (SM2, profile cn, or
ECDSA-P256 with ``--profile intl``), the platform verifies each one under policy require and
signs what it sends. Each run is its own process (libsumo: one simulation per process); the
variants alternate ``--rounds`` times so the machine's drift hits both alike, and the ratios
compare medians of the same invocation.

Printed per variant (median of the rounds): the platform's time per 0.1 s step — receive
(guard + decode + scene: ``decode_and_scene``) and tick (apps, dissemination, signing the
down-link: ``tick_apps``) — the devices' signing per step, the process CPU seconds, and the
frames per run; then signed/unsigned ratios.

Usage: .venv/bin/python benchmarks/signed_demo.py [--sim-s 20] [--rounds 2] [--profile cn]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time

import msgspec


def _run(signed: bool, sim_s: float, profile: str) -> bytes:
    from v2xcloud.cli._signed import SignedRun
    from v2xcloud.sim.platform import runtime_platform
    from v2xcloud.sim.result import RunConfig
    from v2xcloud.sim.runner import model_encoder, run_scenario
    from v2xcloud.sim.scenario import load_library

    (scenario,) = load_library("demo_district")
    scenario = msgspec.structs.replace(scenario, duration_s=sim_s)
    config = RunConfig(
        latency_ms=20.0,
        jitter_ms=5.0,
        epoch_ms=int(time.time() * 1000),
        has_ground_truth=False,
    )
    platform, runtime = runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
    )
    args = argparse.Namespace(signed=signed, pki=None, profile=profile if signed else "cn")
    with SignedRun(args, now_ms=config.epoch_ms, message_set=config.message_set) as run:
        run.secure(runtime)
        encode = model_encoder(config.message_set)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        result = run_scenario(
            scenario, config=config, platform=platform, encode=encode, signing=run.devices
        )
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    stats = runtime.stats()
    guard = stats.get("guard", {})
    return msgspec.msgpack.encode(
        {
            "wall_s": wall,
            "cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "steps": round(sim_s / scenario.step_s),
            "stage_s": result.stage_s,
            "frames": sum(result.frames.values()),
            "verified": guard.get("verified", 0),
            "rejected": sum(v for k, v in guard.items() if k.startswith("rejected.")),
            "dead_letters": dict(stats["dead_letters"]),
        }
    )


def _per_step_ms(doc: dict, stage: str) -> float:
    return 1000.0 * doc["stage_s"].get(stage, 0.0) / doc["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-s", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", choices=("cn", "intl"), default="cn")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    runs: dict[str, list[dict]] = {"unsigned": [], "signed": []}
    for _ in range(args.rounds):
        for name in ("unsigned", "signed"):
            with ctx.Pool(1) as pool:
                raw = pool.apply(_run, (name == "signed", args.sim_s, args.profile))
            runs[name].append(msgspec.msgpack.decode(raw))
    rows = {}
    print(
        f"demo_district, {args.sim_s:g} s simulated, {args.rounds} rounds, profile {args.profile}"
    )
    print(
        f"{'variant':9} {'receive ms/step':>16} {'tick ms/step':>13} {'sign ms/step':>13} "
        f"{'CPU s':>7} {'wall s':>7} {'frames':>7} {'verified':>9} {'rejected':>9}"
    )
    for name, docs in runs.items():
        med = {
            "receive": statistics.median(_per_step_ms(d, "decode_and_scene") for d in docs),
            "tick": statistics.median(_per_step_ms(d, "tick_apps") for d in docs),
            "sign": statistics.median(_per_step_ms(d, "sign") for d in docs),
            "cpu": statistics.median(d["cpu_s"] for d in docs),
            "wall": statistics.median(d["wall_s"] for d in docs),
        }
        rows[name] = med
        last = docs[-1]
        print(
            f"{name:9} {med['receive']:16.2f} {med['tick']:13.2f} {med['sign']:13.2f} "
            f"{med['cpu']:7.1f} {med['wall']:7.1f} {last['frames']:7d} {last['verified']:9d} "
            f"{last['rejected']:9d}"
        )
    s, u = rows["signed"], rows["unsigned"]
    print(
        f"signed/unsigned: receive x{s['receive'] / u['receive']:.2f}, tick "
        f"x{s['tick'] / u['tick']:.2f}, platform (receive+tick) "
        f"x{(s['receive'] + s['tick']) / (u['receive'] + u['tick']):.2f}, process CPU "
        f"x{s['cpu'] / u['cpu']:.2f}"
    )


if __name__ == "__main__":
    main()
