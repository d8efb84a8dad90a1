"""The platform's side of ``benchmarks/sim.py`` alone: capture a run's frames, replay them.

    PYTHONPATH=src python benchmarks/platform_replay.py capture --size 500 --sim-s 10 --out F
    PYTHONPATH=src python benchmarks/platform_replay.py replay F [--profile OUT.prof]
                                                                 [--digest OUT.json]

``capture`` runs the same generated grid as ``benchmarks/sim.py`` (SUMO → BSM → UPER →
channel) and records every frame the channel delivered to the platform (bytes, arrival ms,
sender) and every tick time, in order, into one msgpack file. ``replay`` feeds that file to a
fresh in-process platform (``sim.platform.runtime_platform``, set up as ``sim.evaluate``
does) and times its two stages in this process's CPU time: decode + scene intake
(``ingest_frame``) and the tick (scene update, apps, Day-2 apps, event detectors,
dissemination). Figures are per vehicle-update, as ``sim.py`` prints them.

``--digest`` writes every advisory of every tick (msgpack of the ``Advisory`` structs, all
fields) hashed per app, with counts, so two trees can be compared on the same input: same
digest, same advisories. ``--profile`` writes a cProfile of the replay (intake and ticks).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).parent))

import sim as sim_bench
from v2xcloud.codec import message_set_of, prepare
from v2xcloud.model import Advisory
from v2xcloud.sim import platform as sim_platform
from v2xcloud.sim.result import RunConfig


class _Recorder:
    """Wraps the bench's platform and writes down what it was handed, step by step."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frames: list[tuple[bytes, int, str, str]] = []
        self.steps: list[tuple[int, list[tuple[bytes, int, str, str]]]] = []

    def ingest_frame(
        self, raw: bytes, *, received_at_ms: int, source: str, kind: str = "unknown"
    ) -> None:
        self.frames.append((bytes(raw), received_at_ms, source, kind))
        self.inner.ingest_frame(raw, received_at_ms=received_at_ms, source=source, kind=kind)

    def tick(self, now_ms: int) -> list[Advisory]:
        self.steps.append((now_ms, self.frames))
        self.frames = []
        out: list[Advisory] = self.inner.tick(now_ms)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_RECORDERS: list[_Recorder] = []


def _capture(size: int, sim_s: float, out: str) -> int:
    real = sim_platform.runtime_platform

    def recording(**kwargs: Any) -> tuple[Any, Any]:
        platform, runtime = real(**kwargs)
        rec = _Recorder(platform)
        _RECORDERS.append(rec)
        return rec, runtime

    sim_platform.runtime_platform = recording  # type: ignore[assignment]
    scenario = sim_bench._scenario(size, sim_s)
    from v2xcloud.sim.evaluate import run_in_process

    result = run_in_process(scenario, RunConfig(has_ground_truth=False))
    rec = _RECORDERS[0]
    doc = {
        "size": size,
        "sim_s": sim_s,
        "vehicle_steps": result.vehicle_steps,
        "epoch_ms": result.config.epoch_ms,
        "steps": rec.steps,
    }
    Path(out).write_bytes(msgspec.msgpack.encode(doc))
    return sum(len(f) for _, f in rec.steps)


def _platform(size: int, sim_s: float, epoch_ms: int) -> Any:
    from v2xcloud.sim.evaluate import (
        _report_payment_points,
        _report_reference_stations,
        _report_signal_plans,
    )

    scenario = sim_bench._scenario(size, sim_s)
    config = RunConfig(has_ground_truth=False, epoch_ms=epoch_ms)
    platform, runtime = sim_platform.runtime_platform(
        message_set=config.message_set,
        origin_lat_deg=scenario.origin_lat_deg,
        origin_lon_deg=scenario.origin_lon_deg,
    )
    _report_signal_plans(runtime, scenario, config)
    _report_payment_points(runtime, scenario, config)
    _report_reference_stations(runtime, scenario, config)
    prepare(message_set_of(config.message_set))  # compiled before the clock runs (as in sim.py)
    return platform


class _Frame(msgspec.Struct, array_like=True, gc=False):
    """One captured frame (untracked by the cyclic GC: half a million of them must not make
    the replay's collections dearer than the platform's own)."""

    raw: bytes
    at_ms: int
    source: str
    kind: str


class _Capture(msgspec.Struct):
    size: int
    sim_s: float
    vehicle_steps: int
    epoch_ms: int
    steps: list[tuple[int, list[_Frame]]]


def _replay(path: str, profile: str | None, digest: str | None, ticks: int | None) -> None:
    doc = msgspec.msgpack.decode(Path(path).read_bytes(), type=_Capture)
    platform = _platform(doc.size, doc.sim_s, doc.epoch_ms)
    steps = doc.steps[:ticks]
    vehicle_steps = doc.vehicle_steps
    if ticks is not None:  # a prefix: per vehicle-update over the BSMs it holds
        vehicle_steps = sum(
            1 for _, frames in steps for f in frames if not f.source.startswith("rsu-")
        )
    by_app: dict[str, list[bytes]] = {}
    ingest_s = tick_s = 0.0
    prof = cProfile.Profile() if profile else None
    clock = time.process_time
    if prof is not None:
        prof.enable()
    for now_ms, frames in steps:
        c0 = clock()
        for f in frames:
            platform.ingest_frame(f.raw, received_at_ms=f.at_ms, source=f.source, kind=f.kind)
        c1 = clock()
        advisories = platform.tick(now_ms)
        platform.take_outbound()
        c2 = clock()
        ingest_s += c1 - c0
        tick_s += c2 - c1
        if digest:
            for a in advisories:
                by_app.setdefault(a.app, []).append(msgspec.msgpack.encode(a))
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    n = max(1, vehicle_steps)
    frames_n = sum(len(f) for _, f in steps)
    print(
        f"{Path(path).name}: {vehicle_steps / len(steps):.0f} vehicles mean, "
        f"{len(steps)} ticks, {frames_n} frames (cpu clock{', profiled' if prof else ''})"
    )
    print(f"  decode_and_scene {ingest_s:7.2f} s  {ingest_s / n * 1e6:7.1f} µs/vehicle-update")
    print(f"  tick_apps        {tick_s:7.2f} s  {tick_s / n * 1e6:7.1f} µs/vehicle-update")
    if digest:
        table = {
            app: {"count": len(blobs), "sha256": hashlib.sha256(b"".join(blobs)).hexdigest()}
            for app, blobs in sorted(by_app.items())
        }
        Path(digest).write_text(json.dumps(table, indent=1) + "\n")
        print("  advisories: " + ", ".join(f"{a} {t['count']}" for a, t in table.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--size", type=int, default=500)
    cap.add_argument("--sim-s", type=float, default=10.0)
    cap.add_argument("--out", required=True)
    rep = sub.add_parser("replay")
    rep.add_argument("file")
    rep.add_argument("--profile")
    rep.add_argument("--digest")
    rep.add_argument("--ticks", type=int, help="replay only the first TICKS ticks")
    args = parser.parse_args()
    if args.cmd == "capture":
        ctx = multiprocessing.get_context("spawn")  # libsumo: one simulation per process
        with ctx.Pool(1) as pool:
            frames = pool.apply(_capture, (args.size, args.sim_s, args.out))
        print(f"captured {frames} frames into {args.out}")
    else:
        _replay(args.file, args.profile, args.digest, args.ticks)


if __name__ == "__main__":
    main()
