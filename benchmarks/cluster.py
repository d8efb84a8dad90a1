"""Edge workers by tile on NATS JetStream: throughput and latency for 1 and 2 workers, and the
per-worker rate the capacity table (``benchmarks/cluster_capacity.py``) takes as its input.

Usage::

    .venv/bin/python benchmarks/cluster.py                       # 1 and 2 workers, 2,000 vehicles
    .venv/bin/python benchmarks/cluster.py --vehicles 1000 --seconds 4
    .venv/bin/python benchmarks/cluster.py --shard-zoom 14 --seconds 3   # one stream vs shards

The road: one east-west row of 16 zoom-16 tiles (~8.6 km at 28.2° N), two lanes each way,
``--vehicles`` vehicles spread along it at 8–16 m/s, each sending a BSM (UPER, encoded before
the clock starts, filed in its zoom-18 cell) every 100 ms. Contiguous assignment gives each of
2 workers 8 tiles; each reads its 8 plus the halo cells along its inner border (on this road
every vehicle moves faster than the far filing's bound, so the halo is the 255 m of every own
report, 2 cells: duplication ~17/16; ``runtime.tiles``, the halo by reach).

1. **Throughput.** The whole backlog (frames + one tick marker per 100 ms) is stored in a
   one-server JetStream first; then ``N`` stream-clocked ``v2xcloud worker --from-start``
   processes join, take their tiles (registered once all joined) and drain the stream from its
   start (decode, scene, all apps, advisories published), so the publisher does not compete
   for the cores while they read. Wall: the backlog's frames / the time from the tiles'
   registration to the last tick answered by all.
   CPU: each worker's process CPU seconds (``/proc/PID/stat``) while it read, per frame it
   read, split by its own counters into ingest (decode + validity + scene intake, sampled),
   tick (the scene and every app) and issue (picking what to publish); the rest is the NATS
   client, the event loop and the background publishing. On this
   2-core machine the server and the workers share the cores, so the wall ratio
   of 2 workers to 1 is capped by the machine; the CPU-time ratio (frames / the busiest
   worker's CPU seconds) is what the split gives with a core per worker. Same run: 1, then 2.
   ``--profile DIR``: each worker sampled by ``py-spy record`` meanwhile, the top printed.
2. **Latency.** The same road paced in real time (10 Hz for ``--paced-s``): each tick's frames
   then its marker are published; frame → advisory is, per advisory, the time from the ego's
   frame of the tick handed to the publisher's client to the advisory received by a core
   subscriber of ``adv.>`` (p50/p99/max; stream clock: the tick marker follows the frames at
   once, a wall-clocked worker adds up to one tick's wait); also the tick's first frame → the
   last worker's answer.
3. **Per-worker rate.** One worker's frames per CPU second (the throughput run's), printed
   and, with ``--results PATH``, written as JSON (``frames_per_cpu_s``) for
   ``benchmarks/cluster_capacity.py --results PATH``: the capacity table for 10,000 /
   100,000 vehicles (workers and servers needed) is computed there.

4. **One stream vs shards** (``--shard-zoom Z``, instead of 1-3): on ``--servers`` (3: R3)
   with ``--shard-workers`` (2), the same backlog and paced road first into ``V2X_FRAMES``,
   then sharded at zoom ``Z`` (the shard streams of the tiles and of 1 km around them, as
   ``sim.cluster.ClusterPlatform`` makes them, their leads spread by
   ``gateways.nats.spread_leaders``; every tick marker into every shard stream): frame
   streams led per server, server CPU per frame stored (every server's process, all
   replicas) and per frame read, split by server, frames stored and drained per second,
   frame -> advisory p50/p99. On one 2-core machine the three servers, the workers and the
   publisher share the cores: what it shows is the cost per frame and how the servers' CPU
   divides between them (the leader's share), not the throughput of three machines.

5. **Consumer filters** (``--filters``, instead of 1-4): the backlog stored in one server's
   ``V2X_FRAMES``, then read by one ack-none pull consumer per filter list, in turn: the
   filters a worker of 2 reads with (``reading_keys``: its 8 tiles, halo cells and roadside
   frames), the same collapsed to one per zoom-16 tile, its 8 tiles alone, two tiles, one tile,
   every frame through two filters, and every frame through one wildcard; server CPU per
   message delivered and per message stored. Measured (nats-server 2.15.1, 2,000 vehicles x
   3 s): any consumer with 2 filters or more costs the server 25-32 us per message
   delivered, whether 2, 9, 65 or 333 (and whether they select 7 % or all of the stream);
   one filter, 5-7 us. Fewer filters do not pay; one does.

The machine (2 cores) is shared: compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from v2xcloud.gateways.nats import (
    connect,
    ensure_streams,
    kv_keys,
    spread_leaders,
    stream_leaders,
)
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.gateways.tile_worker import (
    MEMBERS_BUCKET,
    TILES_BUCKET,
    WorkerConfig,
    WorkerProcess,
    reading_keys,
    ticked_subject,
)
from v2xcloud.gateways.tile_worker import _filter as key_filter
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory
from v2xcloud.processes import cpu_seconds
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import assign
from v2xcloud.runtime.tiles import Tiling, tile_of
from v2xcloud.sim.cluster import SHARD_MARGIN_M, TickFrame, bsm_tick, publish_tick
from v2xcloud.twin.testing import state_at

ORIGIN = (28.2, 112.9)
_ADVISORY = msgspec.json.Decoder(Advisory)
ROW_TILES = 16
T0_MS = 1_800_000_000_000


def _road(vehicles: int, seed: int = 5) -> tuple[LocalFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Start x, lane y and speed (east positive) of each vehicle along the tile row."""
    tiling = Tiling()
    first = tile_of(*ORIGIN)
    fx, fy = tiling.xy(first)
    x0 = (fx - fx % ROW_TILES, fy)
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    # the row's west edge and centre line in the local frame
    n = 1 << tiling.zoom
    west_lon = x0[0] / n * 360.0 - 180.0
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (fy + 1) / n))))
    wx, cy = frame.to_local((north + south) / 2, west_lon)
    length = tiling.side_m(first) * ROW_TILES
    rng = np.random.default_rng(seed)
    lanes = np.array([-5.25, -1.75, 1.75, 5.25])
    lane = rng.integers(0, 4, vehicles)
    x = float(wx) + rng.uniform(20.0, length - 300.0, vehicles)
    speed = rng.uniform(8.0, 16.0, vehicles) * np.where(lanes[lane] > 0, 1.0, -1.0)
    return frame, x, float(cy) + lanes[lane], speed


