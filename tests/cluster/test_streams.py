"""The backbone's streams on a 3-server cluster: created R3 with the contract's settings, and
a later process told of fewer servers never lowers the replicas."""

from __future__ import annotations

import asyncio

import pytest

from v2xcloud.errors import GatewayError
from v2xcloud.gateways.nats import connect, ensure_streams
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.runtime import backbone

pytestmark = pytest.mark.timeout(90)


def test_streams_are_r3_and_not_lowered_by_a_smaller_view() -> None:
    async def run(urls: list[str]) -> list[tuple[str, int, float, list[str]]]:
        nc = await connect(urls, name="test")
        try:
            js = nc.jetstream()
            await ensure_streams(js, backbone.streams(servers=3, frames_max_age_s=120))
            await ensure_streams(js, backbone.streams(servers=1, frames_max_age_s=30))
            out = []
            for spec in backbone.streams(servers=3):
                info = await js.stream_info(spec.name)
                cfg = info.config
                out.append((spec.name, cfg.num_replicas or 1, cfg.max_age or 0.0, cfg.subjects))
            return out
        finally:
            await nc.close()

    with NatsCluster(3) as cluster:
        got = asyncio.run(run(cluster.urls))
    assert [(name, r) for name, r, _, _ in got] == [
        (s, 3)
        for s in (
            backbone.FRAMES,
            backbone.ADVISORIES,
            backbone.EVENTS,
            backbone.DELIVERIES,
            backbone.DEAD,
            backbone.TRAFFIC,
            backbone.MISBEHAVIOUR,
            backbone.EV,
        )
    ]
    assert got[0][2] == pytest.approx(30.0)  # the frames' window follows the last request
    assert [subjects for *_, subjects in got] == [
        ["v2x.>"],
        ["adv.>"],
        ["evt.>"],
        ["dlv.>"],
        ["dead.>"],
        ["trf.>"],
        ["mbr.>"],
        ["ev.>"],
    ]


def test_a_stream_is_placed_once_the_third_server_joins_and_named_when_it_does_not() -> None:
    """R3 on a cluster whose third server has not joined yet (a cluster forming: the meta
    leader finds no suitable peers). A create that cannot wait ends in a ``GatewayError``
    naming the stream; one that can is asked again until the server is in."""
    spec = backbone.StreamSpec("V2X_PLACEMENT", ("plc.>",), 60.0, 3, 60.0)
    other = backbone.StreamSpec("V2X_PLACEMENT_LATE", ("late.>",), 60.0, 3, 60.0)

    async def run(cluster: NatsCluster) -> tuple[int, str]:
        nc = await connect(cluster.urls[:2], name="test")
        try:
            js = nc.jetstream()
            with pytest.raises(GatewayError) as refused:
                await ensure_streams(js, [other], placement_wait_s=0.5)
            placing = asyncio.ensure_future(ensure_streams(js, [spec], placement_wait_s=30.0))
            await asyncio.sleep(1.0)
            assert not placing.done()  # waiting, not failed
            await asyncio.to_thread(cluster.servers[2].start)
            await asyncio.wait_for(placing, 30.0)
            info = await js.stream_info(spec.name)
            return info.config.num_replicas or 1, str(refused.value)
        finally:
            await nc.close()

    cluster = NatsCluster(3)
    try:
        for server in cluster.servers[:2]:
            server.start(wait=False)
        for server in cluster.servers[:2]:
            server.wait_healthy()
        replicas, refusal = asyncio.run(run(cluster))
    finally:
        cluster.stop()
    assert replicas == 3
    assert "V2X_PLACEMENT_LATE" in refusal and "no 3 servers online" in refusal
