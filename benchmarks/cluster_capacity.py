"""Capacity of the tile-worker cluster for 10,000 and 100,000 connected vehicles at 10 Hz:
workers and NATS servers needed, checked by running the real tile assignment and halo logic
at that size on a synthetic city.

Usage::

    .venv/bin/python benchmarks/cluster_capacity.py --worker-rate 4850 --worker-rate 15000
    .venv/bin/python benchmarks/cluster_capacity.py --results cluster.json   # {"frames_per_cpu_s": N}
    .venv/bin/python benchmarks/cluster_capacity.py --worker-rate 15000 --server-frames 0

**The per-worker rate is an input**, measured elsewhere: frames one ``v2xcloud worker``
process reads per CPU second (decode, scene, every app, publish), as
``benchmarks/cluster.py`` prints it for one worker. Give one or more with ``--worker-rate``
or a JSON results file with ``frames_per_cpu_s`` (``--results``). A worker is one core at
``--headroom`` (default 70 %) of that rate: its budget of frames read per second.

**The city** (``--seed``): ~250 connected vehicles per km² on average over a square (10,000:
~6.3 km a side, 100,000: 20 km), along a road grid, not uniform: arterials every 1 km carry
60 % of the vehicles, local streets every 250 m the rest; density falls off from the centre
(exponential, scale a third of the side: the core is ~4x the edge); 30 % of the arterial
vehicles queue (0-2 m/s) within 80 m upstream of a signalised crossing, the rest drive
8-16 m/s (locals 5-12); 0.1 % are emergency vehicles, 0.2 % signal to pass (DNPW's
passers). Signalised intersections (arterial x arterial, and arterial x local every 500 m)
each send SPAT and RSM at 10 Hz and MAP at 1 Hz from their RSU (filed by tile).

**The logic is the platform's own**: each vehicle's BSM is filed as a gateway files it
(``runtime.tiles.files_far``: its zoom-18 cell, or its zoom-17 cell when slow, speedless or an
emergency vehicle), and each worker reads what ``gateways.tile_worker.reading_keys`` says it
reads (own units whole, the halo by reach, roadside frames by tile, and the corridors ahead of
the passers it reads, ``runtime.tiles.passing_keys``). The tiles at ownership zoom 14, 15, 16
are assigned to ``W`` workers three ways, each a row:

- ``count``: ``runtime.ownership.assign``, contiguous Z-order runs of equal tile counts (the
  stream-clocked bench's assignment, and every worker's before the loads were measured);
- ``load``: ``runtime.ownership.assign_by_load`` on the loads the workers would publish
  (each unit's own frames/s, ``ownership.tile_loads``: they do not depend on the assignment,
  so one cut from the tile-count owners, its hysteresis included);
- ``split>N``: as ``load``, over ``ownership.split_hot``'s units: a unit that alone would
  have a worker read more than N frames/s (its own and its halo's) is owned as its four
  children, down to zoom 17 (the worker's rule, ``v2xcloud worker --split-fps``; default
  here: the budget, as the worker's default ``gateways.tile_worker.SPLIT_FPS`` is for
  15,000 frames per CPU second).

Per zoom and way: the fewest workers whose busiest reads within its budget (bisection on
``W``; one unit per worker at most: past that, more workers do not help), that busiest
worker's frames/s (own + halo), the halo duplication (frames read / frames filed), and for
the ``count`` row the duplication with one 480 m halo for everything (the reading before the
halo by reach: every own report read within DNPW's 400 m + 80 m).

**Servers** (``--server-frames``, 0 to skip): a 3-server R3 JetStream cluster on loopback
stores ``--server-frames`` BSM-sized frames with the contract's headers, then one pull
consumer reads them all back; the servers' CPU seconds (``/proc``) per message stored and
per message delivered are measured (the Python publisher cannot saturate a server: its wall
rate, printed, is a floor; the CPU cost per message is what scales). Servers needed = (frames
in x cost per stored frame + frames read x cost per delivered frame) / one core per server
at the same headroom, rounded up to a multiple of 3 (R3). Assumption, stated and not built:
the frame stream is split into several streams (by quadkey prefix) so that the load spreads
over the servers; one stream is led by one server.

The machine (2 cores) is shared: the CPU costs are noisy; the assignment and halo figures
are exact for the synthetic city.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _frames_read import read_frames
from v2xcloud.gateways.nats import connect, ensure_streams, frame_headers
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.gateways.tile_worker import reading_keys
from v2xcloud.geo import LocalFrame
from v2xcloud.processes import cpu_seconds
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import assign, assign_by_load, split_hot, tile_loads
from v2xcloud.runtime.tiles import (
    CELL_ZOOM,
    FAR_CELL_ZOOM,
    TILE_ZOOM,
    Reaches,
    Tiling,
    passing_keys,
    reaches,
)

ORIGIN = (28.2, 112.9)
DENSITY_PER_KM2 = 250.0
BSM_HZ = 10.0
ROADSIDE_HZ = 10.0 + 10.0 + 1.0  # SPAT + RSM + MAP per signalised intersection


@dataclass
class City:
    """Synthetic load: vehicles (position, speed, emergency, passer, heading) and RSUs."""

    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray
    heading: np.ndarray
    emergency: np.ndarray
    passer: np.ndarray
    rsu_lat: np.ndarray
    rsu_lon: np.ndarray
    side_m: float


def city(vehicles: int, seed: int) -> City:
    """The synthetic city of the module docstring."""
    rng = np.random.default_rng(seed)
    side = math.sqrt(vehicles / DENSITY_PER_KM2) * 1000.0
    arterials = np.arange(0.0, side + 1.0, 1000.0)
    locals_ = np.array([v for v in np.arange(0.0, side + 1.0, 250.0) if v % 1000.0])
    centre = side / 2.0
    scale = side / 3.0
    x = np.empty(vehicles)
    y = np.empty(vehicles)
    speed = np.empty(vehicles)
    heading = np.empty(vehicles)
    filled = 0
    while filled < vehicles:  # rejection sampling of the density gradient
        batch = 4 * (vehicles - filled) + 100
        arterial = rng.random(batch) < 0.6
        line = np.where(arterial, rng.choice(arterials, batch), rng.choice(locals_, batch))
        along = rng.uniform(0.0, side, batch)
        east_west = rng.random(batch) < 0.5  # the road runs east-west (line is its y)
        bx = np.where(east_west, along, line)
        by = np.where(east_west, line, along)
        forward = rng.random(batch) < 0.5
        v = np.where(arterial, rng.uniform(8.0, 16.0, batch), rng.uniform(5.0, 12.0, batch))
        # queues: arterial vehicles within 80 m upstream of a signalised crossing, stopped
        queued = arterial & (rng.random(batch) < 0.3)
        crossing = np.round(along / 500.0) * 500.0  # every 500 m a signal on an arterial
        offset = rng.uniform(3.0, 80.0, batch) * np.where(forward, -1.0, 1.0)
        pos = np.where(queued, np.clip(crossing + offset, 0.0, side), along)
        bx = np.where(queued & east_west, pos, bx)
        by = np.where(queued & ~east_west, pos, by)
        v = np.where(queued, rng.uniform(0.0, 2.0, batch), v)
        hdg = np.where(east_west, np.where(forward, 90.0, 270.0), np.where(forward, 0.0, 180.0))
        r = np.hypot(bx - centre, by - centre)
        keep = rng.random(batch) < np.exp(-r / scale)
        take = min(int(keep.sum()), vehicles - filled)
        idx = np.flatnonzero(keep)[:take]
        x[filled : filled + take] = bx[idx] - centre
        y[filled : filled + take] = by[idx] - centre
        speed[filled : filled + take] = v[idx]
        heading[filled : filled + take] = hdg[idx]
        filled += take
    emergency = rng.random(vehicles) < 0.001
    passer = (rng.random(vehicles) < 0.002) & (speed >= 8.0)
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    lat, lon = frame.to_wgs84(x, y)
    # signalised intersections: arterial x arterial, and arterial x local every 500 m
    nodes = {(a, b) for a in arterials for b in arterials}
    every500 = np.arange(0.0, side + 1.0, 500.0)
    nodes |= {(a, b) for a in arterials for b in every500}
    nodes |= {(b, a) for a in arterials for b in every500}
    nx = np.array([n[0] for n in nodes]) - centre
    ny = np.array([n[1] for n in nodes]) - centre
    rlat, rlon = frame.to_wgs84(nx, ny)
    return City(lat, lon, speed, heading, emergency, passer, rlat, rlon, side)


def _quadkeys(x: np.ndarray, y: np.ndarray, zoom: int) -> list[str]:
    """Quadkeys of many tile (x, y) at ``zoom`` (vectorised digit by digit)."""
    digits = np.zeros((x.size, zoom), dtype=np.int64)
    for level in range(zoom):
        bit = zoom - 1 - level
        digits[:, level] = ((x >> bit) & 1) + 2 * ((y >> bit) & 1)
    return ["".join(map(str, row)) for row in digits]


@dataclass
class Load:
    """Frames per second filed under each reading key's scope."""

    near: dict[str, float]  # zoom-18 cell -> BSMs filed there
    far: dict[str, float]  # zoom-17 cell -> BSMs filed far there
    bsm_tile: dict[str, float]  # zoom-16 tile -> every BSM in it
    road_tile: dict[str, float]  # zoom-16 tile -> roadside frames filed there
    passers: dict[str, list[tuple[float, float, float]]]  # zoom-18 place -> passers there
    total: float