def _backlog(vehicles: int, seconds: float) -> list[list[TickFrame]]:
    """Per tick: every vehicle's BSM (place, device, UPER)."""
    frame, x, y, v = _road(vehicles)
    ticks = []
    for k in range(int(seconds * 10)):
        t_ms = T0_MS + k * 100
        states = [
            state_at(
                f"{i + 1:016x}",
                x_m=float(x[i] + v[i] * k * 0.1),
                y_m=float(y[i]),
                t_ms=t_ms,
                speed_mps=float(abs(v[i])),
                heading_deg=90.0 if v[i] > 0 else 270.0,
                frame=frame,
            )
            for i in range(vehicles)
        ]
        ticks.append(bsm_tick(states, t_ms))
    return ticks


async def _joined(js: Any, n: int) -> None:
    """Wait until ``n`` workers heartbeat, then a second more (each has heard the others, so
    all compute the same assignment when the tiles appear)."""
    deadline = time.perf_counter() + 60
    while True:
        try:
            members = await js.key_value(MEMBERS_BUCKET)
            if len(await members.keys()) >= n:
                break
        except Exception:  # bucket or keys not there yet
            if time.perf_counter() > deadline:
                raise
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def _register(js: Any, tiles: list[str]) -> None:
    """Register the tiles, unowned (the workers claim their shares)."""
    kv = await js.key_value(TILES_BUCKET)
    for tile in tiles:
        with contextlib.suppress(Exception):  # already registered
            await kv.create(tile, b"")


async def _settled(js: Any, tiles: list[str], n: int) -> None:
    """Wait until the ``n`` workers' heartbeats show the contiguous assignment of ``tiles``
    (each consumer in place): what ``sim.cluster.ClusterPlatform.prepare`` waits for."""
    members = await js.key_value(MEMBERS_BUCKET)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        names = await kv_keys(members)  # retries nats-py's spurious NoKeysError
        serving = {}
        for name in names:
            entry = await members.get(name)
            for tile in json.loads(entry.value or b"{}").get("tiles", []):
                serving[tile] = name
        if len(names) >= n and serving == assign(tiles, names):
            await asyncio.sleep(0.5)  # the others' halo consumers
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{n} workers did not settle on {len(tiles)} tiles within 60 s")


