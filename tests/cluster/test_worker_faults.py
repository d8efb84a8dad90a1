"""Worker faults on a 3-server R3 JetStream cluster on loopback (real nats-server and
``v2xcloud worker`` processes, wall-clocked as deployed).

Three tiles in a row, each with a standing hazard: a broken-down car with its hazard lights on
and a car approaching it slowly in its lane (AVW warns it; a new car every ``LAP_S``). Three
workers take one tile each. Then:

1. One worker is SIGKILLed (by pid): its tile is owned by a live worker within 2 s (plus a
   margin for this loaded 2-core machine, ``MARGIN_S``), measured from the kill to the tile's
   new entry in the tiles bucket; the missed window (from the victim's last advisory on the
   tile to the new owner's first) is printed.
2. It is restarted under the same id: it rejoins, gets its tile back (the assignment is the
   same over the same members) and issues for it again.

Throughout, every warning episode (app, ego, other, level) is delivered once
(``dlv.*.warning``): the new owners continue the episodes the episodes bucket holds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import nats
import pytest

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats import frame_headers, kv_keys
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import MEMBERS_BUCKET, TILES_BUCKET, WorkerProcess
from v2xcloud.geo import LocalFrame
from v2xcloud.model import Advisory
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import Tiling, cell_of
from v2xcloud.twin.testing import bsm_at

pytestmark = pytest.mark.timeout(240)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
#: the issue's bound on a dead worker's tiles moving
MOVE_BOUND_S = 2.0
#: allowance for this machine: 2 cores shared by 3 servers, 3 workers, the feeder and
#: whatever else runs (the nominal path is lease 1.0 s + one 0.2 s balance round)
MARGIN_S = 1.0
#: each tile's approaching car is replaced by a new one (a new id) every LAP_S seconds, so a
#: hazard is in force however long the machine's load stretches the test
LAP_S = 20.0
T = TypeVar("T")
_ADV = msgspec.json.Decoder(Advisory)


class _Backbone:
    """The test's own NATS client on a loop thread: feeds the frames at 10 Hz and records
    every advisory (``adv.>``) and delivered warning (``dlv.>``) with its arrival time."""

    def __init__(self, urls: list[str], tiles: list[str]) -> None:
        self.urls = urls
        self.tiles = tiles
        self.frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
        self.advisories: list[tuple[float, str, str, Advisory]] = []  # (t, worker, tile, adv)
        self.warnings: list[Advisory] = []
        self.fed = 0
        self._feeding = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._connect())

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _connect(self) -> None:
        self.nc = await nats.connect(servers=self.urls, connect_timeout=2.0)
        self.js = self.nc.jetstream(timeout=5.0)
        await self.nc.subscribe("adv.default.>", cb=self._on_advisory)
        await self.nc.subscribe("dlv.default.*.warning", cb=self._on_warning)

    async def _on_advisory(self, msg: Any) -> None:
        tile = msg.subject.split(".")[2]
        worker = (msg.headers or {}).get("V2X-Worker", "")
        self.advisories.append((time.monotonic(), worker, tile, _ADV.decode(msg.data)))

    async def _on_warning(self, msg: Any) -> None:
        self.warnings.append(_ADV.decode(msg.data))

    def start_feed(self) -> None:
        self._feeding.set()
        self._feed_task = asyncio.run_coroutine_threadsafe(self._feed(), self._loop)

    def stop_feed(self) -> None:
        self._feeding.clear()
        self._feed_task.result(10.0)

    async def _feed(self) -> None:
        tiling = Tiling()
        centres = []
        for tile in self.tiles:
            x, y = tiling.xy(tile)
            n = 1 << tiling.zoom
            lon = (x + 0.5) / n * 360.0 - 180.0
            lat = _lat_of_row(y + 0.5, n)
            cx, cy = self.frame.to_local(lat, lon)
            centres.append((float(cx), float(cy)))
        t0 = time.time()
        period = 0.1
        k = 0
        while self._feeding.is_set():
            now_ms = int(time.time() * 1000)
            elapsed = time.time() - t0
            for i, (cx, cy) in enumerate(centres):
                broken = bsm_at(
                    f"{0xB000 + i:016x}", x_m=cx, y_m=cy + 70.0, t_ms=now_ms, frame=self.frame,
                    speed_mps=0.0, heading_deg=0.0,
                    exterior_lights=frozenset({"hazardSignalOn"}),
                )  # fmt: skip
                lap, into = divmod(elapsed, LAP_S)  # a new approaching car every LAP_S
                ego = bsm_at(
                    _ego_id(i, int(lap)), x_m=cx, y_m=cy - 70.0 + 3.5 * into, t_ms=now_ms,
                    frame=self.frame, speed_mps=3.5, heading_deg=0.0,
                )  # fmt: skip
                for bsm in (broken, ego):
                    raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
                    device = bsm.participant.id
                    headers = frame_headers(
                        device, now_ms, raw, kind="obu", message_set="csae2020", fmt="uper"
                    )
                    where = (bsm.participant.lat_deg, bsm.participant.lon_deg)
                    subject = backbone.frame_subject("default", cell_of(*where), "bsm")
                    try:
                        await self.js.publish(subject, raw, headers=headers)
                        self.fed += 1
                    except Exception as exc:  # a forming cluster: the next tick sends again
                        print(f"feed: {type(exc).__name__}: {exc}")
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * period - time.time()))

    async def _kv_values(self, bucket: str) -> dict[str, bytes]:
        kv = await self.js.key_value(bucket)
        out: dict[str, bytes] = {}
        for key in await kv_keys(kv):
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                continue
            out[key] = entry.value or b""
        return out

    def owners(self) -> dict[str, str]:
        """tile -> owner recorded in the tiles bucket."""
        try:
            values = self.call(self._kv_values(TILES_BUCKET), 5.0)
        except Exception:  # the bucket not created yet
            return {}
        return {k: v.decode() for k, v in values.items()}

    def serving(self) -> dict[str, str]:
        """tile -> the worker whose heartbeat says it reads it (its consumer in place)."""
        try:
            values = self.call(self._kv_values(MEMBERS_BUCKET), 5.0)
        except Exception:  # the bucket not created yet
            return {}
        out = {}
        for worker, body in values.items():
            for tile in json.loads(body or b"{}").get("tiles", []):
                out[tile] = worker
        return out

    def issuers_since(self, t: float, tile: str) -> set[str]:
        return {w for (at, w, tl, _) in list(self.advisories) if at >= t and tl == tile}

    def close(self) -> None:
        try:
            self.call(self.nc.close(), 10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)


def _ego_id(tile_index: int, lap: int) -> str:
    return f"{0xE000 + 0x100 * tile_index + lap:016x}"


def _lat_of_row(y: float, n: int) -> float:
    import math

    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / n))))


def _until(predicate: Callable[[], Any], timeout_s: float, step_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(step_s)
    return None


@pytest.fixture()
def cluster() -> Iterator[NatsCluster]:
    with NatsCluster(3) as c:
        yield c


def test_a_killed_worker_loses_its_tile_within_2_s_and_a_restarted_one_rejoins(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    tiling = Tiling()
    x, y = tiling.xy(tiling.tile_of(*ORIGIN))
    tiles = [tiling.name(x + i, y) for i in range(3)]
    logs = str(tmp_path)

    def worker(i: int) -> WorkerProcess:
        return WorkerProcess(
            urls=cluster.urls,
            worker_id=f"w{i}",
            origin=ORIGIN,
            clock="wall",
            servers=3,
            log_path=f"{logs}/w{i}.log",
        )

    bb = _Backbone(cluster.urls, tiles)
    procs = [worker(i).start() for i in range(3)]
    try:
        bb.start_feed()
        # every tile served by its own worker, and each worker issuing for its tile
        spread = _until(
            lambda: (s := bb.serving()) and len({s.get(t) for t in tiles} - {None}) == 3 and s,
            60.0,
            0.2,
        )
        assert spread, f"three workers did not take one tile each: {bb.serving()} ({logs})"
        steady = time.monotonic()
        issuing = lambda: all(spread[t] in bb.issuers_since(steady, t) for t in tiles)  # noqa: E731
        assert _until(issuing, 20.0, 0.1), (
            f"not every tile advised: {Counter(a[2] for a in bb.advisories)} ({logs})"
        )
        victim_tile = tiles[1]
        victim_id = spread[victim_tile]
        victim = next(p for p in procs if p.worker_id == victim_id)

        # 1. SIGKILL (by pid): the tile moves within 2 s (+ margin)
        assert victim.pid is not None
        killed_at = time.monotonic()
        victim.kill()
        moved = _until(lambda: bb.owners().get(victim_tile) not in (None, "", victim_id), 15.0)
        moved_s = time.monotonic() - killed_at
        new_owner = bb.owners().get(victim_tile)
        assert moved, f"tile {victim_tile} still owned by the killed {victim_id} ({logs})"
        assert _until(lambda: bb.issuers_since(killed_at, victim_tile) - {victim_id}, 15.0), (
            f"nobody issued for {victim_tile} after the kill ({logs})"
        )
        before = [a for a in bb.advisories if a[2] == victim_tile and a[1] == victim_id]
        after = [
            a
            for a in bb.advisories
            if a[2] == victim_tile and a[1] != victim_id and a[0] > killed_at
        ]
        assert before and after, (
            f"on {victim_tile}: {len(before)} advisories before, {len(after)} after"
        )
        missed_s = after[0][0] - before[-1][0]
        print(
            f"\nworker fault: {victim_id} SIGKILLed; tile {victim_tile} owned by {new_owner} "
            f"{moved_s:.2f} s after the kill (bound {MOVE_BOUND_S} s + {MARGIN_S} s margin); "
            f"missed window {missed_s:.2f} s (victim's last advisory on the tile -> the new "
            f"owner's first; the kill -> the new owner's first {after[0][0] - killed_at:.2f} s)"
        )
        assert moved_s <= MOVE_BOUND_S + MARGIN_S

        # 2. restarted under the same id: it gets its tile back and issues for it again
        restarted_at = time.monotonic()
        again = worker(int(victim_id[1:])).start()
        procs.append(again)
        back = _until(lambda: bb.serving().get(victim_tile) == victim_id, 30.0, 0.1)
        rejoin_s = time.monotonic() - restarted_at
        assert back, f"{victim_id} did not get {victim_tile} back: {bb.serving()} ({logs})"
        assert _until(lambda: victim_id in bb.issuers_since(restarted_at, victim_tile), 15.0)
        print(
            f"worker restart: {victim_id} serves {victim_tile} again {rejoin_s:.2f} s after start"
        )
        time.sleep(1.0)
        bb.stop_feed()
    finally:
        for proc in procs:
            proc.stop()
        bb.close()
    # every warning episode was delivered once, through the kill and the restart
    per_episode = Counter((a.app, a.ego_id, a.other_id, int(a.level)) for a in bb.warnings)
    assert per_episode, "no warning delivered"
    warned_tiles = {(int(a.ego_id, 16) - 0xE000) // 0x100 for a in bb.warnings}
    assert warned_tiles == {0, 1, 2}, per_episode
    twice = {k: n for k, n in per_episode.items() if n > 1}
    assert not twice, f"warned more than once: {twice} ({logs})"
