"""``PubAcks`` against a real server: a batch's PubAcks in order, the stream's duplicates
flagged as ``JetStreamContext.publish`` flags them, a subject no stream takes and a reply
that never comes each fail their own message only, and KV puts through ``kv_subject`` are
read back by the bucket."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import KeyValueConfig, StorageType

from v2xcloud.gateways.nats import connect, ensure_streams
from v2xcloud.gateways.nats_server import NatsCluster
from v2xcloud.gateways.pub_acks import PubAcks, kv_subject
from v2xcloud.runtime import backbone

pytestmark = pytest.mark.timeout(60)


def test_a_batch_gets_each_message_its_own_answer() -> None:
    async def run(urls: list[str]) -> None:
        nc = await connect(urls, name="test")
        try:
            js = nc.jetstream()
            await ensure_streams(js, backbone.streams(servers=1))
            kv = await js.create_key_value(KeyValueConfig(bucket="B", storage=StorageType.MEMORY))
            acks = PubAcks(nc, timeout_s=2.0)
            subject = backbone.advisory_subject("t", "0123", "FCW")
            got = await acks.publish_all(
                [
                    (subject, b"1", {backbone.HEADER_MSG_ID: "a"}),
                    (subject, b"2", {backbone.HEADER_MSG_ID: "b"}),
                    ("nobody.listens", b"3", None),
                    (subject, b"1", {backbone.HEADER_MSG_ID: "a"}),  # the stream's duplicate
                    (kv_subject("B", "k.1"), b"v", None),
                ]
            )
            first, second, lost, again, put = got
            assert not isinstance(first, BaseException) and not first.duplicate
            assert not isinstance(second, BaseException) and second.seq == first.seq + 1
            assert first.stream == backbone.ADVISORIES
            assert isinstance(lost, nats.js.errors.NoStreamResponseError)
            assert not isinstance(again, BaseException) and again.duplicate
            assert again.seq == first.seq
            assert not isinstance(put, BaseException)
            assert (await kv.get("k.1")).value == b"v"
            assert await acks.publish_all([]) == []

            # no reply within the timeout: a core subscriber that never answers
            await nc.subscribe("silent.>", cb=_ignore)
            slow = PubAcks(nc, timeout_s=0.3)
            (late,) = await slow.publish_all([("silent.x", b"", None)])
            assert isinstance(late, nats.errors.TimeoutError)
            assert not slow._waiting  # nothing left behind for a late reply
        finally:
            await nc.close()

    with NatsCluster(1) as cluster:
        asyncio.run(run(cluster.urls))


async def _ignore(_msg: object) -> None:
    return None