def load_of(c: City, reach: Reaches, *, one_radius: bool = False) -> Load:
    """File every vehicle's BSM and every RSU's frames as the gateways do (``one_radius``:
    every BSM in its zoom-18 cell, as before the halo by reach)."""
    far_mask = c.emergency | (c.speed < reach.slow_filing_mps)
    if one_radius:
        far_mask = np.zeros_like(far_mask)
    grid18 = Tiling(zoom=CELL_ZOOM, halo_m=0)
    grid17 = Tiling(zoom=FAR_CELL_ZOOM, halo_m=0)
    x18, y18 = grid18.tiles_of(c.lat, c.lon)
    x17, y17 = grid17.tiles_of(c.lat, c.lon)
    near: dict[str, float] = {}
    far: dict[str, float] = {}
    bsm_tile: dict[str, float] = {}
    cells18 = _quadkeys(x18, y18, CELL_ZOOM)
    cells17 = _quadkeys(x17, y17, FAR_CELL_ZOOM)
    passers: dict[str, list[tuple[float, float, float]]] = {}
    for i, (c18, c17) in enumerate(zip(cells18, cells17, strict=True)):
        if far_mask[i]:
            far[c17] = far.get(c17, 0.0) + BSM_HZ
        else:
            near[c18] = near.get(c18, 0.0) + BSM_HZ
        tile = c18[:TILE_ZOOM]
        bsm_tile[tile] = bsm_tile.get(tile, 0.0) + BSM_HZ
        if c.passer[i]:
            place = c17 if far_mask[i] else c18
            passers.setdefault(place, []).append(
                (float(c.lat[i]), float(c.lon[i]), float(c.heading[i]))
            )
    grid16 = Tiling(zoom=TILE_ZOOM, halo_m=0)
    rx, ry = grid16.tiles_of(c.rsu_lat, c.rsu_lon)
    road_tile: dict[str, float] = {}
    for tile in _quadkeys(rx, ry, TILE_ZOOM):
        road_tile[tile] = road_tile.get(tile, 0.0) + ROADSIDE_HZ
    total = BSM_HZ * c.lat.size + ROADSIDE_HZ * c.rsu_lat.size
    return Load(near, far, bsm_tile, road_tile, passers, total)