def _workers(
    urls: list[str],
    n: int,
    logs: str,
    *,
    from_start: bool = False,
    servers: int = 1,
    shard_zoom: int | None = None,
) -> list[WorkerProcess]:
    return [
        WorkerProcess(
            urls=urls,
            worker_id=f"w{i}",
            origin=ORIGIN,
            clock="stream",
            servers=servers,
            log_path=f"{logs}/w{i}.log",
            extra=("--from-start",) if from_start else (),
            shard_zoom=shard_zoom,
        ).start()
        for i in range(n)
    ]


def _shards(tiles: list[str], shard_zoom: int | None) -> list[str]:
    """The shard streams a sharded run makes (as ``sim.cluster.ClusterPlatform.prepare``):
    the tiles' shards and those within ``SHARD_MARGIN_M`` (the workers' halos read them);
    every one gets each tick marker. One stream: none."""
    if shard_zoom is None:
        return []
    own = {backbone.shard_of(t, shard_zoom) for t in tiles}
    near = Tiling(zoom=shard_zoom, halo_m=SHARD_MARGIN_M).halo_tiles(own)
    return sorted(own | set(near))


def _frame_streams(shards: list[str]) -> list[str]:
    return [backbone.shard_stream(s) for s in shards] if shards else [backbone.FRAMES]


async def _streams(nc: Any, servers: int, shards: list[str], shard_zoom: int | None) -> None:
    """The backbone's streams (with ``shard_zoom`` the shard streams instead of
    ``V2X_FRAMES``), then the shard streams' leads spread over the servers as the gateway
    tier keeps them (``gateways.nats.spread_leaders``, passes until none moves)."""
    js = nc.jetstream()
    specs = backbone.streams(servers=servers, shard_zoom=shard_zoom)
    specs += [backbone.shard_spec(s, servers=servers) for s in shards]
    deadline = time.perf_counter() + 30
    while True:  # a server healthy may not be known to the meta group yet
        try:
            await ensure_streams(js, specs)
            break
        except Exception:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.2)
    for _ in range(10):
        if servers < 2 or not shards or not (await spread_leaders(nc))["moved"]:
            break
        await asyncio.sleep(1.0)  # the elections of the moves made


async def _leads(nc: Any) -> dict[str, int]:
    """Frame streams led per server (``V2X_FRAMES``, or the shard streams)."""
    placements = await stream_leaders(nc, prefix=backbone.FRAMES)
    out: dict[str, int] = {}
    for placement in placements.values():
        if placement.leader:
            out[placement.leader] = out.get(placement.leader, 0) + 1
    return dict(sorted(out.items()))


def _server_cpu(cluster: NatsCluster) -> float:
    return sum(_each_server_cpu(cluster).values())


def _each_server_cpu(cluster: NatsCluster) -> dict[str, float]:
    """Each running server's process CPU seconds so far."""
    return {s.name: cpu_seconds(s.pid) for s in cluster.servers if s.pid is not None}


def _since(before: dict[str, float], now: dict[str, float]) -> dict[str, float]:
    return {name: now[name] - before.get(name, 0.0) for name in now}


