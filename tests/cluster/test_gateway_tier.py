"""The gateway tier on a real nats-server: accepted frames reach V2X_FRAMES on their tile's
subject with the contract's headers, the scene stays empty, a dead letter reaches V2X_DEAD,
and a frame retried with the same id is stored once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import nats
import pytest

from v2xcloud.cli._platform import Platform
from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.base import InboundFrame
from v2xcloud.gateways.nats import BackbonePublisher, Outgoing, frame_of
from v2xcloud.gateways.nats_server import NatsServer
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import DeadLetter, Device, DeviceKind, DropReason
from v2xcloud.runtime import Runtime, backbone
from v2xcloud.runtime.clock import SystemClock
from v2xcloud.runtime.tiles import cell_of, tile_of
from v2xcloud.twin.testing import TEST_FRAME, bsm_at

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def server() -> Iterator[NatsServer]:
    with NatsServer(name="g0") as s:
        yield s


def _messages(url: str, stream: str, n: int) -> list[Any]:
    async def read() -> list[Any]:
        nc = await nats.connect(servers=[url])
        try:
            sub = await nc.jetstream().pull_subscribe(">", stream=stream)
            out: list[Any] = []
            deadline = time.monotonic() + 15  # a loaded machine: wait, bounded
            while len(out) < n and time.monotonic() < deadline:
                try:
                    out.extend(await sub.fetch(n - len(out), timeout=0.5))
                except TimeoutError:  # nats-py raises its own or asyncio's
                    continue
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def _frame(payload: bytes, device: str, t_ms: int) -> InboundFrame:
    return InboundFrame(
        payload=payload,
        device_id=device,
        device_kind=DeviceKind.OBU,
        message_type="BSM",
        transport="inproc",
        channel="test",
        received_at_ms=t_ms,
    )


def test_gateway_role_publishes_accepted_frames_by_tile(server: NatsServer) -> None:
    registry = DeviceRegistry()
    registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU, tenant="acme"))
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    platform = Platform(runtime, registry, nats_urls=[server.url], role="gateway")
    platform.start()
    try:
        now = int(time.time() * 1000)
        bsm = bsm_at("00000000000000a7", x_m=10.0, y_m=5.0, t_ms=now, speed_mps=8.0)
        good = encode_model(bsm, message_set=MessageSet.CSAE2020)
        platform.queue.put(_frame(good, "obu-1", now))
        platform.queue.put(_frame(b"\x01\x02", "obu-1", now + 1))  # does not decode
        platform.queue.put(_frame(good, "stranger", now + 2))  # unknown device
        platform.before_tick(now)
        runtime.tick(now)  # the tick hands its dead letters to the backbone
        deadline = time.monotonic() + 20
        while platform.publisher is not None and platform.publisher.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert len(runtime.scene) == 0  # the gateway runs no scene
        stats = platform.stats()["backbone"]
    finally:
        platform.stop()
    assert stats["acked"] == 3, stats  # the frame and two dead letters

    [msg] = _messages(server.url, backbone.FRAMES, 1)
    tile = tile_of(bsm.participant.lat_deg, bsm.participant.lon_deg)
    cell = cell_of(bsm.participant.lat_deg, bsm.participant.lon_deg)
    assert cell.startswith(tile) and len(cell) == 18  # filed in its zoom-18 cell
    assert msg.subject == f"v2x.acme.{tile}.{cell[16:]}.bsm"
    assert msg.data == good
    assert msg.headers[backbone.HEADER_MSG_ID] == backbone.frame_msg_id("obu-1", now, good)
    assert msg.headers[backbone.HEADER_FRAME] == "obu csae2020 auto"
    assert len(msg.headers) == 2  # every header is parsed by every worker for every frame
    back, message_set, fmt = frame_of(msg.subject, msg.headers, msg.data)
    assert (back.device_id, back.device_kind, back.received_at_ms) == ("obu-1", DeviceKind.OBU, now)
    assert (back.message_type, message_set, fmt) == ("BSM", "csae2020", "auto")

    dead = _messages(server.url, backbone.DEAD, 2)
    letters = {msgspec.json.decode(m.data, type=DeadLetter).reason: m.subject for m in dead}
    assert letters[DropReason.UNKNOWN_DEVICE] == "dead._.unknown_device"
    bad = [r for r in letters if r is not DropReason.UNKNOWN_DEVICE]
    assert len(bad) == 1 and letters[bad[0]] == f"dead.acme.{bad[0].value}"


def test_a_retried_publish_is_stored_once(server: NatsServer) -> None:
    publisher = BackbonePublisher([server.url]).start()
    try:
        headers = {backbone.HEADER_MSG_ID: "obu-1:5:abc"}
        for _ in range(3):
            assert publisher.submit(Outgoing("v2x.t.0.bsm", b"x", headers))
        deadline = time.monotonic() + 10
        while publisher.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stats = publisher.stats()
    finally:
        publisher.stop()
    assert (stats["acked"], stats["duplicates"]) == (1, 2)
    assert len(_messages(server.url, backbone.FRAMES, 3)) == 1


def test_a_full_publisher_refuses_and_the_gateway_dead_letters(server: NatsServer) -> None:
    publisher = BackbonePublisher([server.url], capacity=0).start()
    try:
        assert not publisher.submit(Outgoing("v2x.t.0.bsm", b"x", {}))
        assert publisher.stats()["refused"] == 1
    finally:
        publisher.stop()


def test_gateway_role_needs_nats() -> None:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    with pytest.raises(ConfigError, match="--nats"):
        Platform(runtime, DeviceRegistry(), role="gateway")


def test_gateway_sends_the_workers_new_warnings_down_to_the_vehicle(server: NatsServer) -> None:
    import paho.mqtt.client as mqtt

    from v2xcloud.gateways.broker import Mosquitto
    from v2xcloud.model import Advisory, AdvisoryLevel

    received: list[tuple[str, bytes]] = []
    with Mosquitto() as broker:
        registry = DeviceRegistry()
        registry.add(Device(device_id="obu-1", kind=DeviceKind.OBU, tenant="acme"))
        runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
        platform = Platform(
            runtime,
            registry,
            nats_urls=[server.url],
            role="gateway",
            mqtt_url=broker.url,
            mqtt_client_id="gw-test",
        )
        platform.start()
        car = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="obu-1")
        car.on_message = lambda c, u, msg: received.append((msg.topic, msg.payload))
        car.connect(broker.host, broker.port)
        car.subscribe("V2X/OBU/obu-1/ADVISORY/DOWN", qos=1)
        car.loop_start()
        try:
            now = int(time.time() * 1000)
            warning = Advisory(
                app="FCW", level=AdvisoryLevel.IMMINENT, ego_id="obu-1", other_id="x",
                issued_ms=now, expires_ms=now + 3000,
            )  # fmt: skip
            time.sleep(0.5)  # the subscription and the durable consumer are in place

            async def publish() -> None:
                nc = await nats.connect(servers=[server.url])
                try:
                    subject = backbone.delivery_subject("acme", "1321", "warning")
                    await nc.jetstream().publish(subject, msgspec.json.encode(warning))
                finally:
                    await nc.close()

            asyncio.run(publish())
            deadline = time.monotonic() + 15
            while not received and time.monotonic() < deadline:
                platform.before_tick(int(time.time() * 1000))
                time.sleep(0.05)
            stats = platform.stats()
        finally:
            car.loop_stop()
            car.disconnect()
            platform.stop()
    assert received, stats
    topic, body = received[0]
    assert topic == "V2X/OBU/obu-1/ADVISORY/DOWN"
    assert b"FCW" in body
    assert stats["warnings"]["to_downlink"] == 1


def test_gateway_refuses_the_bsms_of_senders_the_workers_flagged(server: NatsServer) -> None:
    from v2xcloud.model import MisbehaviourCheck, MisbehaviourReport

    liar, honest = "00000000000000a7", "00000000000000b8"
    registry = DeviceRegistry()
    for obu in ("obu-1", "obu-2"):
        registry.add(Device(device_id=obu, kind=DeviceKind.OBU, tenant="acme"))
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=(), clock=SystemClock())
    platform = Platform(runtime, registry, nats_urls=[server.url], role="gateway")
    platform.start()
    try:
        now = int(time.time() * 1000)
        report = MisbehaviourReport(
            sender_id=liar,
            flagged_at_ms=now - 1000,
            reason=MisbehaviourCheck.POSITION_CONSISTENCY,
            evidence=(),
        )

        async def publish() -> None:  # a worker's flag, published before the gateway looks
            nc = await nats.connect(servers=[server.url])
            try:
                subject = backbone.misbehaviour_subject("acme", "1321")
                await nc.jetstream().publish(subject, msgspec.json.encode(report))
            finally:
                await nc.close()

        asyncio.run(publish())
        deadline = time.monotonic() + 15
        while platform.flags is None or liar not in platform.flags:
            assert time.monotonic() < deadline, "the gateway never read the flag"
            platform.before_tick(int(time.time() * 1000))
            time.sleep(0.05)
        for pid, obu in ((liar, "obu-1"), (honest, "obu-2")):
            bsm = bsm_at(pid, x_m=10.0, y_m=5.0, t_ms=now, speed_mps=8.0)
            platform.queue.put(_frame(encode_model(bsm, message_set=MessageSet.CSAE2020), obu, now))
        platform.before_tick(now)
        runtime.tick(now)  # the tick hands its dead letters to the backbone
        deadline = time.monotonic() + 20
        while platform.publisher is not None and platform.publisher.waiting:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stats = platform.stats()
    finally:
        platform.stop()
    assert stats["flags"]["remote_refused"] == 1 and stats["flags"]["flagged_now"] == 1
    [frame] = _messages(server.url, backbone.FRAMES, 1)  # the honest car's only
    assert backbone.frame_source(frame.headers[backbone.HEADER_MSG_ID])[0] == "obu-2"
    [dead] = _messages(server.url, backbone.DEAD, 1)
    letter = msgspec.json.decode(dead.data, type=DeadLetter)
    assert letter.reason is DropReason.MISBEHAVING and liar in letter.detail
    assert letter.source == "obu-1"
