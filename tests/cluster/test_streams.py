"""The backbone's streams on a 3-server cluster: created R3 with the contract's settings, and
a later process told of fewer servers never lowers the replicas."""

from __future__ import annotations

import asyncio

import pytest

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
