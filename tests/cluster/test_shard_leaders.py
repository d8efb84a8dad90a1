"""The frame-shard streams' leads spread over the servers (``gateways.nats.spread_leaders``).

R3 on three servers puts a replica of every shard stream on every server, but the leads
fall where the elections put them: one server can lead every shard and take all of their
writes' ordering. The plan (``plan_leader_moves``) is checked on its own; on a real 3-server
cluster a sharded gateway publisher spreads the leads of shards all led by one server to at
most one apart, and spreads them again after a server leading two of them was killed and
restarted; three passes at once (three gateways) end even, each lead moved once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import nats.errors
import nats.js.errors
import pytest

from v2xcloud.gateways.nats import (
    BackbonePublisher,
    LeaderMove,
    LeaderPlacement,
    connect,
    ensure_streams,
    plan_leader_moves,
    spread_leaders,
    stream_leaders,
)
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.runtime import backbone

pytestmark = pytest.mark.timeout(300)

ALL = frozenset({"n0", "n1", "n2"})
SHARDS = [f"13{a}{b}" for a in "01" for b in "012"]  # six zoom-4 shards


def _leads(placements: dict[str, LeaderPlacement], moves: list[LeaderMove]) -> Counter[str]:
    leader = {s: p.leader for s, p in placements.items()}
    for move in moves:
        assert leader[move.stream] == move.source
        assert move.target in placements[move.stream].eligible
        leader[move.stream] = move.target
    return Counter(v for v in leader.values() if v is not None)


def test_the_plan_spreads_six_leads_of_one_server_two_each() -> None:
    placements = {s: LeaderPlacement("n0", ALL) for s in SHARDS}
    moves = plan_leader_moves(placements)
    assert _leads(placements, moves) == {"n0": 2, "n1": 2, "n2": 2}
    assert len(moves) == 4  # the fewest: every move takes one lead off the busiest
    assert plan_leader_moves(placements) == moves  # one snapshot, one plan


def test_the_plan_leaves_even_leads_alone() -> None:
    servers = ["n0", "n1", "n2", "n0", "n1", "n2"]
    even = {s: LeaderPlacement(n, ALL) for s, n in zip(SHARDS, servers, strict=True)}
    assert plan_leader_moves(even) == []
    even[SHARDS[5]] = LeaderPlacement("n0", ALL)  # 3/2/1: one apart at most is not the case
    assert plan_leader_moves(even) == [LeaderMove(SHARDS[0], "n0", "n2")]


def test_the_plan_moves_no_lead_to_a_replica_catching_up_nor_a_stream_electing() -> None:
    behind = frozenset({"n0", "n1"})  # n2 restarted, its replicas not current yet
    placements = {s: LeaderPlacement("n0", behind) for s in SHARDS[:4]}
    placements[SHARDS[4]] = LeaderPlacement(None, ALL)  # electing: no lead to move
    moves = plan_leader_moves(placements)
    assert {m.target for m in moves} == {"n1"}
    assert {m.stream for m in moves} <= set(SHARDS[:4])
    assert _leads(placements, moves) == {"n0": 2, "n1": 2}


def test_the_plan_narrows_what_the_replica_sets_allow() -> None:
    # R2 streams on n0+n1 only cannot give n2 a lead; n2's own stream keeps it
    placements = {s: LeaderPlacement("n0", frozenset({"n0", "n1"})) for s in SHARDS[:4]}
    placements[SHARDS[4]] = LeaderPlacement("n2", frozenset({"n2", "n1"}))
    leads = _leads(placements, plan_leader_moves(placements))
    assert leads == {"n0": 2, "n1": 2, "n2": 1}


# -- on a real 3-server cluster ----------------------------------------------------------


async def _make_shards(urls: list[str]) -> None:
    nc = await connect(urls, name="test-shards")
    try:
        specs = [backbone.shard_spec(s, servers=3) for s in SHARDS]
        await ensure_streams(nc.jetstream(), specs, placement_wait_s=30.0)
        await _all_led_by(nc, "n0")
    finally:
        await nc.close()


async def _all_led_by(nc: object, server: str, timeout_s: float = 30.0) -> None:
    """Hand every shard's lead to ``server`` (preferred stepdowns): the worst spread."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        placements = await stream_leaders(nc)  # type: ignore[arg-type]
        if len(placements) == len(SHARDS) and all(p.leader == server for p in placements.values()):
            return
        for stream, p in placements.items():
            if p.leader not in (None, server) and server in p.eligible:
                await nc.request(  # type: ignore[attr-defined]
                    f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}",
                    b'{"placement": {"preferred": "%s"}}' % server.encode(),
                    timeout=5,
                )
        await asyncio.sleep(0.3)
    raise AssertionError(f"could not put every shard's lead on {server}")


def _spread(urls: list[str], *, want: int, timeout_s: float) -> Counter[str]:
    """Wait until the shards' leads are on ``want`` servers at most one apart; the leads."""

    async def run() -> Counter[str]:
        nc = await connect(urls, name="test-watch")
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    placements = await stream_leaders(nc)
                except nats.errors.TimeoutError:  # the meta group electing (a server killed)
                    placements = {}
                leads = Counter(p.leader for p in placements.values() if p.leader)
                if (
                    sum(leads.values()) == len(SHARDS)
                    and len(leads) == want
                    and max(leads.values()) - min(leads.values()) <= 1
                ):
                    return leads
                if time.monotonic() > deadline:
                    raise AssertionError(f"leads not spread within {timeout_s} s: {leads}")
                await asyncio.sleep(0.2)
        finally:
            await nc.close()

    return asyncio.run(run())


def test_a_sharded_gateway_spreads_the_leads_and_again_after_a_server_restart() -> None:
    with NatsCluster(3) as cluster:
        asyncio.run(_make_shards(cluster.urls))
        publisher = BackbonePublisher(cluster.urls, shard_zoom=4, leader_check_s=0.5).start()
        try:
            assert _spread(cluster.urls, want=3, timeout_s=20.0) == {"n0": 2, "n1": 2, "n2": 2}
            # n1 (leading two shards) killed: its leads go to the other two ...
            server = cluster.servers[1]
            server.kill()
            leads = _spread(cluster.urls, want=2, timeout_s=30.0)
            assert set(leads) == {"n0", "n2"}
            # ... and back to it once it is up again and its replicas caught up
            server.start()
            assert _spread(cluster.urls, want=3, timeout_s=45.0) == {"n0": 2, "n1": 2, "n2": 2}
            assert publisher.stats()["leader_moves"] >= 6  # 4 at first, >= 2 after
        finally:
            publisher.stop()


def test_three_passes_at_once_spread_the_leads_moving_each_once() -> None:
    with NatsCluster(3) as cluster:
        asyncio.run(_make_shards(cluster.urls))

        async def three() -> list[Counter[str]]:
            ncs = [await connect(cluster.urls, name=f"gw{i}") for i in range(3)]
            try:
                return list(await asyncio.gather(*(spread_leaders(nc) for nc in ncs)))
            finally:
                for nc in ncs:
                    await nc.close()

        passes = asyncio.run(three())
        assert sum(p["moved"] for p in passes) == 4  # the plan's 4 moves, each made once
        assert _spread(cluster.urls, want=3, timeout_s=10.0) == {"n0": 2, "n1": 2, "n2": 2}
