"""Misbehaviour detection in the edge workers on a real nats-server: a sender that jumps about
in one worker's tile is flagged by that worker, which publishes one report on
``V2X_MISBEHAVIOUR``; the centre records it; when the sender then shows up in the other
worker's tile (two tiles away: that worker never read its misbehaving reports), its reports
are refused there because of the published flag."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from v2xcloud import processes
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.gateways.nats import ResultFeed
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.tile_worker import WorkerProcess
from v2xcloud.model import MisbehaviourReport
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.remote import RemoteResults
from v2xcloud.runtime.tiles import tile_of
from v2xcloud.sim.cluster import ClusterPlatform
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

from ._streams import read_stream, worker_stats

pytestmark = pytest.mark.timeout(180)

LIAR = "00000000000000c3"
HONEST = "00000000000000d4"


def _tile(x: float) -> str:
    lat, lon = TEST_FRAME.to_wgs84(x, 0.0)
    return tile_of(float(lat), float(lon))


def _tiles_two_apart() -> tuple[float, float]:
    """x of the middle of a tile and of the tile two further east (more than a halo apart)."""
    xs, last = [], _tile(0.0)
    for x in range(0, 3000, 5):
        if _tile(float(x)) != last:
            xs.append(float(x))
            last = _tile(float(x))
    a0, a1, _, b1 = xs[:4]  # tile A = [a0, a1), then one tile between, tile B = [b0, b1)
    return (a0 + a1) / 2, (xs[2] + b1) / 2


def test_a_flag_raised_in_one_tile_is_published_recorded_and_followed_in_another(
    tmp_path: Path,
) -> None:
    x_a, x_b = _tiles_two_apart()
    tile_a, tile_b = _tile(x_a), _tile(x_b)
    origin = (TEST_FRAME.origin_lat_deg, TEST_FRAME.origin_lon_deg)
    logs = tmp_path
    remote = RemoteResults()
    centre = Runtime(frame=TEST_FRAME, apps=[remote], detectors=())
    with NatsServer(name="m0") as server:
        procs = [
            WorkerProcess(
                urls=[server.url],
                worker_id=f"w{i}",
                origin=origin,
                clock="stream",
                log_path=str(logs / f"w{i}.log"),
                extra=["--misbehaviour-detection"],
            )
            for i in range(2)
        ]
        feed = ResultFeed(
            [server.url],
            handlers={backbone.MISBEHAVIOUR: remote.put_misbehaviour},
            on_bad=remote.put_dead_letter,
            durable_prefix="test-centre",
        )
        try:
            for proc in procs:
                proc.start()
            feed.start()
            bench = ClusterPlatform(
                urls=[server.url], workers=2, message_set="csae2020", home=origin
            )

            def send(pid: str, x: float, y: float, t: int, v: float) -> None:
                bsm = bsm_at(pid, x_m=x, y_m=y, t_ms=t, speed_mps=v, heading_deg=0.0)
                raw = encode_model(bsm, message_set=MessageSet.CSAE2020)
                bench.ingest_frame(raw, received_at_ms=t, source=f"obu-{pid[-2:]}")

            try:
                owners = bench.prepare([tile_a, tile_b])
                assert owners[tile_a] != owners[tile_b]
                t0 = int(time.time() * 1000) // 1000 * 1000
                for k in range(12):  # in tile A: 40 m jumps every 100 ms at 5 m/s
                    t = t0 + 100 * k
                    send(LIAR, x_a, 40.0 * (k % 2), t, 5.0)
                    send(HONEST, x_b, 0.0, t, 0.0)
                    bench.tick(t)
                deadline = time.monotonic() + 10
                while not read_stream(server.url, backbone.MISBEHAVIOUR):
                    assert time.monotonic() < deadline, "no flag published"
                    time.sleep(0.1)
                time.sleep(1.5)  # the other worker's flag reader takes it in
                for k in range(12, 32):  # then in tile B, standing behind the honest car
                    t = t0 + 100 * k
                    send(LIAR, x_b, -8.0, t, 0.0)
                    send(HONEST, x_b, 0.0, t, 0.0)
                    bench.tick(t)
            finally:
                bench.close()
            deadline = time.monotonic() + 10
            while not centre.misbehaviour_reports() and time.monotonic() < deadline:
                remote.feed(centre, int(time.time() * 1000))
                time.sleep(0.05)
        finally:
            feed.stop()
            processes.stop_all([p.proc for p in procs if p.proc is not None], name="worker")
        published = read_stream(server.url, backbone.MISBEHAVIOUR)

    owner_a, owner_b = owners[tile_a], owners[tile_b]
    [msg] = published  # one report, from tile A's owner
    assert msg.subject == f"mbr.default.{tile_a}"
    assert msg.headers["V2X-Worker"] == owner_a
    report = msgspec.json.decode(msg.data, type=MisbehaviourReport)
    assert report.sender_id == LIAR
    assert [r.sender_id for r in centre.misbehaviour_reports()] == [LIAR]  # the centre has it

    a, b = worker_stats(logs / f"{owner_a}.log"), worker_stats(logs / f"{owner_b}.log")
    assert a["counts"]["flags"] == 1 and a["misbehaviour"]["flagged"] == 1
    # tile B's worker never judged the liar itself, yet refused every report of it
    assert b["misbehaviour"].get("flagged", 0) == 0
    assert b["misbehaviour"]["remote_refused"] >= 15
    assert b["dead_letters"].get("misbehaving", 0) == b["misbehaviour"]["remote_refused"]
    assert b["counts"].get("flags", 0) == 0
