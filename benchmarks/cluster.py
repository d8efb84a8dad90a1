"""Edge workers by tile on NATS JetStream: throughput and latency for 1 and 2 workers, and a
capacity table for 10,000 / 100,000 connected vehicles at 10 Hz.

Usage::

    .venv/bin/python benchmarks/cluster.py                       # 1 and 2 workers, 2,000 vehicles
    .venv/bin/python benchmarks/cluster.py --vehicles 1000 --seconds 4

The road: one east-west row of 16 zoom-16 tiles (~8.6 km at 28.2° N), two lanes each way,
``--vehicles`` vehicles spread along it at 8–16 m/s, each sending a BSM (UPER, encoded before
the clock starts) every 100 ms. Contiguous assignment gives each of 2 workers 8 tiles; each
reads its 8 plus one halo tile (duplication 18/16).

1. **Throughput.** The whole backlog (frames + one tick marker per 100 ms) is published into
   ``V2X_FRAMES`` on a one-server JetStream first; then ``N`` stream-clocked
   ``v2xcloud worker --from-start`` processes join, take their tiles (registered once all
   joined) and read it from its start (decode, scene, all apps, advisories published). Frames per second = the frames the workers had to read / the time
   from the first to the last tick any worker answered. Same run: 1 worker, then 2.
2. **Latency.** The same road paced in real time (10 Hz for ``--paced-s``): each tick's frames
   then its marker are published; frame → advisory is the time from the first frame of the tick
   to the last worker's answer (its advisories published before it answers); p50/p99.
3. **Capacity.** From the measured per-worker rate: workers needed for 10,000 and 100,000
   vehicles at 10 Hz (70 % load), checked by running the real tile assignment and halo logic
   (``runtime.ownership.assign``, ``Tiling.halo_tiles``) on synthetic positions of that many
   vehicles over a city-sized road grid: vehicles per tile, the halo duplication factor and the
   KV operations per second (heartbeats + episode writes at the measured advisory rate).

The machine (2 cores) is shared: compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from v2xcloud.gateways.nats import connect, ensure_streams
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.gateways.tile_worker import (
    HEADER_TICK_MS,
    MEMBERS_BUCKET,
    TILES_BUCKET,
    WorkerProcess,
    tick_subject,
    ticked_subject,
)
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Bsm
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import assign
from v2xcloud.runtime.tiles import Tiling, tile_of
from v2xcloud.sim.runner import model_encoder
from v2xcloud.twin.testing import state_at

ORIGIN = (28.2, 112.9)
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


def _backlog(vehicles: int, seconds: float) -> list[list[tuple[str, str, bytes]]]:
    """Per tick: (tile, device, UPER) of every vehicle's BSM."""
    frame, x, y, v = _road(vehicles)
    encode = model_encoder("csae2020")
    ticks = []
    for k in range(int(seconds * 10)):
        t_ms = T0_MS + k * 100
        out = []
        for i in range(vehicles):
            st = state_at(
                f"{i + 1:016x}",
                x_m=float(x[i] + v[i] * k * 0.1),
                y_m=float(y[i]),
                t_ms=t_ms,
                speed_mps=float(abs(v[i])),
                heading_deg=90.0 if v[i] > 0 else 270.0,
                frame=frame,
            )
            raw = encode(Bsm(msg_count=k % 128, sec_mark_ms=t_ms % 60_000, participant=st))
            out.append((tile_of(st.lat_deg, st.lon_deg), st.id, raw))
        ticks.append(out)
    return ticks


def _headers(device: str, t_ms: int, raw: bytes) -> dict[str, str]:
    return {
        backbone.HEADER_MSG_ID: backbone.frame_msg_id(device, t_ms, raw),
        backbone.HEADER_DEVICE: device,
        backbone.HEADER_KIND: "obu",
        backbone.HEADER_RECEIVED_MS: str(t_ms),
        backbone.HEADER_MESSAGE_SET: "csae2020",
        backbone.HEADER_FORMAT: "uper",
    }


async def _publish_tick(nc: Any, frames: list[tuple[str, str, bytes]], t_ms: int) -> None:
    for tile, device, raw in frames:
        await nc.publish(
            backbone.frame_subject("default", tile, "bsm"), raw, headers=_headers(device, t_ms, raw)
        )
    await nc.publish(tick_subject("default"), b"", headers={HEADER_TICK_MS: str(t_ms)})


async def _register(js: Any, tiles: list[str], n: int) -> None:
    """Once ``n`` workers joined, register the tiles (so the shares are settled at once)."""
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
    kv = await js.key_value(TILES_BUCKET)
    for tile in tiles:
        with contextlib.suppress(Exception):  # already registered
            await kv.create(tile, b"")