async def _latency(
    n: int, ticks: list[list[TickFrame]], *, servers: int = 1, shard_zoom: int | None = None
) -> dict[str, Any]:
    """Paced: each tick's frames then its marker, every 100 ms. Frame -> advisory: from the
    ego's frame of a tick handed to this publisher's client to its advisory of that tick
    received by this client's core subscription of ``adv.>`` (issued by a worker on the tick
    marker: with the wall clock add up to a tick's wait); per advisory, p50 and p99."""
    logs = tempfile.mkdtemp(prefix="v2x-bench-cluster-")
    tiles = _tiles_of(ticks)
    shards = _shards(tiles, shard_zoom)
    with NatsCluster(servers) as cluster:
        nc = await connect(cluster.urls, name="bench")
        js = nc.jetstream()
        await _streams(nc, servers, shards, shard_zoom)
        answers: dict[int, dict[str, float]] = {}
        received: list[tuple[int, str, float]] = []  # (tick, ego, when)

        async def on_ticked(msg: Any) -> None:
            body = json.loads(msg.data)
            answers.setdefault(int(body["tick_ms"]), {})[body["worker"]] = time.perf_counter()

        async def on_advisory(msg: Any) -> None:
            adv = _ADVISORY.decode(msg.data)
            received.append((adv.issued_ms, adv.ego_id, time.perf_counter()))

        await nc.subscribe(ticked_subject("default"), cb=on_ticked)
        await nc.subscribe("adv.default.>", cb=on_advisory)
        procs = _workers(cluster.urls, n, logs, servers=servers, shard_zoom=shard_zoom)
        stamps: dict[tuple[int, str], float] = {}
        sent: dict[int, float] = {}
        try:
            await _joined(js, n)
            await _register(js, tiles)
            await _settled(js, tiles, n)
            leads = await _leads(nc)
            server0 = _server_cpu(cluster)
            start = time.perf_counter()
            for k, frames in enumerate(ticks):
                t_ms = T0_MS + k * 100
                sent[t_ms] = time.perf_counter()
                await publish_tick(
                    nc, frames, t_ms, shard_zoom=shard_zoom, shards=shards, stamps=stamps
                )
                await nc.flush()
                await asyncio.sleep(max(0.0, start + (k + 1) * 0.1 - time.perf_counter()))
            await asyncio.sleep(2.0)
            server_cpu = _server_cpu(cluster) - server0
        finally:
            for p in procs:
                p.stop()
            await nc.close()
    lat = sorted((at - stamps[(t, ego)]) * 1000.0 for t, ego, at in received if (t, ego) in stamps)
    tick_lat = sorted(
        (max(a.values()) - sent[t]) * 1000.0
        for t, a in answers.items()
        if len(a) == n and t in sent
    )
    out: dict[str, Any] = {"workers": n, "ticks": len(tick_lat), "of": len(ticks)}
    out["leads"] = leads
    out["server_cpu_per_s"] = server_cpu / (len(ticks) * 0.1 + 2.0)  # cores the servers used
    out["advisories"] = len(lat)
    if lat:
        out["p50_ms"] = statistics.median(lat)
        out["p99_ms"] = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        out["max_ms"] = lat[-1]
    if tick_lat:
        out["tick_p99_ms"] = tick_lat[min(len(tick_lat) - 1, int(0.99 * len(tick_lat)))]
    return out


def _tiles_of(ticks: list[list[TickFrame]]) -> list[str]:
    """The ownership tiles (default zoom) the backlog's cells lie in."""
    tiling = Tiling()
    return sorted({tiling.tile_of_place(c) for tick in ticks for c, _, _ in tick})


