"""DNPW's long reach across a worker border (real nats-server and ``v2xcloud worker``
processes, stream-clocked): the library's ``dnpw_oncoming`` with a faster oncoming car, so
the warning starts ~300 m before the cars meet, shifted so that a tile border lies just ahead
of the car that signals to pass when it is warned: the oncoming car is then beyond the near
halo (``Reaches.near_m``) of the passer's worker, read only along the corridor ahead of the
passer (``Partners.AHEAD_OF_PASSER``). One worker per tile gives the warnings of one process
(within one tick), and the passer's worker did read a corridor."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pyproj import Geod

from v2xcloud.codec import Rejected, decode, message_set_of
from v2xcloud.gateways.nats_server import NatsCluster, find_nats_server
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.model import Advisory
from v2xcloud.runtime.tiles import TILE_ZOOM, reaches, reference_position, tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.sim.platform import Platform, runtime_platform
from v2xcloud.sim.result import RunConfig
from v2xcloud.sim.runner import model_encoder, run_scenario
from v2xcloud.sim.scenario import Scenario, load_scenario

from ._streams import worker_stats

pytestmark = pytest.mark.timeout(300)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")

LIBRARY = Path(__file__).resolve().parents[2] / "src/v2xcloud/sim/scenarios"
GEOD = Geod(ellps="WGS84")
ONCOMING_MPS = 33.0  # with the passer's 10 m/s: DNPW's 8 s is ~350 m
SIGNAL_AT_S = 3.0  # the passer signals early: warned once the oncoming car is 8 s away
BORDER_AHEAD_M = 10.0  # the tile border this far ahead of the passer when first warned
Row = tuple[str, str, str | None, int]


class _Recording:
    """A platform wrapper keeping each tick's advisories, the frames' tiles and the last
    position of every participant at each tick."""

    def __init__(self, inner: Platform, message_set: str) -> None:
        self.inner = inner
        self.ticks: dict[int, list[Row]] = {}
        self.places: set[tuple[float, float]] = set()
        self.where: dict[str, tuple[float, float]] = {}
        self.seen: dict[int, dict[str, tuple[float, float]]] = {}
        self._set = message_set_of(message_set)

    def ingest_frame(self, raw: bytes, **kw: Any) -> None:
        result = decode(raw, message_set=self._set, received_at_ms=kw["received_at_ms"])
        if not isinstance(result, Rejected):
            model = result.to_model()
            pos = reference_position(model)
            if pos is not None:
                self.places.add(pos)
            own = getattr(model, "participant", None)
            if own is not None:
                self.where[own.id] = (own.lat_deg, own.lon_deg)
        self.inner.ingest_frame(raw, **kw)

    def tick(self, now_ms: int) -> list[Advisory]:
        out = self.inner.tick(now_ms)
        self.ticks[now_ms] = sorted((a.app, a.ego_id, a.other_id, int(a.level)) for a in out)
        self.seen[now_ms] = dict(self.where)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _scenario(shift_lon_deg: float = 0.0) -> Scenario:
    sc = load_scenario(LIBRARY / "dnpw_oncoming.toml")
    vehicles = [
        msgspec.structs.replace(v, depart_speed_mps=ONCOMING_MPS) if v.id == "oncoming" else v
        for v in sc.vehicles
    ]
    actions = []
    for a in sc.actions:
        if a.target == "oncoming" and a.kind == "set_speed":
            a = msgspec.structs.replace(a, speed_mps=ONCOMING_MPS)
        if a.target == "ego" and a.kind == "signals" and a.at_s < 10.0:
            a = msgspec.structs.replace(a, at_s=SIGNAL_AT_S)
        actions.append(a)
    road = msgspec.structs.replace(sc.network, speed_mps=ONCOMING_MPS + 2.0)
    return msgspec.structs.replace(
        sc,
        network=road,
        vehicles=vehicles,
        actions=actions,
        duration_s=7.0,
        origin_lon_deg=sc.origin_lon_deg + shift_lon_deg,
    )


def _in_process(sc: Scenario, cfg: RunConfig) -> _Recording:
    platform, _ = runtime_platform(
        message_set=cfg.message_set,
        origin_lat_deg=sc.origin_lat_deg,
        origin_lon_deg=sc.origin_lon_deg,
    )
    rec = _Recording(platform, cfg.message_set)
    run_scenario(sc, config=cfg, platform=rec, encode=model_encoder(cfg.message_set))
    return rec


def _first_dnpw(rec: _Recording) -> tuple[int, str, str]:
    for t in sorted(rec.ticks):
        for app, ego, other, _level in rec.ticks[t]:
            if app == "DNPW" and other is not None:
                return t, ego, other
    raise AssertionError("dnpw_oncoming gave no DNPW warning")


def test_the_passers_worker_reads_the_oncoming_car_beyond_its_near_halo(tmp_path: Path) -> None:
    cfg = RunConfig()
    first = _in_process(_scenario(), cfg)
    t, ego, other = _first_dnpw(first)
    elat, elon = first.seen[t][ego]
    olat, olon = first.seen[t][other]
    assert olon > elon  # the passer heads east, the oncoming car comes from the east
    # shift the scene east so that a tile border lies BORDER_AHEAD_M ahead of the passer
    n = 1 << TILE_ZOOM
    ahead_lon, _, _ = GEOD.fwd(elon, elat, 90.0, BORDER_AHEAD_M)
    border = math.ceil((ahead_lon + 180.0) / 360.0 * n) / n * 360.0 - 180.0
    shift = border - ahead_lon
    _, _, gap_m = GEOD.inv(elon, elat, olon, olat)
    beyond = gap_m - BORDER_AHEAD_M
    assert beyond > reaches().near_m + 20.0, (gap_m, "the pair is within the near halo")

    # the same scene shifted east (its local frame too: the in-process answers are the same)
    sc = _scenario(shift)
    ref = first
    tiles = sorted({tile_of(lat, lon + shift) for lat, lon in first.places})
    ego_tile = tile_of(elat, elon + shift)
    assert tile_of(olat, olon + shift) != ego_tile  # the pair straddles the border

    logs = str(tmp_path)
    origin = (sc.origin_lat_deg, sc.origin_lon_deg)
    with NatsCluster(1) as cluster:
        procs = [
            WorkerProcess(
                urls=cluster.urls,
                worker_id=f"w{i}",
                origin=origin,
                clock="stream",
                log_path=f"{logs}/w{i}.log",
            ).start()
            for i in range(len(tiles))  # one tile each: the border is a worker border
        ]
        try:
            platform = ClusterPlatform(
                urls=cluster.urls, workers=len(tiles), message_set=cfg.message_set, home=origin
            )
            try:
                owners = platform.prepare(tiles)
                assert len(set(owners.values())) == len(tiles)
                got = _Recording(platform, cfg.message_set)
                run_scenario(sc, config=cfg, platform=got, encode=model_encoder(cfg.message_set))
            finally:
                platform.close()
        finally:
            for proc in procs:
                proc.stop()

    def dnpw(rec: _Recording) -> dict[int, set[Row]]:
        return {k: {r for r in v if r[0] == "DNPW"} for k, v in rec.ticks.items()}

    mine, theirs = dnpw(got), dnpw(ref)
    assert sum(map(len, theirs.values())) >= 5
    for a, b in ((mine, theirs), (theirs, mine)):
        for k, rows in a.items():
            near = b.get(k - 100, set()) | b.get(k, set()) | b.get(k + 100, set())
            assert rows <= near, f"tick {k}: {sorted(rows - near)} not within one tick"
    passer_worker = owners[ego_tile]
    log = Path(f"{logs}/{passer_worker}.log").read_text()
    stats = worker_stats(log)
    assert stats["counts"].get("corridor_reads", 0) >= 1, stats["counts"]
