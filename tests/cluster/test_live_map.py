"""The live map in cluster mode, on a real nats-server: the edge workers send their owned tiles'
road users (``live.{tenant}.{tile}``, core NATS), the centre tier merges them and serves them
through the same ``/api/participants`` and tick stream the single process serves its scene on.

- two stream-clocked workers owning one tile each: every road user is listed once, where its
  frames put it, each tile sent by its owner only (a car in the other's halo is not sent
  twice); once the workers stop sending, the snapshots go stale and the map empties;
- a tile whose snapshots stop goes after the staleness bound while a tile still sending stays;
- a message on the live subjects that is no snapshot is counted and dead-lettered, and the
  centre goes on serving the good tiles.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import nats
import pytest
from fastapi.testclient import TestClient

from v2xcloud import processes
from v2xcloud.api import ApiSettings, create_app
from v2xcloud.api.runtime_live import RuntimeLive
from v2xcloud.cli._platform import Platform
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.geo import LocalFrame
from v2xcloud.model import DropReason, ParticipantKind, ParticipantSource, ParticipantState
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.store import DuckDbStore
from v2xcloud.twin.testing import bsm_at

pytestmark = pytest.mark.timeout(240)

ADMIN = "a" * 24
FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)
ORIGIN = (FRAME.origin_lat_deg, FRAME.origin_lon_deg)


class _Centre:
    """``serve --role centre`` in-process: the platform reading the backbone, the serve loop's
    ``RuntimeLive`` over the workers' live map (as ``cli.serve_commands`` wires it), the API."""

    def __init__(self, url: str, *, stale_ms: int = 2000) -> None:
        self.remote = RemoteResults()
        self.runtime = Runtime(frame=FRAME, apps=[self.remote], detectors=(), clock=SystemClock())
        self.platform = Platform(
            self.runtime,
            DeviceRegistry(),
            nats_urls=[url],
            role="centre",
            remote=self.remote,
            live_stale_ms=stale_ms,
        )
        self.platform.start()
        assert self.platform.live_map is not None
        self.map = self.platform.live_map
        self.live = RuntimeLive(
            self.runtime, before_tick=self.platform.before_tick, participants=self.map
        )
        app = create_app(
            live=self.live,
            store=DuckDbStore(data_dir=None),
            settings=ApiSettings(admin_token=ADMIN),
            devices=self.platform,
        )
        self.api = TestClient(app, headers={"Authorization": f"Bearer {ADMIN}"})
        self.api.__enter__()  # the app's lifespan: the tick stream's hub runs

    def participants(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = self.api.get("/api/participants").json()
        return rows

    def close(self) -> None:
        self.api.__exit__(None, None, None)
        self.platform.stop()


@pytest.fixture()
def server() -> Iterator[NatsServer]:
    with NatsServer(name="live0") as s:
        yield s


def _until(predicate: Callable[[], bool], step: Callable[[], object], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        step()
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _tile(x: float, y: float) -> str:
    lat, lon = FRAME.to_wgs84(x, y)
    return tile_of(float(lat), float(lon))


def _border_y() -> float:
    """The y (m) of a tile border south of the origin: north of it one tile, south another."""
    first = _tile(0.0, 0.0)
    for k in range(0, 2000):
        if _tile(0.0, float(-k)) != first:
            return float(-k) + 0.5
    raise AssertionError("no tile border within 2 km")


def _cars(y_border: float) -> dict[str, tuple[float, float]]:
    """id -> (x, y) at the first tick: three north of the border, three south; one on each
    side only 15 m from it (in the other worker's halo: both read its frames)."""
    north = [15.0, 80.0, 150.0]
    south = [-15.0, -90.0, -160.0]
    cars = {f"{k + 1:016x}": (10.0 * k, y_border + dy) for k, dy in enumerate(north)}
    cars |= {f"{k + 11:016x}": (10.0 * k, y_border + dy) for k, dy in enumerate(south)}
    return cars


def _latlon(x: float, y: float) -> tuple[float, float]:
    lat, lon = FRAME.to_wgs84(x, y)
    return float(lat), float(lon)


def test_centre_lists_every_workers_road_users_once(server: NatsServer, tmp_path: Path) -> None:
    y0 = _border_y()
    tile_n, tile_s = _tile(0.0, y0 + 1), _tile(0.0, y0 - 1)
    cars = _cars(y0)
    assert {_tile(x, y) for x, y in cars.values()} == {tile_n, tile_s}
    procs = [
        WorkerProcess(
            urls=[server.url],
            worker_id=f"w{i}",
            origin=ORIGIN,
            clock="stream",
            log_path=str(tmp_path / f"w{i}.log"),
        ).start()
        for i in range(2)
    ]
    centre = _Centre(server.url)
    bench: ClusterPlatform | None = None
    try:
        bench = ClusterPlatform(urls=[server.url], workers=2, message_set="csae2020", home=ORIGIN)
        owners = bench.prepare([tile_n, tile_s])
        assert owners[tile_n] != owners[tile_s]
        t0 = int(time.time() * 1000) // 1000 * 1000
        speed = 2.0  # m/s north
        for k in range(11):  # 1 s of 100 ms ticks: snapshots at t0, t0 + 500, t0 + 1000
            t = t0 + 100 * k
            for i, (pid, (x, y)) in enumerate(cars.items()):
                bsm = bsm_at(
                    pid, x_m=x, y_m=y + speed * k / 10, t_ms=t, speed_mps=speed, frame=FRAME
                )
                raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
                bench.ingest_frame(raw, received_at_ms=t, source=f"obu-{i}")
            bench.tick(t)
        ids = set(cars)
        last = t0 + 1000

        streamed: set[str] = set()

        def sent_last() -> bool:
            rows = centre.participants()
            return {r["id"] for r in rows} == ids and all(r["timestamp_ms"] == last for r in rows)

        with centre.api.websocket_connect(f"/api/stream?token={ADMIN}") as ws:

            def step() -> None:  # a tick, and its frame on the stream
                centre.live.step()
                frame = json.loads(ws.receive_bytes())
                streamed.update(p["id"] for p in frame.get("participants", ()))

            assert _until(sent_last, step, 15), (
                centre.participants(),
                centre.platform.stats()["centre"]["live"],
            )
        assert streamed == ids  # the tick stream carries them too (the same LiveSource)
        rows = centre.participants()
        assert sorted(r["id"] for r in rows) == sorted(ids)  # each once
        for row in rows:
            x, y = cars[str(row["id"])]
            # where its last frame (t0 + 1 s) put it
            want_e, want_n = FRAME.to_local(*_latlon(x, y + speed))
            east_m, north_m = FRAME.to_local(float(row["lat_deg"]), float(row["lon_deg"]))
            assert abs(east_m - want_e) < 0.5 and abs(north_m - want_n) < 0.5, row
            assert row["speed_mps"] == pytest.approx(speed, abs=0.1)
        # each tile from its owner; no road user sent by two workers (not the halo's)
        assert centre.map.tiles() == owners
        live_stats = centre.platform.stats()["centre"]["live"]
        assert live_stats.get("duplicates", 0) == 0, live_stats
        # the workers stop sending (no more ticks): past the bound the map is empty
        assert _until(lambda: centre.participants() == [], centre.live.step, 10)
        assert centre.map.stats()["stale"] == 2
    finally:
        centre.close()
        if bench is not None:
            bench.close()
        processes.stop_all([p.proc for p in procs if p.proc is not None], name="worker")
    for i in range(2):  # each worker sent its one tile's snapshots
        log = (tmp_path / f"w{i}.log").read_text()
        stats = json.loads([line for line in log.splitlines() if line.startswith("{")][-1])
        assert stats["counts"]["live_snapshots"] == 3, stats["counts"]


def _car(pid: str, t_ms: int) -> ParticipantState:
    return ParticipantState(
        id=pid,
        kind=ParticipantKind.VEHICLE,
        source=ParticipantSource.BSM,
        timestamp_ms=t_ms,
        lat_deg=28.19,
        lon_deg=112.97,
        speed_mps=3.0,
    )


def _send(url: str, items: list[tuple[str, bytes]]) -> None:
    """Publish on core NATS and flush (what a worker's ``_send_live`` does)."""

    async def run() -> None:
        nc = await nats.connect(servers=[url])
        try:
            for subject, data in items:
                await nc.publish(subject, data)
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(run())


def _snapshot(tile: str, t_ms: int, worker: str, pid: str) -> bytes:
    snap = backbone.TileSnapshot(
        tile=tile, at_ms=t_ms, worker=worker, participants=(_car(pid, t_ms),)
    )
    return msgspec.json.encode(snap)


def test_a_tile_that_stops_sending_goes_stale(server: NatsServer) -> None:
    centre = _Centre(server.url, stale_ms=1000)
    try:
        quiet, busy = backbone.live_subject("acme", "0001"), backbone.live_subject("acme", "0002")
        start = time.monotonic()
        _send(
            server.url,
            [(quiet, _snapshot("0001", 0, "w1", "q")), (busy, _snapshot("0002", 0, "w2", "b"))],
        )
        assert _until(
            lambda: {r["id"] for r in centre.participants()} == {"q", "b"}, centre.live.step, 10
        ), centre.platform.stats()["centre"]["live"]
        k = 0
        while time.monotonic() - start < 3.0:  # the busy tile keeps sending at 2 Hz
            k += 1
            _send(server.url, [(busy, _snapshot("0002", 500 * k, "w2", "b"))])
            centre.live.step()
            time.sleep(0.3)
        centre.live.step()
        assert [r["id"] for r in centre.participants()] == ["b"]
        assert centre.map.stats()["stale"] == 1 and centre.map.tiles() == {"0002": "w2"}
    finally:
        centre.close()


def test_a_malformed_snapshot_is_counted_and_dead_lettered(server: NatsServer) -> None:
    centre = _Centre(server.url)
    try:
        good = backbone.live_subject("acme", "0002")
        wrong_type = msgspec.json.encode({"tile": "0003", "at_ms": "soon", "participants": []})
        _send(
            server.url,
            [
                (backbone.live_subject("acme", "0001"), b"{not json"),
                (backbone.live_subject("acme", "0003"), wrong_type),
                (backbone.live_subject("acme", "0004"), _snapshot("0005", 0, "w1", "x")),
                (good, _snapshot("0002", 0, "w2", "b")),
            ],
        )
        assert _until(
            lambda: [r["id"] for r in centre.participants()] == ["b"], centre.live.step, 10
        )
        assert _until(lambda: len(centre.runtime.dead_letters.recent()) >= 3, centre.live.step, 5)
        letters = centre.runtime.dead_letters.recent()
        assert {d.reason for d in letters} == {DropReason.BAD_PAYLOAD}
        assert sorted(str(d.where) for d in letters) == [
            "live.acme.0001",
            "live.acme.0003",
            "live.acme.0004",
        ]
        assert any("at_ms" in d.detail for d in letters)  # says what is wrong
        stats = centre.platform.stats()["centre"]
        assert stats["live"]["bad_payload"] == 2 and stats["live"]["wrong_tile"] == 1
        assert stats["live"]["received"] == 1
        assert stats["consumers"]["core"] == {"handled": 4}  # none crashed the reader
    finally:
        centre.close()