def _worker_stats(log: str) -> dict[str, Any]:
    """The counters a worker printed when it stopped (its log's last JSON line)."""
    for line in reversed(Path(log).read_text().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


async def _throughput(
    n: int,
    ticks: list[list[TickFrame]],
    profile: str | None = None,
    *,
    servers: int = 1,
    shard_zoom: int | None = None,
) -> dict[str, Any]:
    logs = tempfile.mkdtemp(prefix="v2x-bench-cluster-")
    tiles = _tiles_of(ticks)
    shards = _shards(tiles, shard_zoom)
    with NatsCluster(servers) as cluster:
        nc = await connect(cluster.urls, name="bench")
        js = nc.jetstream()
        await _streams(nc, servers, shards, shard_zoom)
        leads = await _leads(nc)
        answers: dict[int, dict[str, float]] = {}
        counts: dict[str, int] = {}

        async def on_ticked(msg: Any) -> None:
            body = json.loads(msg.data)
            answers.setdefault(int(body["tick_ms"]), {})[body["worker"]] = time.perf_counter()
            counts[body["worker"]] = counts.get(body["worker"], 0) + int(body["count"])

        await nc.subscribe(ticked_subject("default"), cb=on_ticked)
        # the backlog, stored whole before any worker reads (core publishes), so the workers
        # drain a full stream without the publisher competing for the cores
        store0 = _each_server_cpu(cluster)
        published = time.perf_counter()
        for k, tick_frames in enumerate(ticks):
            await publish_tick(
                nc, tick_frames, T0_MS + k * 100, shard_zoom=shard_zoom, shards=shards
            )
        await nc.flush()
        expected = sum(len(t) for t in ticks) + len(ticks) * max(1, len(shards))
        stored = 0
        while stored < expected and time.perf_counter() - published < 120:
            stored = 0
            for stream in _frame_streams(shards):
                stored += (await js.stream_info(stream)).state.messages
            if stored < expected:
                await asyncio.sleep(0.05)
        publish_s = time.perf_counter() - published
        # each server's CPU (its replicas, led or not) while the backlog was stored
        store_each = _since(store0, _each_server_cpu(cluster))
        procs = _workers(
            cluster.urls, n, logs, from_start=True, servers=servers, shard_zoom=shard_zoom
        )
        await _joined(js, n)
        cpu0 = {p.worker_id: cpu_seconds(p.pid) for p in procs}
        server0 = _each_server_cpu(cluster)
        spies = _spies(procs, profile)
        started = time.perf_counter()  # the tiles registered: the workers claim and read
        await _register(js, tiles)
        last = T0_MS + (len(ticks) - 1) * 100
        try:
            deadline = time.perf_counter() + 600
            while len(answers.get(last, {})) < n and time.perf_counter() < deadline:
                await asyncio.sleep(0.02)
            cpu = {p.worker_id: cpu_seconds(p.pid) - cpu0[p.worker_id] for p in procs}
            read_each = _since(server0, _each_server_cpu(cluster))
        finally:
            _stop_spies(spies)
            for p in procs:
                p.stop()
            await nc.close()
    stats = {p.worker_id: _worker_stats(f"{logs}/{p.worker_id}.log") for p in procs}
    ended = max(answers[last].values())
    frames = sum(len(t) for t in ticks)
    read = {w: int(s.get("counts", {}).get("frames", 0)) for w, s in stats.items()}
    # frames a shard read whole (one filter) brought from outside the worker's reading
    outside = {w: int(s.get("counts", {}).get("frames_outside", 0)) for w, s in stats.items()}
    split = {w: s.get("cpu_s", {}) for w, s in stats.items()}
    return {
        "workers": n,
        "frames_per_s": frames / (ended - started),
        "wall_s": ended - started,
        "duplication": sum(read.values()) / frames,
        "advisories": sum(counts.values()),
        "complete": len(answers.get(last, {})) == n,
        "server_msgs_per_s": stored / publish_s,
        "stored": stored,
        "expected": expected,
        "store_cpu_s": sum(store_each.values()),
        "store_cpu_each_s": store_each,  # server -> CPU seconds while the backlog was stored
        "leads": leads,
        "streams": len(_frame_streams(shards)),
        "cpu_s": cpu,  # worker -> process CPU seconds while it read the backlog
        "read": read,  # worker -> frames it read (own tiles + halo cells)
        "outside": outside,  # worker -> frames delivered and dropped (``whole_shards``)
        "split": split,  # worker -> CPU seconds in ingest / tick / issue (its own counters)
        "server_cpu_s": sum(read_each.values()),
        "server_cpu_each_s": read_each,  # server -> CPU seconds while the workers read
        "frames": frames,
        "profiles": {p.worker_id: path for p, (_, path) in zip(procs, spies, strict=False)},
    }


def _spies(procs: list[WorkerProcess], profile: str | None) -> list[tuple[Any, str]]:
    """``py-spy record`` (raw collapsed stacks, on-CPU samples) of each worker, if asked."""
    if profile is None:
        return []
    os.makedirs(profile, exist_ok=True)
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    out = []
    for p in procs:
        path = os.path.join(profile, f"{len(procs)}-{p.worker_id}.txt")
        argv = [spy, "record", "--format", "raw", "--rate", "250", "-o", path, "-p", str(p.pid)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((proc, path))
    time.sleep(1.0)  # attached before the drain starts
    return out


def _stop_spies(spies: list[tuple[Any, str]]) -> None:
    for proc, _ in spies:
        proc.send_signal(signal.SIGINT)  # py-spy writes its file on an interrupt
    for proc, _ in spies:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _profile_summary(path: str, top: int = 18) -> list[str]:
    """The busiest functions of a raw py-spy profile: self and inclusive share of samples."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = [
            f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")
        ]
        own[frames[-1]] = own.get(frames[-1], 0) + k
        for f in set(frames):
            incl[f] = incl.get(f, 0) + k
    lines = [f"    {total} samples; self %, then inclusive %:"]
    for name, k in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    self {100 * k / total:5.1f}  {name}")
    for name, k in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    incl {100 * k / total:5.1f}  {name}")
    return lines


def _compare_shards(args: argparse.Namespace) -> None:
    """One stream, then the frames sharded at ``--shard-zoom``, each on a fresh cluster of
    ``--servers`` (R3 with 3): the backlog stored (server CPU of every replica per frame,
    frames stored per second), drained by ``--shard-workers`` workers (frames per second,
    server CPU), then the paced run (frame -> advisory p99); the frame streams' leads per
    server (the shard streams' spread by ``spread_leaders`` first)."""
    zoom, servers, n = (
        backbone.shard_zoom_checked(args.shard_zoom),
        args.servers,
        args.shard_workers,
    )
    rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    ticks = [] if args.no_throughput else _backlog(args.vehicles, args.seconds)
    paced = [] if args.no_latency else _backlog(args.paced_vehicles, args.paced_s)
    for layout in (None, zoom):
        name = "one stream" if layout is None else f"shards z{layout}"
        thr: dict[str, Any] = {}
        if ticks:
            print(f"{name}: throughput ...", flush=True)
            thr = asyncio.run(_throughput(n, ticks, servers=servers, shard_zoom=layout))
        lat = None
        if paced:
            print(f"{name}: paced ...", flush=True)
            lat = asyncio.run(_latency(n, paced, servers=servers, shard_zoom=layout))
        rows.append((name, thr, lat))
    nan = float("nan")
    print(
        f"\n{servers} servers (R{min(3, servers)}), {n} workers; backlog {args.vehicles} vehicles "
        f"x {args.seconds:g} s, paced {args.paced_vehicles} vehicles x {args.paced_s:g} s"
    )
    for name, thr, lat in rows:
        if thr:
            frames = thr["frames"]
            print(
                f"{name}: {thr['streams']} frame stream(s), leads {thr['leads']}; stored "
                f"{thr['stored']}/{thr['expected']} at {thr['server_msgs_per_s']:,.0f} msgs/s, "
                f"server CPU {thr['store_cpu_s'] / frames * 1e6:.0f} us per frame stored (all "
                f"replicas); drained {thr['frames_per_s']:,.0f} frames/s wall, server CPU "
                f"{thr['server_cpu_s'] / frames * 1e6:.0f} us per frame read; "
                f"complete={thr['complete']}"
            )
            workers = ", ".join(
                f"{w} {thr['cpu_s'][w] / max(1, thr['read'][w]) * 1e6:.1f}"
                for w in sorted(thr["cpu_s"])
            )
            delivered = sum(thr["read"].values()) + sum(thr["outside"].values())
            print(
                f"  worker CPU per frame read (us): {workers}; halo duplication "
                f"{thr['duplication']:.3f}; delivered and dropped (outside the reading) "
                f"{sum(thr['outside'].values())}; server CPU per frame delivered "
                f"{thr['server_cpu_s'] / delivered * 1e6:.1f} us"
            )
            for phase, each in (("stored", "store_cpu_each_s"), ("read", "server_cpu_each_s")):
                split = ", ".join(
                    f"{k} {v / frames * 1e6:.1f}" for k, v in sorted(thr[each].items())
                )
                busiest = max(thr[each].values()) / max(1e-9, sum(thr[each].values()))
                print(
                    f"  server CPU per frame {phase}, by server (us): {split}; the busiest "
                    f"did {busiest:.0%}"
                )
        if lat is not None:
            print(
                f"{name} paced: frame -> advisory p50 {lat.get('p50_ms', nan):.1f} ms, p99 "
                f"{lat.get('p99_ms', nan):.1f} ms over {lat['advisories']} advisories; "
                f"{lat['ticks']}/{lat['of']} ticks answered; servers used "
                f"{lat['server_cpu_per_s']:.2f} cores; leads {lat['leads']}"
            )
    if args.results:
        Path(args.results).write_text(
            json.dumps([{"layout": a, "throughput": b, "paced": c} for a, b, c in rows]) + "\n"
        )


def _filter_lists(tiles: list[str]) -> dict[str, list[str]]:
    """The consumer filter lists ``--filters`` compares: the first of 2 workers' (its
    ``reading_keys`` as ``_filters_by_stream`` makes them, one stream), and coarser ones."""
    config = WorkerConfig(urls=[], origin=ORIGIN)
    mine = sorted(t for t, w in assign(tiles, ["w0", "w1"]).items() if w == "w0")
    keys = reading_keys(config.tiling, config.reach, mine)
    per_tile = {k[: backbone.TILE_DIGITS] for k in keys}
    busiest = sorted(mine)[len(mine) // 2 :]  # the row's inner tiles carry traffic
    return {
        "worker's keys": [key_filter("default", k) for k in sorted(keys)],
        "one per tile": [key_filter("default", t) for t in sorted(per_tile)],
        "owned tiles": [key_filter("default", t) for t in mine],
        "two tiles": [key_filter("default", t) for t in busiest[:2]],
        "one tile": [key_filter("default", busiest[0])],
        "all, 2 filters": ["v2x.default.*.*.bsm", "v2x.default.clock.>"],
        "all, 1 filter": ["v2x.default.>"],
    }


async def _filters(ticks: list[list[TickFrame]]) -> list[dict[str, Any]]:
    """Each filter list of ``_filter_lists`` read by its own ack-none pull consumer of the
    stored backlog (one server), in turn: the server's CPU per message delivered."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    rows = []
    with NatsCluster(1) as cluster:
        nc = await connect(cluster.urls, name="bench")
        js = nc.jetstream()
        await _streams(nc, 1, [], None)
        for k, tick_frames in enumerate(ticks):
            await publish_tick(nc, tick_frames, T0_MS + k * 100)
        await nc.flush()
        stored = 0
        while stored < sum(len(t) for t in ticks) + len(ticks):
            stored = (await js.stream_info(backbone.FRAMES)).state.messages
            await asyncio.sleep(0.05)
        for i, (name, subjects) in enumerate(_filter_lists(_tiles_of(ticks)).items()):
            consumer = f"bench-filters-{i}"
            config = ConsumerConfig(
                name=consumer,
                filter_subjects=subjects,
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                mem_storage=True,
                num_replicas=1,
            )
            info = await js.add_consumer(backbone.FRAMES, config)
            pull = await js.pull_subscribe_bind(consumer, backbone.FRAMES)
            cpu0, started, got = _server_cpu(cluster), time.perf_counter(), 0
            while got < info.num_pending:
                got += len(await pull.fetch(1000, timeout=10))
            wall, cpu = time.perf_counter() - started, _server_cpu(cluster) - cpu0
            await pull.unsubscribe()
            await js.delete_consumer(backbone.FRAMES, consumer)
            rows.append(
                {"filters": name, "subjects": len(subjects), "delivered": got, "stored": stored,
                 "server_cpu_s": cpu, "wall_s": wall}
            )  # fmt: skip
        await nc.close()
    return rows


def _compare_filters(args: argparse.Namespace) -> None:
    rows = asyncio.run(_filters(_backlog(args.vehicles, args.seconds)))
    print(f"one server, {args.vehicles} vehicles x {args.seconds:g} s; a consumer per list:")
    for r in rows:
        print(
            f"  {r['filters']:>15}: {r['subjects']:4d} filters, {r['delivered']:7,} of "
            f"{r['stored']:,} delivered, server CPU {r['server_cpu_s'] / r['delivered'] * 1e6:5.1f}"
            f" us per message delivered ({r['server_cpu_s'] / r['stored'] * 1e6:4.1f} per "
            f"stored), {r['delivered'] / r['wall_s']:,.0f} msgs/s"
        )
    if args.results:
        Path(args.results).write_text(json.dumps(rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="backlog length (simulated)")
    parser.add_argument("--paced-s", type=float, default=5.0, help="latency run length")
    parser.add_argument("--paced-vehicles", type=int, default=500)
    parser.add_argument("--no-latency", action="store_true", help="skip the paced latency runs")
    parser.add_argument("--no-throughput", action="store_true", help="only the paced runs")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy record each worker of the throughput phase into DIR and print the top",
    )
    parser.add_argument("--results", help="write the per-worker rate here (JSON)")
    parser.add_argument(
        "--shard-zoom",
        type=int,
        metavar="Z",
        help="instead: one stream vs the frames sharded at zoom Z, in the same run, on "
        "--servers servers with --shard-workers workers (throughput and paced latency)",
    )
    parser.add_argument("--servers", type=int, default=3, help="with --shard-zoom (default 3)")
    parser.add_argument("--shard-workers", type=int, default=2, help="with --shard-zoom")
    parser.add_argument(
        "--filters",
        action="store_true",
        help="instead: server CPU per message delivered by consumer filter list (one server)",
    )
    args = parser.parse_args()
    if args.filters:
        _compare_filters(args)
        return
    if args.shard_zoom is not None:
        _compare_shards(args)
        return
    results = []
    if not args.no_throughput:
        print(f"encoding {args.vehicles} vehicles x {args.seconds} s ...", flush=True)
        ticks = _backlog(args.vehicles, args.seconds)
        print(f"{sum(len(t) for t in ticks)} frames over {len(_tiles_of(ticks))} tiles", flush=True)
        results = [asyncio.run(_throughput(n, ticks, args.profile)) for n in (1, 2)]
        for r in results:
            cpu = r["cpu_s"]
            print(
                f"throughput {r['workers']} worker(s): {r['frames_per_s']:,.0f} frames/s wall in "
                f"{r['wall_s']:.1f} s; halo duplication {r['duplication']:.3f}; advisories "
                f"{r['advisories']}; complete={r['complete']}; server CPU {r['server_cpu_s']:.1f} s"
            )
            for w in sorted(cpu):
                split = r["split"].get(w, {})
                per = cpu[w] / max(1, r["read"][w]) * 1e6
                parts = ", ".join(
                    f"{k} {v / max(1, r['read'][w]) * 1e6:.1f}" for k, v in sorted(split.items())
                )
                print(
                    f"  {w}: read {r['read'][w]:,} frames, {cpu[w]:.1f} CPU s = {per:.1f} us CPU "
                    f"per frame ({parts}; the rest: NATS client and event loop) -> "
                    f"{1e6 / per:,.0f} frames per CPU second"
                )
                if w in r["profiles"] and os.path.exists(r["profiles"][w]):
                    print("\n".join(_profile_summary(r["profiles"][w])))
        one, two = results
        ratio = two["frames_per_s"] / one["frames_per_s"]
        cpu_ratio = (two["frames"] / max(two["cpu_s"].values())) / (
            one["frames"] / max(one["cpu_s"].values())
        )
        print(
            f"2 workers / 1 worker, same run: wall {ratio:.2f}x (target 1.7x; this machine's 2 cores "
            f"also run the server); CPU-time {cpu_ratio:.2f}x (frames / "
            "the busiest worker's CPU seconds: the wall ratio if each worker had a core of its own)"
        )
    if not args.no_latency:
        paced = _backlog(args.paced_vehicles, args.paced_s)
        for n in (1, 2):
            r = asyncio.run(_latency(n, paced))
            nan = float("nan")
            print(
                f"latency {n} worker(s), {args.paced_vehicles} vehicles at 10 Hz paced: frame -> "
                f"advisory p50 {r.get('p50_ms', nan):.1f} ms, p99 {r.get('p99_ms', nan):.1f} ms, "
                f"max {r.get('max_ms', nan):.1f} ms over {r['advisories']} advisories; "
                f"{r['ticks']}/{r['of']} ticks answered by all (tick's first frame -> last "
                f"answer p99 {r.get('tick_p99_ms', nan):.1f} ms)"
            )
    if not results:
        return
    per_worker = results[0]["frames"] / results[0]["cpu_s"]["w0"]  # one worker's rate
    print(
        f"\nper-worker rate: {per_worker:,.0f} frames per CPU second (1 worker, same run); the "
        f"capacity table: benchmarks/cluster_capacity.py --worker-rate {per_worker:.0f}"
    )
    if args.results:
        Path(args.results).write_text(json.dumps({"frames_per_cpu_s": per_worker}) + "\n")


if __name__ == "__main__":
    main()