def _read(keys: frozenset[str], load: Load) -> float:
    """Frames per second a worker reading ``keys`` gets."""
    out = 0.0
    for k in keys:
        if k.endswith("_"):
            out += load.road_tile.get(k[:-1], 0.0)
        elif len(k) == TILE_ZOOM:
            out += load.bsm_tile.get(k, 0.0) + load.road_tile.get(k, 0.0)
        elif len(k) == CELL_ZOOM:
            out += load.near.get(k, 0.0)
        elif len(k) == FAR_CELL_ZOOM:
            out += load.far.get(k, 0.0)
    return out


def worker_reads(tiling: Tiling, reach: Reaches, own: list[str], load: Load) -> float:
    """Frames per second one worker owning ``own`` reads: its reading keys, then the
    corridors of the passers those keys give it."""
    keys = reading_keys(tiling, reach, own)
    corridors: set[str] = set()
    for place, found in load.passers.items():
        tile = place[:TILE_ZOOM]
        if tile in keys or place in keys:
            for lat, lon, heading in found:
                corridors |= passing_keys(lat, lon, heading, reach.passing_m)
    if corridors:
        keys = reading_keys(tiling, reach, own, corridors)
    return _read(keys, load)


def _tiles(load: Load, zoom: int) -> list[str]:
    """The ownership tiles holding any frame."""
    return sorted({t[:zoom] for t in load.bsm_tile} | {t[:zoom] for t in load.road_tile})