def _workers(
    urls: list[str], n: int, logs: str, *, from_start: bool = False
) -> list[WorkerProcess]:
    return [
        WorkerProcess(
            urls=urls,
            worker_id=f"w{i}",
            origin=ORIGIN,
            clock="stream",
            log_path=f"{logs}/w{i}.log",
            extra=("--from-start",) if from_start else (),
        ).start()
        for i in range(n)
    ]


async def _throughput(n: int, ticks: list[list[tuple[str, str, bytes]]]) -> dict[str, Any]:
    logs = tempfile.mkdtemp(prefix="v2x-bench-cluster-")
    tiles = sorted({t for tick in ticks for t, _, _ in tick})
    with NatsCluster(1) as cluster:
        nc = await connect(cluster.urls, name="bench")
        js = nc.jetstream()
        await ensure_streams(js, backbone.streams(servers=1))
        published = time.perf_counter()
        for k, frames in enumerate(ticks):
            await _publish_tick(nc, frames, T0_MS + k * 100)
        await nc.flush()
        info = await js.stream_info(backbone.FRAMES)
        publish_s = time.perf_counter() - published
        stored = info.state.messages
        answers: dict[int, dict[str, float]] = {}
        counts: dict[str, int] = {}

        async def on_ticked(msg: Any) -> None:
            body = json.loads(msg.data)
            answers.setdefault(int(body["tick_ms"]), {})[body["worker"]] = time.perf_counter()
            counts[body["worker"]] = counts.get(body["worker"], 0) + int(body["count"])

        await nc.subscribe(ticked_subject("default"), cb=on_ticked)
        procs = _workers(cluster.urls, n, logs, from_start=True)
        await _register(js, tiles, n)
        last = T0_MS + (len(ticks) - 1) * 100
        try:
            deadline = time.perf_counter() + 600
            while len(answers.get(last, {})) < n and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
        finally:
            for p in procs:
                p.stop()
            await nc.close()
    first_tick = min(answers)
    started = min(answers[first_tick].values())
    ended = max(answers[last].values())
    frames = sum(len(t) for t in ticks[(first_tick - T0_MS) // 100 + 1 :])
    owners = assign(tiles, [f"w{i}" for i in range(n)])
    tiling = Tiling()
    read = sum(
        len([f for tick in ticks for f in tick if f[0] in mine])
        for mine in (
            {t for t in tiles if owners[t] == w}
            | set(tiling.halo_tiles({t for t in tiles if owners[t] == w}))
            for w in sorted(set(owners.values()))
        )
    )
    total = sum(len(t) for t in ticks)
    return {
        "workers": n,
        "frames_per_s": frames / (ended - started),
        "wall_s": ended - started,
        "duplication": read / total,
        "advisories": sum(counts.values()),
        "complete": len(answers.get(last, {})) == n,
        "server_msgs_per_s": stored / publish_s,
    }


async def _latency(n: int, ticks: list[list[tuple[str, str, bytes]]]) -> dict[str, Any]:
    logs = tempfile.mkdtemp(prefix="v2x-bench-cluster-")
    tiles = sorted({t for tick in ticks for t, _, _ in tick})
    with NatsCluster(1) as cluster:
        nc = await connect(cluster.urls, name="bench")
        js = nc.jetstream()
        await ensure_streams(js, backbone.streams(servers=1))
        answers: dict[int, dict[str, float]] = {}

        async def on_ticked(msg: Any) -> None:
            body = json.loads(msg.data)
            answers.setdefault(int(body["tick_ms"]), {})[body["worker"]] = time.perf_counter()

        await nc.subscribe(ticked_subject("default"), cb=on_ticked)
        procs = _workers(cluster.urls, n, logs)
        try:
            await _register(js, tiles, n)
            await asyncio.sleep(2.0)  # tiles claimed, consumers in place
            sent: dict[int, float] = {}
            start = time.perf_counter()
            for k, frames in enumerate(ticks):
                t_ms = T0_MS + k * 100
                sent[t_ms] = time.perf_counter()
                await _publish_tick(nc, frames, t_ms)
                await nc.flush()
                await asyncio.sleep(max(0.0, start + (k + 1) * 0.1 - time.perf_counter()))
            await asyncio.sleep(2.0)
        finally:
            for p in procs:
                p.stop()
            await nc.close()
    lat = sorted(
        (max(a.values()) - sent[t]) * 1000.0
        for t, a in answers.items()
        if len(a) == n and t in sent
    )
    if not lat:
        return {"workers": n, "ticks": 0}
    return {
        "workers": n,
        "ticks": len(lat),
        "of": len(ticks),
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def _capacity(vehicles: int, per_worker_fps: float, adv_per_frame: float) -> dict[str, Any]:
    """Workers for ``vehicles`` at 10 Hz at 70 % load, checked on synthetic city positions."""
    tiling = Tiling()
    rng = np.random.default_rng(vehicles)
    side_m = 6_000.0 if vehicles <= 10_000 else 20_000.0  # a district / a city
    streets = np.arange(0.0, side_m, 300.0)  # a road grid every 300 m
    on_x = rng.random(vehicles) < 0.5
    along = rng.uniform(0, side_m, vehicles)
    street = rng.choice(streets, vehicles)
    x = np.where(on_x, along, street)
    y = np.where(on_x, street, along)
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    lat, lon = frame.to_wgs84(x, y)
    tx, ty = tiling.tiles_of(lat, lon)
    per_tile: dict[str, int] = {}
    for a, b in zip(tx.tolist(), ty.tolist(), strict=True):
        name = tiling.name(a, b)
        per_tile[name] = per_tile.get(name, 0) + 1
    frames_per_s = vehicles * 10.0
    workers = max(1, math.ceil(frames_per_s / (0.7 * per_worker_fps)))
    while True:
        owners = assign(per_tile, [f"w{i:04d}" for i in range(workers)])
        mine: dict[str, set[str]] = {}
        for t, w in owners.items():
            mine.setdefault(w, set()).add(t)
        loads = [
            10.0 * sum(per_tile.get(t, 0) for t in own | set(tiling.halo_tiles(own)))
            for own in mine.values()
        ]
        if max(loads) <= 0.7 * per_worker_fps or workers >= len(per_tile):
            break
        workers += max(1, workers // 10)
    counts = sorted(per_tile.values())
    kv_ops = workers / 0.2 + frames_per_s * adv_per_frame * 2  # heartbeats + episode create/get
    return {
        "vehicles": vehicles,
        "tiles": len(per_tile),
        "per_tile_p50": counts[len(counts) // 2],
        "per_tile_max": counts[-1],
        "workers": workers,
        "duplication": sum(loads) / frames_per_s,
        "max_worker_load": max(loads) / per_worker_fps,
        "kv_ops_per_s": kv_ops,
        "frames_per_s": frames_per_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="backlog length (simulated)")
    parser.add_argument("--paced-s", type=float, default=5.0, help="latency run length")
    parser.add_argument("--paced-vehicles", type=int, default=500)
    args = parser.parse_args()
    print(f"encoding {args.vehicles} vehicles x {args.seconds} s ...", flush=True)
    ticks = _backlog(args.vehicles, args.seconds)
    tiles = sorted({t for tick in ticks for t, _, _ in tick})
    print(f"{sum(len(t) for t in ticks)} frames over {len(tiles)} tiles")
    results = [asyncio.run(_throughput(n, ticks)) for n in (1, 2)]
    for r in results:
        print(
            f"throughput {r['workers']} worker(s): {r['frames_per_s']:,.0f} frames/s "
            f"({r['frames_per_s'] / r['workers']:,.0f} per worker) in {r['wall_s']:.1f} s; "
            f"halo duplication {r['duplication']:.3f}; advisories {r['advisories']}; "
            f"complete={r['complete']}"
        )
    ratio = results[1]["frames_per_s"] / results[0]["frames_per_s"]
    print(
        f"2 workers / 1 worker, same run: {ratio:.2f}x (ideal {2 / results[1]['duplication']:.2f}x "
        "after the halo duplication, on 2 cores shared with the server and this publisher)"
    )
    paced = _backlog(args.paced_vehicles, args.paced_s)
    for n in (1, 2):
        r = asyncio.run(_latency(n, paced))
        print(
            f"latency {n} worker(s), {args.paced_vehicles} vehicles at 10 Hz paced: frame -> "
            f"advisory p50 {r.get('p50_ms', float('nan')):.1f} ms, p99 {r.get('p99_ms', float('nan')):.1f} ms "
            f"over {r.get('ticks', 0)}/{r.get('of', 0)} ticks answered by all"
        )
    per_worker = results[0]["frames_per_s"]
    adv_per_frame = results[0]["advisories"] / max(1, sum(len(t) for t in ticks))
    server_rate = min(r["server_msgs_per_s"] for r in results)
    print(
        f"\ncapacity at 70 % of the measured 1-worker rate ({per_worker:,.0f} frames/s) and of "
        f"the measured server intake ({server_rate:,.0f} msgs/s stored by one server, R1, from "
        "one Python publisher: a floor, not the server's limit); servers = 3 per such share:"
    )
    print("vehicles  tiles  veh/tile p50/max  workers  halo dup  max load  KV ops/s  servers")
    for v in (10_000, 100_000):
        c = _capacity(v, per_worker, adv_per_frame)
        load = c["frames_per_s"] * (1.0 + c["duplication"])  # into the stream + out to workers
        servers = 3 * math.ceil(load / (0.7 * server_rate))
        print(
            f"{v:>8,}  {c['tiles']:>5}  {c['per_tile_p50']:>7}/{c['per_tile_max']:<8}  "
            f"{c['workers']:>7}  {c['duplication']:>8.3f}  {c['max_worker_load']:>8.2f}  "
            f"{c['kv_ops_per_s']:>8,.0f}  {servers:>7}"
        )


if __name__ == "__main__":
    main()