def unit_frames(load: Load) -> dict[str, float]:
    """Frames/s filed under each quadkey prefix (zoom 1..18): what a unit of that quadkey
    owns; a tile's roadside frames count for its tile and its coarser prefixes, and for its
    first descendant at zoom 17 (``ownership.unit_of``: they go there when it is split)."""
    out: dict[str, float] = {}

    def add(place: str, fps: float, upto: int) -> None:
        for end in range(1, min(len(place), upto) + 1):
            out[place[:end]] = out.get(place[:end], 0.0) + fps

    for cell, fps in load.near.items():
        add(cell, fps, CELL_ZOOM)
    for cell, fps in load.far.items():
        add(cell, fps, FAR_CELL_ZOOM)
    for tile, fps in load.road_tile.items():
        add(tile, fps, TILE_ZOOM)
        out[tile + "0"] = out.get(tile + "0", 0.0) + fps
    return out


class Sizing:
    """The assignment of ``units`` (ownership zoom ``zoom``) to workers and what each reads,
    three ways: ``count`` (``ownership.assign``: equal tile counts, the old way), ``load``
    (``ownership.assign_by_load`` on the loads the workers would measure and publish: each
    unit's own frames, ``ownership.tile_loads``, cut once: they do not move with the cut),
    with ``split``: the units are ``ownership.split_hot``'s, a unit split while a worker
    owning it alone would read more than ``split_fps`` frames/s (own + halo: the worker's
    rule, ``WorkerConfig.split_fps``)."""

    def __init__(self, load: Load, zoom: int, reach: Reaches) -> None:
        self.load, self.zoom, self.reach = load, zoom, reach
        self.tiling = Tiling(zoom=zoom, halo_m=reach.near_m)
        self.frames = unit_frames(load)
        self.memo: dict[tuple[str, ...], float] = {}

    def reads(self, own: list[str]) -> float:
        key = tuple(sorted(own))
        if key not in self.memo:
            self.memo[key] = worker_reads(self.tiling, self.reach, list(key), self.load)
        return self.memo[key]

    def units(self, split_fps: float | None) -> list[str]:
        tiles = _tiles(self.load, self.zoom)
        if split_fps is None:
            return tiles
        return split_hot(tiles, lambda u: self.reads([u]), split_fps)

    def per_worker(self, owners: dict[str, str]) -> dict[str, list[str]]:
        runs: dict[str, list[str]] = {}
        for unit, w in owners.items():
            runs.setdefault(w, []).append(unit)
        return runs

    def assign(self, units: list[str], workers: int, by_load: bool) -> list[float]:
        """Each worker's frames/s read."""
        names = [f"w{i:05d}" for i in range(workers)]
        owners = assign(units, names)
        if by_load:
            loads = tile_loads({u: self.frames.get(u, 0.0) for u in units})
            owners = assign_by_load(units, names, loads, {})
        return [self.reads(own) for own in self.per_worker(owners).values()]


def capacity(
    sizing: Sizing, budget: float, *, by_load: bool, split_fps: float | None
) -> dict[str, Any]:
    """Fewest workers whose busiest reads within ``budget`` frames/s (bisection on the count,
    from the total read by one worker up to one unit each: past that, more workers do not
    help)."""
    units = sizing.units(split_fps)
    load = sizing.load
    low = max(1, math.ceil(load.total / budget))
    high = len(units)
    top = sizing.assign(units, high, by_load)
    feasible = max(top) <= budget
    if feasible:
        while low < high:
            mid = (low + high) // 2
            if max(sizing.assign(units, mid, by_load)) <= budget:
                high = mid
            else:
                low = mid + 1
        top = sizing.assign(units, high, by_load)
    tiles = _tiles(load, sizing.zoom)
    return {
        "zoom": sizing.zoom,
        "tile_m": sizing.tiling.side_m(tiles[len(tiles) // 2]),
        "tiles": len(tiles),
        "units": len(units),
        "split": sum(1 for u in units if len(u) > sizing.zoom),
        "workers": high,
        "feasible": feasible,
        "busiest_fps": max(top),
        "read_fps": sum(top),
        "duplication": sum(top) / load.total,
    }


def one_radius_duplication(c: City, zoom: int, workers: int, reach: Reaches) -> float:
    """The duplication at the same assignment with one halo for every own report, DNPW's
    400 m + 80 m (the reading before the halo by reach)."""
    flat = Reaches(
        near_m=reach.passing_m,
        far_m=reach.passing_m,
        passing_m=reach.passing_m,
        roadside_m=reach.roadside_m,
        slow_filing_mps=0.0,
        passer_mps=None,
    )
    load = load_of(c, reach, one_radius=True)
    tiling = Tiling(zoom=zoom, halo_m=flat.near_m)
    owners = assign(_tiles(load, zoom), [f"w{i:05d}" for i in range(workers)])
    runs: dict[str, list[str]] = {}
    for tile, w in owners.items():
        runs.setdefault(w, []).append(tile)
    read = sum(_read(reading_keys(tiling, flat, own), load) for own in runs.values())
    return read / load.total


# -- the servers ----------------------------------------------------------------------------


async def _server_costs(frames: int) -> dict[str, float]:
    """Servers' CPU seconds per frame stored (R3) and per frame delivered to a consumer (the
    workers' own continuous pull), the servers' idle CPU (Raft heartbeats) taken off."""
    payload = bytes(range(64))  # a BSM's size
    with NatsCluster(3) as cluster:
        pids = [s.pid for s in cluster.servers]
        nc = await connect(cluster.urls, name="capacity-bench")
        js = nc.jetstream()
        await ensure_streams(js, backbone.streams(servers=3))
        await asyncio.sleep(1.0)

        def cpu() -> float:
            return sum(cpu_seconds(p) for p in pids)

        idle0, t_idle = cpu(), time.perf_counter()
        await asyncio.sleep(3.0)
        idle_per_s = (cpu() - idle0) / (time.perf_counter() - t_idle)
        cpu0, started = cpu(), time.perf_counter()
        for i in range(frames):
            subject = backbone.frame_subject("default", f"13212022010212{i % 4096:06d}", "bsm")
            await nc.publish(
                subject,
                payload,
                headers=frame_headers(
                    f"d{i % 5000}",
                    1_800_000_000_000 + i,
                    payload,
                    kind="obu",
                    message_set="csae2020",
                    fmt="uper",
                ),
            )
        await nc.flush()
        deadline = time.perf_counter() + 120
        stored = 0
        while time.perf_counter() < deadline:
            stored = (await js.stream_info(backbone.FRAMES)).state.messages
            if stored >= frames:
                break
            await asyncio.sleep(0.05)
        stored_s = time.perf_counter() - started
        cpu1 = cpu()
        got, read_s = await read_frames(nc, "capacity-read", expect=stored)
        cpu2 = cpu()
        await nc.close()
    return {
        "stored": stored,
        "stored_per_s": stored / stored_s,
        "cpu_per_stored": max(0.0, cpu1 - cpu0 - idle_per_s * stored_s) / max(1, stored),
        "delivered": got,
        "delivered_per_s": got / max(read_s, 1e-9),
        "cpu_per_delivered": max(0.0, cpu2 - cpu1 - idle_per_s * read_s) / max(1, got),
        "idle_per_s": idle_per_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--worker-rate",
        type=float,
        action="append",
        default=[],
        help="a worker's measured frames per CPU second (repeatable)",
    )
    parser.add_argument(
        "--results", help="a JSON file with frames_per_cpu_s (e.g. from benchmarks/cluster.py)"
    )
    parser.add_argument("--headroom", type=float, default=0.7, help="share of a core in use")
    parser.add_argument("--server-frames", type=int, default=30_000, help="0: skip servers")
    parser.add_argument(
        "--split-fps",
        type=float,
        action="append",
        default=[],
        help="split a unit that alone would have a worker read more than this many frames/s "
        "(repeatable; default: the budget)",
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    rates = list(args.worker_rate)
    if args.results:
        rates.append(float(json.loads(Path(args.results).read_text())["frames_per_cpu_s"]))
    if not rates:
        parser.error("give the measured per-worker rate: --worker-rate N or --results FILE")
    reach = reaches()
    print(
        f"halo by reach: own reports within {reach.near_m:.0f} m (zoom-18 cells), slow/"
        f"speedless/emergency vehicles within {reach.far_m:.0f} m (zoom-17 cells, filed far "
        f"below {reach.slow_filing_mps:.1f} m/s), passers' corridors {reach.passing_m:.0f} m, "
        f"roadside tiles within {reach.roadside_m:.0f} m; a worker = one core at "
        f"{args.headroom:.0%} of its rate"
    )
    servers = None
    if args.server_frames > 0:
        servers = asyncio.run(_server_costs(args.server_frames))
        print(
            f"servers (3 x nats-server R3 on this 2-core machine, same run): {servers['stored']:,} "
            f"frames stored at {servers['stored_per_s']:,.0f}/s from one Python publisher (a "
            f"floor), {servers['cpu_per_stored'] * 1e6:.1f} us server CPU per frame stored "
            f"(all 3 replicas); read back by one continuous pull at "
            f"{servers['delivered_per_s']:,.0f}/s, {servers['cpu_per_delivered'] * 1e6:.1f} us "
            f"server CPU per frame delivered (idle {servers['idle_per_s']:.2f} CPU s/s taken off)"
        )
    for vehicles in (int(v) for v in args.sizes.split(",")):
        c = city(vehicles, args.seed + vehicles)
        load = load_of(c, reach)
        far_share = sum(load.far.values()) / (BSM_HZ * vehicles)
        print(
            f"\n{vehicles:,} vehicles over {c.side_m / 1000:.1f} km square, "
            f"{c.rsu_lat.size:,} signalised intersections: {load.total:,.0f} frames/s "
            f"({BSM_HZ * vehicles:,.0f} BSM + {ROADSIDE_HZ * c.rsu_lat.size:,.0f} roadside); "
            f"{far_share:.0%} of BSMs filed far; {int(c.passer.sum())} passers"
        )
        print(
            "  rate/s  zoom  tile m  tiles  assignment   units (split)  workers  busiest fps  "
            "budget   dup  dup 480m  feasible  servers"
        )
        for rate in rates:
            budget = args.headroom * rate
            for zoom in (14, 15, 16):
                sizing = Sizing(load, zoom, reach)
                ways = [("count", False, None), ("load", True, None)]
                ways += [(f"split>{fps:.0f}", True, fps) for fps in args.split_fps or [budget]]
                for way, by_load, split_fps in ways:
                    started = time.perf_counter()
                    r = capacity(sizing, budget, by_load=by_load, split_fps=split_fps)
                    flat = "-"
                    if way == "count":
                        flat = f"{one_radius_duplication(c, zoom, r['workers'], reach):.2f}"
                    srv = "-"
                    if servers is not None:
                        cpu = (
                            load.total * servers["cpu_per_stored"]
                            + r["read_fps"] * servers["cpu_per_delivered"]
                        )
                        srv = str(max(3, 3 * math.ceil(cpu / args.headroom / 3)))
                    units = f"{r['units']} ({r['split']})"
                    print(
                        f"  {rate:>6,.0f}  {zoom:>4}  {r['tile_m']:>6.0f}  {r['tiles']:>5}  "
                        f"{way:<11}  {units:>13}  {r['workers']:>7}  {r['busiest_fps']:>11,.0f}  "
                        f"{budget:>6,.0f}  {r['duplication']:>4.2f}  {flat:>8}  "
                        f"{r['feasible']!s:>8}  {srv:>7}   ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
